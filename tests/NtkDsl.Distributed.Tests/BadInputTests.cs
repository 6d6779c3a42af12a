using NtkDsl.Cpu;
using NtkDsl.Tiling;

namespace NtkDsl.Distributed.Tests;

/// <summary>Jobs the cluster cannot run fail with a clear message before any tile runs.</summary>
[Collection(ClusterCollection.Name)]
public class BadInputTests(ClusterFixture fixture)
{
    private int TilesComputed => ClusterFixture.Workers(fixture.Cluster).Sum(w => w.TilesComputed);

    [Fact]
    public async Task A_network_the_silos_do_not_host_is_refused()
    {
        var x = ClusterFixture.Random<double>(10, UnhostedNet.InputSize, 1);
        var job = NtkJob.Empirical<UnhostedNet, double>(UnhostedNet.InitializeParameters<double>(1), x, null, NtkMode.Trace, NtkTilePlan.Create(10, 10, 5, true, true));
        int before = TilesComputed;
        var e = await Assert.ThrowsAsync<ArgumentException>(() => NtkCluster.ComputeAsync(fixture.Cluster.Client, job, new Matrix<double>(10, 10)));
        Assert.Contains($"no network '{typeof(UnhostedNet).FullName}'", e.Message);
        Assert.Contains(typeof(ClusterNet).FullName!, e.Message); // what it does host
        Assert.Equal(before, TilesComputed);
    }

    [Fact]
    public async Task A_network_whose_architecture_differs_between_client_and_silo_is_refused()
    {
        var x = ClusterFixture.Random<double>(10, ClusterNet.InputSize, 2);
        var good = NtkJob.Empirical<ClusterNet, double>(ClusterNet.InitializeParameters<double>(1), x, null, NtkMode.Trace, NtkTilePlan.Create(10, 10, 5, true, true));
        var job = good with { Fingerprint = "0123456789ABCDEF" }; // as if the silo had been built from another declaration
        int before = TilesComputed;
        var e = await Assert.ThrowsAsync<ArgumentException>(() => NtkCluster.ComputeAsync(fixture.Cluster.Client, job, new Matrix<double>(10, 10)));
        Assert.Contains("differs between client and silo", e.Message);
        Assert.Contains("0123456789ABCDEF", e.Message);
        Assert.Contains(NetworkFingerprint.Of<ClusterNet>(), e.Message);
        Assert.Equal(before, TilesComputed);
    }

    [Fact]
    public async Task Tiles_over_the_silo_memory_budget_are_refused()
    {
        var x = ClusterFixture.Random<double>(3000, ClusterNet.InputSize, 3);
        var plan = NtkTilePlan.Create(3000, 3000, 3000, true, mirrorLower: false);
        Assert.True(TiledNtk.EstimateTileBytes<ClusterNet, double>(3000, 3000, NtkMode.Trace) > ClusterFixture.SiloBudget);
        var job = NtkJob.Empirical<ClusterNet, double>(ClusterNet.InitializeParameters<double>(1), x, null, NtkMode.Trace, plan);
        int before = TilesComputed;
        var e = await Assert.ThrowsAsync<ArgumentException>(() => NtkCluster.ComputeAsync(fixture.Cluster.Client, job, new CallbackTileSink<double>((_, _) => { })));
        Assert.Contains("Tiles of 3000 x 3000 samples", e.Message);
        Assert.Contains($"MemoryBudgetBytes = {ClusterFixture.SiloBudget:N0}", e.Message);
        Assert.Equal(before, TilesComputed);
    }

    [Fact]
    public async Task A_kernel_path_that_cannot_be_written_is_refused()
    {
        var file = Path.GetTempFileName();
        try
        {
            var x = ClusterFixture.Random<double>(10, ClusterNet.InputSize, 4);
            var job = NtkJob.Empirical<ClusterNet, double>(ClusterNet.InitializeParameters<double>(1), x, null, NtkMode.Trace, NtkTilePlan.Create(10, 10, 5, true, true));
            string path = Path.Combine(file, "kernel.npy"); // under a file, not a directory
            int before = TilesComputed;
            var e = await Assert.ThrowsAsync<ArgumentException>(() => NtkCluster.ComputeToFileAsync<double>(fixture.Cluster.Client, job, path));
            Assert.Contains($"Cannot write the kernel to '{path}'", e.Message);
            Assert.Equal("path", e.ParamName);
            Assert.Equal(before, TilesComputed);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_plan_that_does_not_tile_the_inputs_is_refused()
    {
        var x = ClusterFixture.Random<double>(10, ClusterNet.InputSize, 5);
        var e = Assert.Throws<ArgumentException>(() => NtkJob.Empirical<ClusterNet, double>(ClusterNet.InitializeParameters<double>(1), x, null, NtkMode.Trace, NtkTilePlan.Create(12, 12, 5, true, true)));
        Assert.Equal("plan", e.ParamName);
        Assert.Contains("must tile 10 x 10 samples", e.Message);
    }

    [Fact]
    public void Parameters_of_the_wrong_length_or_with_NaN_are_refused_when_the_job_is_made()
    {
        var x = ClusterFixture.Random<double>(10, ClusterNet.InputSize, 5);
        var plan = NtkTilePlan.Create(10, 10, 5, true, true);
        var e = Assert.Throws<ArgumentException>(() => NtkJob.Empirical<ClusterNet, double>(new double[3], x, null, NtkMode.Trace, plan));
        Assert.Equal("parameters", e.ParamName);
        Assert.Contains($"must have length ParameterCount = {ClusterNet.ParameterCount}", e.Message);
        var theta = ClusterNet.InitializeParameters<double>(1);
        theta[2] = double.NaN;
        e = Assert.Throws<ArgumentException>(() => NtkJob.Empirical<ClusterNet, double>(theta, x, null, NtkMode.Trace, plan));
        Assert.Contains("contains NaN at index 2", e.Message);
    }
}
