// The end-to-end program: one executable that is a silo, the client, or the single-process reference.
//   silo <index> <siloPort> <gatewayPort>      a silo on 127.0.0.1 (silo 0 is the primary); runs until killed
//   client <out.npy> <silos> <gatewayPort> [pause-file]
//                                              the driver; with a pause file it stops taking results after a third of
//                                              the tiles, writes "<pause-file>.paused" and waits for the pause file to go away
//   reference <out.npy>                        the same kernel with TiledNtk in this process
//   compare <a.npy> <b.npy>                    exit 0 iff the files hold the same values bit for bit
//   bench [n] [tile] [reps] [silos]            in this process, side by side: TiledNtk on S threads vs S silos (default 2) (real TCP on
//                                              loopback) x 1 thread with the driver; median times, overhead ratio, tiles/s
//   bench-file <out.npy> <n> <tile>            2 in-process silos write a float32 kernel to a .npy; time, peak RSS
// With NTK_POSTGRES set to a connection string, silos and client use Orleans' ADO.NET membership on PostgreSQL (the
// README's production configuration) instead of development clustering; run-postgres.sh does that.
using System.Net;
using NtkDsl;
using NtkDsl.Cpu;
using NtkDsl.Distributed;
using NtkDsl.IO;
using NtkDsl.Tiling;
using Orleans.Configuration;

string? postgres = Environment.GetEnvironmentVariable("NTK_POSTGRES");

switch (args)
{
    case ["silo", var index, var siloPort, var gatewayPort]:
        await NtkSilo.RunAsync(
            silo =>
            {
                int i = int.Parse(index);
                if (postgres is null) NtkSilo.Loopback(i, int.Parse(siloPort), int.Parse(gatewayPort))(silo);
                else
                    silo.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", postgres))
                        .ConfigureEndpoints(IPAddress.Loopback, int.Parse(siloPort) + i, int.Parse(gatewayPort) + i)
                        .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("ntk-e2e", "ntk-e2e"));
                // Notice a lost silo within a few seconds (Orleans' defaults are slower).
                silo.Configure<ClusterMembershipOptions>(o => (o.ProbeTimeout, o.NumMissedProbesLimit) = (TimeSpan.FromSeconds(2), 2));
            },
            networks => networks.Add<EndToEndNet>(),
            new NtkSiloOptions { ThreadsPerTile = 1, MemoryBudgetBytes = 512L << 20 });
        return 0;
    case ["client", var path, var silos, var gatewayPort, ..var rest]:
    {
        await using var connection = await NtkClusterConnection.ConnectAsync(postgres is null
            ? NtkClusterConnection.Loopback(int.Parse(silos), int.Parse(gatewayPort))
            : client => client.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", postgres))
                .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = ("ntk-e2e", "ntk-e2e")));
        string? pause = rest.Length > 0 ? rest[0] : null;
        var job = Job.Create();
        int tiles = job.Plan.Tiles.Count();
        var options = new NtkClusterOptions
        {
            // Tiles take milliseconds here: a tile sent to the killed silo is retried after 30 s, not the default 10 minutes.
            TileTimeout = TimeSpan.FromSeconds(30),
            Progress = new InlineProgress(p =>
            {
                Console.WriteLine(p);
                if (pause is null || p.TilesDone != tiles / 3) return;
                File.WriteAllText(pause + ".paused", "");
                while (File.Exists(pause)) Thread.Sleep(50);
            }),
        };
        var run = await NtkCluster.ComputeToFileAsync<double>(connection.Client, job, path, options);
        Console.WriteLine($"done: {run.TilesComputed} computed, {run.TilesResumed} resumed, {run.Retries} retries, {run.Uploads} uploads, " +
                          $"by silo: {string.Join(", ", run.TilesBySilo.Select(kv => $"{kv.Key} {kv.Value}"))}, {run.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
    case ["reference", var path]:
    {
        var (theta, x) = Job.Inputs();
        using var sink = new NpyTileSink<double>(path, Job.N, Job.N, NtkMode.Trace, EndToEndNet.OutputSize);
        TiledNtk.Compute<EndToEndNet, double>(theta, x, null, NtkMode.Trace, sink, Job.Tiling);
        return 0;
    }
    case ["compare", var a, var b]:
    {
        var (first, second) = (Npy.ReadMatrix<double>(a), Npy.ReadMatrix<double>(b));
        bool same = first.Rows == second.Rows && first.Cols == second.Cols && first.Data.AsSpan().SequenceEqual(second.Data);
        Console.WriteLine(same ? $"identical: {first.Rows} x {first.Cols}" : $"DIFFERENT: {a} and {b}");
        return same ? 0 : 1;
    }
    case ["bench", ..var rest]:
        return await Bench.SideBySide(rest.Length > 0 ? int.Parse(rest[0]) : 2000, rest.Length > 1 ? int.Parse(rest[1]) : 250, rest.Length > 2 ? int.Parse(rest[2]) : 5, rest.Length > 3 ? int.Parse(rest[3]) : 2);
    case ["bench-file", var path, var n, var tile]:
        return await Bench.ToFile(path, int.Parse(n), int.Parse(tile));
    default:
        Console.Error.WriteLine("usage: silo <index> <siloPort> <gatewayPort> | client <out.npy> <silos> <gatewayPort> [pause-file] | reference <out.npy> | compare <a.npy> <b.npy>");
        return 2;
}

[Network(Inputs = 16, WeightStd = 1.4, BiasStd = 0.1)]
[Dense(384), Relu]
[Dense(384), Erf]
[Dense(1)]
public partial class EndToEndNet;

internal static class Job
{
    public const int N = 1500;

    public static readonly TiledNtkOptions Tiling = new() { TileRows = 100 }; // 15 blocks: 120 tiles on and above the diagonal

    public static (double[] Theta, Matrix<double> X) Inputs()
    {
        var random = new Random(7);
        var x = new Matrix<double>(N, EndToEndNet.InputSize);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = 2 * random.NextDouble() - 1;
        return (EndToEndNet.InitializeParameters<double>(3), x);
    }

    public static NtkJob Create()
    {
        var (theta, x) = Inputs();
        return NtkJob.Empirical<EndToEndNet, double>(theta, x, null, NtkMode.Trace, TiledNtk.Plan<EndToEndNet, double>(N, N, true, NtkMode.Trace, Tiling));
    }
}

internal sealed class InlineProgress(Action<NtkClusterProgress> report) : IProgress<NtkClusterProgress>
{
    public void Report(NtkClusterProgress value) => report(value);
}
