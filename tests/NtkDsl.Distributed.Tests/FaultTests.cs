using NtkDsl.Cpu;
using NtkDsl.IO;
using NtkDsl.Tiling;

namespace NtkDsl.Distributed.Tests;

/// <summary>Lost silos and interrupted clients change nothing in the result.</summary>
[Collection(ClusterCollection.Name)]
public class FaultTests(ClusterFixture fixture)
{
    private static (double[] Theta, Matrix<double> X, NtkTilePlan Plan, Matrix<double> Expected) Case(int n, int tile, int seed)
    {
        var theta = ClusterNet.InitializeParameters<double>(seed);
        var x = ClusterFixture.Random<double>(n, ClusterNet.InputSize, seed + 1);
        var tiling = new TiledNtkOptions { TileRows = tile };
        var expected = new Matrix<double>(n, n);
        TiledNtk.Compute<ClusterNet, double>(theta, x, null, NtkMode.Trace, expected, tiling);
        return (theta, x, TiledNtk.Plan<ClusterNet, double>(n, n, true, NtkMode.Trace, tiling), expected);
    }

    [Fact]
    public async Task A_silo_killed_mid_run_loses_no_tile()
    {
        // The kill must land while the victim computes a tile; on a fast machine a run can end without the victim ever
        // being busy when the driver reports progress, so such a run is repeated (the result is checked every time).
        var (theta, x, plan, expected) = Case(240, 16, 20); // 120 tiles
        var job = NtkJob.Empirical<ClusterNet, double>(theta, x, null, NtkMode.Trace, plan);
        const int Attempts = 5;
        for (int attempt = 1; attempt <= Attempts; attempt++)
        {
            await using var cluster = ClusterFixture.Build();
            await cluster.DeployAsync();
            var victim = cluster.SecondarySilos[0];
            var victimWorkers = cluster.GetSiloServiceProvider(victim.SiloAddress).GetRequiredService<NtkSiloWorkers>();
            Task? kill = null;
            int busyWhenKilled = 0;
            var options = new NtkClusterOptions
            {
                MaxTilesInFlight = 9, TileTimeout = TimeSpan.FromSeconds(30), RetryDelay = TimeSpan.FromMilliseconds(500),
                Progress = new InlineProgress(p =>
                {
                    if (kill is null && p.TilesDone >= 20 && victimWorkers.TilesInProgress > 0)
                    {
                        busyWhenKilled = victimWorkers.TilesInProgress;
                        kill = cluster.KillSiloAsync(victim);
                    }
                }),
            };
            var actual = new Matrix<double>(240, 240);
            var run = await NtkCluster.ComputeAsync(cluster.Client, job, actual, options);
            Assert.Equal(expected.Data, actual.Data);
            Assert.Equal(plan.Tiles.Count(), run.TilesComputed);
            if (kill is null) continue;
            await kill;

            Assert.True(busyWhenKilled > 0);
            Assert.True(run.TilesBySilo.Count >= 2, $"tiles by silo: {string.Join(", ", run.TilesBySilo)}");
            Assert.Equal(2, cluster.GetActiveSilos().Count());
            return;
        }

        Assert.Fail($"In {Attempts} runs the victim silo was never computing a tile when the driver reported progress after 20 tiles.");
    }

    [Fact]
    public async Task A_cluster_that_is_gone_stops_the_run_with_a_clear_error_once_attempts_are_spent()
    {
        await using var cluster = ClusterFixture.Build();
        await cluster.DeployAsync();
        var (theta, x, plan, _) = Case(40, 10, 30);
        var job = NtkJob.Empirical<ClusterNet, double>(theta, x, null, NtkMode.Trace, plan);
        foreach (var silo in cluster.Silos.ToList()) await cluster.KillSiloAsync(silo);
        var e = await Assert.ThrowsAsync<NtkClusterException>(() => NtkCluster.ComputeAsync(cluster.Client, job, new Matrix<double>(40, 40),
            new NtkClusterOptions { MaxAttempts = 2, TileTimeout = TimeSpan.FromSeconds(3), RetryDelay = TimeSpan.Zero }));
        Assert.Contains("in 2 attempts", e.Message);
    }

    [Fact]
    public async Task An_interrupted_run_resumes_from_its_journal_and_computes_only_the_missing_tiles()
    {
        var (theta, x, plan, expected) = Case(120, 12, 40); // 55 tiles
        var job = NtkJob.Empirical<ClusterNet, double>(theta, x, null, NtkMode.Trace, plan);
        string path = Path.Combine(Path.GetTempPath(), $"ntkdsl-resume-{Guid.NewGuid():N}.npy");
        try
        {
            using var stop = new CancellationTokenSource();
            var interrupted = new NtkClusterOptions { MaxTilesInFlight = 3, Progress = new InlineProgress(p => { if (p.TilesDone == 20) stop.Cancel(); }) };
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => NtkCluster.ComputeToFileAsync<double>(fixture.Cluster.Client, job, path, interrupted, stop.Token));
            int journaled = File.ReadAllLines(path + ".tiles").Length - 1;
            Assert.InRange(journaled, 20, 23);

            var run = await NtkCluster.ComputeToFileAsync<double>(fixture.Cluster.Client, job, path);
            Assert.Equal(journaled, run.TilesResumed);
            Assert.Equal(55 - journaled, run.TilesComputed);
            Assert.Equal(expected.Data, Npy.ReadMatrix<double>(path).Data);

            var again = await NtkCluster.ComputeToFileAsync<double>(fixture.Cluster.Client, job, path);
            Assert.Equal((0, 55), (again.TilesComputed, again.TilesResumed));
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".tiles");
        }
    }

    [Fact]
    public async Task A_journal_of_another_job_is_not_resumed()
    {
        var (theta, x, plan, _) = Case(20, 10, 50);
        string path = Path.Combine(Path.GetTempPath(), $"ntkdsl-other-{Guid.NewGuid():N}.npy");
        try
        {
            var first = NtkJob.Empirical<ClusterNet, double>(theta, x, null, NtkMode.Trace, plan);
            await NtkCluster.ComputeToFileAsync<double>(fixture.Cluster.Client, first, path);
            theta[0] += 1;
            var second = NtkJob.Empirical<ClusterNet, double>(theta, x, null, NtkMode.Trace, plan);
            var e = await Assert.ThrowsAsync<ArgumentException>(() => NtkCluster.ComputeToFileAsync<double>(fixture.Cluster.Client, second, path));
            Assert.Contains("journal of another job", e.Message);
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".tiles");
        }
    }
}
