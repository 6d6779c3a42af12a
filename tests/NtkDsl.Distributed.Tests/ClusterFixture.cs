using NtkDsl.Tiling;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace NtkDsl.Distributed.Tests;

[Network(Inputs = 6, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(24), Relu]
[Dense(24), Erf]
[Dense(2)]
public partial class ClusterNet;

/// <summary>A conv net with average pooling: its infinite-width kernels need every pair of positions.</summary>
[Network(Channels = 2, Height = 6, Width = 6, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(6, 3, Padding = Padding.Same), Relu]
[AvgPool(2)]
[Conv(6, 2), Erf]
[GlobalAvgPool]
[Dense(2)]
public partial class ClusterConvNet;

/// <summary>Declared here but registered on no silo: the cluster must refuse it.</summary>
[Network(Inputs = 6)]
[Dense(8), Relu]
[Dense(1)]
public partial class UnhostedNet;

/// <summary>Three in-process silos hosting <see cref="ClusterNet"/> and <see cref="ClusterConvNet"/> with a 64 MiB budget, and fast failure detection.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const long SiloBudget = 64L << 20;

    public TestCluster Cluster { get; } = Build();

    public static TestCluster Build() => new TestClusterBuilder(3)
        .AddSiloBuilderConfigurator<SiloConfigurator>()
        .AddClientBuilderConfigurator<ClientConfigurator>()
        .Build();

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    public static Matrix<T> Random<T>(int rows, int cols, int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        var m = new Matrix<T>(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = T.CreateTruncating(2 * random.NextDouble() - 1);
        return m;
    }

    /// <summary>The silo services of the live silos (tile and upload counters).</summary>
    public static IReadOnlyList<NtkSiloWorkers> Workers(TestCluster cluster) =>
        cluster.GetActiveSilos().Select(s => cluster.GetSiloServiceProvider(s.SiloAddress).GetRequiredService<NtkSiloWorkers>()).ToList();

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddNtkWorkers(n => n.Add<ClusterNet>().Add<ClusterConvNet>(), new NtkSiloOptions { MemoryBudgetBytes = SiloBudget, ThreadsPerTile = 1 });
            siloBuilder.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 1;
                o.NumVotesForDeathDeclaration = 1;
            });
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) => clientBuilder.AddNtkDefaults();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

/// <summary>An IProgress that reports on the driver's own thread (System.Progress posts to the thread pool).</summary>
public sealed class InlineProgress(Action<NtkClusterProgress> report) : IProgress<NtkClusterProgress>
{
    public void Report(NtkClusterProgress value) => report(value);
}
