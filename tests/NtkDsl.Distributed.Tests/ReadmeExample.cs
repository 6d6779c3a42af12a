using NtkDsl.Cpu;
using Orleans.Hosting;

namespace NtkDsl.Distributed.Tests;

/// <summary>
/// The README's cluster example, compiled here (the regions are the README's text, checked by <see cref="ReadmeExampleTests"/>);
/// <see cref="ComputeKernelAsync"/> runs in the tests against the in-process cluster.
/// </summary>
public static class ReadmeExample
{
    #region readme-program
    // One program, three roles: `silo 0`, `silo 1`, `silo 2` (silo 0 first: the primary), then `client kernel.npy`.
    public static async Task RunAsync(string[] args) // from your Main
    {
        if (args[0] == "silo")
        {
            await NtkSilo.RunAsync(NtkSilo.Loopback(int.Parse(args[1])), networks => networks.Add<ClusterNet>(),
                new NtkSiloOptions { ThreadsPerTile = 1, MemoryBudgetBytes = 1L << 30 });
            return;
        }

        await using var connection = await NtkClusterConnection.ConnectAsync(NtkClusterConnection.Loopback(silos: 3));
        await ComputeKernelAsync(connection.Client, args[1]);
    }
    #endregion

    #region readme-production
    // Production: the same program with Orleans' ADO.NET membership (packages Microsoft.Orleans.Clustering.AdoNet and
    // Npgsql; create the tables with Orleans' PostgreSQL-Main.sql and PostgreSQL-Clustering.sql scripts first).
    public static Task ProductionSilo(string connectionString) =>
        NtkSilo.RunAsync(silo => silo
                .UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString))
                .ConfigureEndpoints(siloPort: 11111, gatewayPort: 30000)
                .Configure<Orleans.Configuration.ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("ntk", "ntk")),
            networks => networks.Add<ClusterNet>());

    public static Task<NtkClusterConnection> ProductionClient(string connectionString) =>
        NtkClusterConnection.ConnectAsync(client => client
            .UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString))
            .Configure<Orleans.Configuration.ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("ntk", "ntk")));
    #endregion

    #region readme-job
    public static async Task<NtkClusterRun> ComputeKernelAsync(IClusterClient client, string path)
    {
        var x = Inputs(); // your N x d inputs
        var theta = ClusterNet.InitializeParameters<double>(seed: 0);
        var plan = TiledNtk.Plan<ClusterNet, double>(x.Rows, x.Rows, symmetric: true, NtkMode.Trace, new TiledNtkOptions { TileRows = 50 });
        var job = NtkJob.Empirical<ClusterNet, double>(theta, x, null, NtkMode.Trace, plan);
        var run = await NtkCluster.ComputeToFileAsync<double>(client, job, path,
            new NtkClusterOptions { Progress = new Progress<NtkClusterProgress>(p => Console.WriteLine(p)) });
        Console.WriteLine($"{run.TilesComputed} tiles computed, {run.TilesResumed} resumed from the journal, {run.Retries} retries");
        return run;
    }
    #endregion

    public static Matrix<double> Inputs() => ClusterFixture.Random<double>(200, ClusterNet.InputSize, 99);
}
