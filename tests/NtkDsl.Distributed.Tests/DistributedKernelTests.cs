using NtkDsl.Cpu;
using NtkDsl.Tiling;

namespace NtkDsl.Distributed.Tests;

/// <summary>Kernels computed on three silos equal the single-process computation bit for bit.</summary>
[Collection(ClusterCollection.Name)]
public class DistributedKernelTests(ClusterFixture fixture)
{
    public static TheoryData<NtkMode, bool> EmpiricalCases => new() { { NtkMode.Trace, true }, { NtkMode.Full, true }, { NtkMode.Diagonal, false }, { NtkMode.Trace, false } };

    [Theory]
    [MemberData(nameof(EmpiricalCases))]
    public async Task Empirical_ntk_equals_single_process_TiledNtk_bit_for_bit(NtkMode mode, bool symmetric)
    {
        var theta = ClusterNet.InitializeParameters<double>(5);
        var x1 = ClusterFixture.Random<double>(37, ClusterNet.InputSize, 1);
        var x2 = symmetric ? null : ClusterFixture.Random<double>(23, ClusterNet.InputSize, 2);
        var tiling = new TiledNtkOptions { TileRows = 8 };
        var expected = CpuNetwork<ClusterNet, double>.Ntk(theta, x1, x2, mode); // only for the shape
        TiledNtk.Compute<ClusterNet, double>(theta, x1, x2, mode, expected, tiling);

        var plan = TiledNtk.Plan<ClusterNet, double>(x1.Rows, (x2 ?? x1).Rows, symmetric, mode, tiling);
        var job = NtkJob.Empirical<ClusterNet, double>(theta, x1, x2, mode, plan);
        var actual = new Matrix<double>(expected.Rows, expected.Cols);
        var run = await NtkCluster.ComputeAsync(fixture.Cluster.Client, job, actual);

        Assert.Equal(expected.Data, actual.Data);
        Assert.Equal(plan.Tiles.Count(), run.TilesComputed);
        Assert.Equal(run.TilesComputed, run.TilesBySilo.Values.Sum());
    }

    [Fact]
    public async Task Float32_empirical_ntk_equals_single_process_bit_for_bit()
    {
        var theta = ClusterNet.InitializeParameters<float>(6);
        var x1 = ClusterFixture.Random<float>(30, ClusterNet.InputSize, 3);
        var tiling = new TiledNtkOptions { TileRows = 7 };
        var expected = new Matrix<float>(30, 30);
        TiledNtk.Compute<ClusterNet, float>(theta, x1, null, NtkMode.Trace, expected, tiling);
        var job = NtkJob.Empirical<ClusterNet, float>(theta, x1, null, NtkMode.Trace, TiledNtk.Plan<ClusterNet, float>(30, 30, true, NtkMode.Trace, tiling));
        var actual = new Matrix<float>(30, 30);
        await NtkCluster.ComputeAsync(fixture.Cluster.Client, job, actual);
        Assert.Equal(expected.Data, actual.Data);
    }

    [Theory]
    [InlineData(InfiniteWidthKernel.Ntk, true)]
    [InlineData(InfiniteWidthKernel.Nngp, true)]
    [InlineData(InfiniteWidthKernel.Ntk, false)]
    public async Task Infinite_width_kernel_equals_the_whole_single_process_kernel_bit_for_bit(InfiniteWidthKernel kernel, bool symmetric)
    {
        var x1 = ClusterFixture.Random<double>(29, ClusterNet.InputSize, 4);
        var x2 = symmetric ? null : ClusterFixture.Random<double>(19, ClusterNet.InputSize, 5);
        var whole = InfiniteWidth.Kernels(ClusterNet.Description, x1, x2);
        var expected = kernel == InfiniteWidthKernel.Ntk ? whole.Ntk : whole.Nngp;

        var plan = NtkTilePlan.Create(x1.Rows, (x2 ?? x1).Rows, 6, symmetric, mirrorLower: true);
        var job = NtkJob.InfiniteWidth<ClusterNet>(x1, x2, kernel, plan);
        var actual = new Matrix<double>(expected.Rows, expected.Cols);
        await NtkCluster.ComputeAsync(fixture.Cluster.Client, job, actual);

        Assert.Equal(expected.Data, actual.Data);
        // The generated member walks the same layers: the same numbers again.
        var generated = ClusterNet.InfiniteWidth(x1, x2);
        Assert.Equal((kernel == InfiniteWidthKernel.Ntk ? generated.Ntk : generated.Nngp).Data, actual.Data);
    }

    [Fact]
    public async Task Conv_net_kernels_equal_the_single_process_kernels_bit_for_bit()
    {
        var x1 = ClusterFixture.Random<double>(13, ClusterConvNet.InputSize, 21);
        var plan = NtkTilePlan.Create(13, 13, 4, symmetric: true, mirrorLower: true);

        // Infinite width: every position pair of the pooled state, in tiles on three silos.
        var whole = InfiniteWidth.Kernels(ClusterConvNet.Description, x1);
        var infinite = new Matrix<double>(13, 13);
        await NtkCluster.ComputeAsync(fixture.Cluster.Client, NtkJob.InfiniteWidth<ClusterConvNet>(x1, null, InfiniteWidthKernel.Ntk, plan), infinite);
        Assert.Equal(whole.Ntk.Data, infinite.Data);

        // Empirical NTK in full mode (both outputs).
        var theta = ClusterConvNet.InitializeParameters<double>(22);
        var tiling = new TiledNtkOptions { TileRows = 4 };
        var expected = new Matrix<double>(26, 26);
        TiledNtk.Compute<ClusterConvNet, double>(theta, x1, null, NtkMode.Full, expected, tiling);
        var empirical = new Matrix<double>(26, 26);
        var job = NtkJob.Empirical<ClusterConvNet, double>(theta, x1, null, NtkMode.Full, TiledNtk.Plan<ClusterConvNet, double>(13, 13, true, NtkMode.Full, tiling));
        await NtkCluster.ComputeAsync(fixture.Cluster.Client, job, empirical);
        Assert.Equal(expected.Data, empirical.Data);
    }

    [Fact]
    public async Task A_kernel_computed_twice_on_the_cluster_has_the_same_bytes()
    {
        var theta = ClusterNet.InitializeParameters<float>(8);
        var x1 = ClusterFixture.Random<float>(40, ClusterNet.InputSize, 12);
        var job = NtkJob.Empirical<ClusterNet, float>(theta, x1, null, NtkMode.Full, NtkTilePlan.Create(40, 40, 5, true, true));
        var (first, second) = (new Matrix<float>(80, 80), new Matrix<float>(80, 80));
        var runs = new[] { await NtkCluster.ComputeAsync(fixture.Cluster.Client, job, first), await NtkCluster.ComputeAsync(fixture.Cluster.Client, job, second) };
        Assert.Equal(first.Data, second.Data);
        Assert.All(runs, r => Assert.Equal(36, r.TilesComputed)); // random placement: a tile's two computations mostly ran on different silos
    }

    [Fact]
    public async Task Inputs_and_parameters_go_to_each_silo_once()
    {
        var theta = ClusterNet.InitializeParameters<double>(9);
        var x1 = ClusterFixture.Random<double>(64, ClusterNet.InputSize, 11);
        var job = NtkJob.Empirical<ClusterNet, double>(theta, x1, null, NtkMode.Trace, NtkTilePlan.Create(64, 64, 4, true, true));
        int loadedBefore = ClusterFixture.Workers(fixture.Cluster).Sum(w => w.JobsLoaded);
        var run = await NtkCluster.ComputeAsync(fixture.Cluster.Client, job, new Matrix<double>(64, 64), new NtkClusterOptions { MaxTilesInFlight = 12 });

        Assert.Equal(136, run.TilesComputed); // 16 blocks: 16 * 17 / 2 tiles on and above the diagonal
        Assert.InRange(run.Uploads, 1, 3);
        Assert.Equal(run.TilesBySilo.Count, run.Uploads); // every silo that computed a tile got the data, once
        Assert.Equal(loadedBefore + run.Uploads, ClusterFixture.Workers(fixture.Cluster).Sum(w => w.JobsLoaded));
    }
}
