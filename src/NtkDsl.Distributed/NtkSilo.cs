using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NtkDsl.Cpu;
using Orleans.Configuration;

namespace NtkDsl.Distributed;

/// <summary>Settings of a silo's tile workers.</summary>
public sealed record NtkSiloOptions
{
    /// <summary>
    /// Bytes the silo may spend on tiles: the estimated bytes of one tile (<c>TiledNtk.EstimateTileBytes</c>, or the
    /// infinite-width estimate) times <see cref="MaxConcurrentTiles"/>, plus the job's inputs and parameters. A job
    /// whose tiles need more is refused before any tile runs. Infinite-width tiles of conv nets give half a tile's share of
    /// it (at most the single-process default of 256 MiB) to their position-pair buffers. Default 1 GiB.
    /// </summary>
    public long MemoryBudgetBytes { get; init; } = 1L << 30;

    /// <summary>Tiles computed at once on this silo (others queue). Default 1.</summary>
    public int MaxConcurrentTiles { get; init; } = 1;

    /// <summary>Threads per tile; 0 (default) uses every core. Sets the process's <see cref="CpuSettings.MaxDegreeOfParallelism"/>.</summary>
    public int ThreadsPerTile { get; init; }

    /// <summary>Jobs whose data the silo keeps (least recently used dropped first; a dropped job is sent again when needed). Default 2.</summary>
    public int MaxCachedJobs { get; init; } = 2;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MemoryBudgetBytes, 1, nameof(MemoryBudgetBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentTiles, 1, nameof(MaxConcurrentTiles));
        ArgumentOutOfRangeException.ThrowIfNegative(ThreadsPerTile, nameof(ThreadsPerTile));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCachedJobs, 1, nameof(MaxCachedJobs));
    }
}

/// <summary>
/// Hosting: your program is the silo. <see cref="RunAsync"/> runs one with your networks until the process is stopped;
/// <see cref="AddNtkWorkers"/> adds the tile workers to a silo you configure yourself (or to a test cluster).
/// </summary>
public static class NtkSilo
{
    /// <summary>Largest message (a job's inputs, a tile's values) silos and clients accept: 2 GiB - 1.</summary>
    internal const int MaxMessageBytes = int.MaxValue;

    /// <summary>Adds the tile worker grain, <paramref name="networks"/> and the silo service <see cref="NtkSiloWorkers"/> to a silo.</summary>
    /// <param name="silo">The silo builder (inside <c>UseOrleans</c>, or a test cluster's configurator).</param>
    /// <param name="networks">Registers the networks this silo computes, e.g. <c>n => n.Add&lt;MyNet&gt;()</c>.</param>
    /// <param name="options">Memory budget, concurrency, threads.</param>
    public static ISiloBuilder AddNtkWorkers(this ISiloBuilder silo, Action<NtkNetworks> networks, NtkSiloOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(networks);
        options ??= new NtkSiloOptions();
        options.Validate();
        var registry = new NtkNetworks();
        networks(registry);
        if (options.ThreadsPerTile > 0) CpuSettings.MaxDegreeOfParallelism = options.ThreadsPerTile;
        silo.Services.AddSingleton(registry).AddSingleton(options).AddSingleton<NtkSiloWorkers>();
        silo.Configure<SiloMessagingOptions>(o => o.MaxMessageBodySize = MaxMessageBytes);
        return silo;
    }

    /// <summary>
    /// Runs a silo with <paramref name="networks"/> until the process is asked to stop (Ctrl+C, SIGTERM) or
    /// <paramref name="cancellation"/> fires.
    /// </summary>
    /// <param name="clustering">How the silo finds the cluster: <see cref="Loopback"/> for development on one machine, or your
    /// membership provider, e.g. <c>s => s.UseAdoNetClustering(...).ConfigureEndpoints(...)</c>.</param>
    /// <param name="networks">Registers the networks, e.g. <c>n => n.Add&lt;MyNet&gt;()</c>.</param>
    /// <param name="options">Memory budget, concurrency, threads.</param>
    /// <param name="cancellation">Stops the silo.</param>
    public static async Task RunAsync(Action<ISiloBuilder> clustering, Action<NtkNetworks> networks, NtkSiloOptions? options = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(clustering);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            clustering(silo);
            silo.AddNtkWorkers(networks, options);
        });
        using var host = builder.Build();
        await host.RunAsync(cancellation);
    }

    /// <summary>
    /// Development clustering on 127.0.0.1 (Orleans' <c>UseLocalhostClustering</c>): silo <paramref name="index"/> listens on
    /// <paramref name="siloPort"/> + index for silos and <paramref name="gatewayPort"/> + index for clients; silo 0 is the
    /// primary, which holds the membership table (it must stay up; use a real membership provider where silos may all fail).
    /// </summary>
    public static Action<ISiloBuilder> Loopback(int index, int siloPort = 11111, int gatewayPort = 30000)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return silo => silo.UseLocalhostClustering(siloPort + index, gatewayPort + index, new IPEndPoint(IPAddress.Loopback, siloPort));
    }
}
