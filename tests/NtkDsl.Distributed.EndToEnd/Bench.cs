using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NtkDsl;
using NtkDsl.Cpu;
using NtkDsl.Distributed;
using NtkDsl.Tiling;

[Network(Inputs = 64, WeightStd = 1.4, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(1)]
public partial class BenchNet;

[Network(Inputs = 16, WeightStd = 1.4, BiasStd = 0.1)]
[Dense(128), Relu]
[Dense(128), Erf]
[Dense(1)]
public partial class FileBenchNet;

// The benchmark of the distributed path (see README, "Kernels on a cluster"): both competitors in this one process,
// alternated, so that load from other processes falls on both alike.
internal static class Bench
{
    public static async Task<int> SideBySide(int n, int tile, int reps, int silos)
    {
        var random = new Random(1);
        var x = new Matrix<double>(n, BenchNet.InputSize);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = 2 * random.NextDouble() - 1;
        var theta = BenchNet.InitializeParameters<double>(2);
        var tiling = new TiledNtkOptions { TileRows = tile };
        var plan = TiledNtk.Plan<BenchNet, double>(n, n, true, NtkMode.Trace, tiling);
        var job = NtkJob.Empirical<BenchNet, double>(theta, x, null, NtkMode.Trace, plan);
        int tiles = plan.Tiles.Count();

        await using var cluster = await Silos.StartAsync(silos, nets => nets.Add<BenchNet>());
        var single = new Matrix<double>(n, n);
        var distributed = new Matrix<double>(n, n);
        var singleTimes = new List<double>();
        var clusterTimes = new List<double>();
        string bySilo = "";
        for (int r = 0; r <= reps; r++) // round 0 warms up (JIT, job upload) and is not counted
        {
            CpuSettings.MaxDegreeOfParallelism = silos;
            var clock = Stopwatch.StartNew();
            TiledNtk.Compute<BenchNet, double>(theta, x, null, NtkMode.Trace, single, tiling);
            if (r > 0) singleTimes.Add(clock.Elapsed.TotalSeconds);

            CpuSettings.MaxDegreeOfParallelism = 1; // the silos' executors are built at job upload (round 0) with this
            clock.Restart();
            var run = await NtkCluster.ComputeAsync(cluster.Client, job, distributed, new NtkClusterOptions { MaxTilesInFlight = 3 * silos });
            if (r > 0) clusterTimes.Add(clock.Elapsed.TotalSeconds);
            bySilo = string.Join(" + ", run.TilesBySilo.Values);
        }

        bool same = single.Data.AsSpan().SequenceEqual(distributed.Data);
        double s = Median(singleTimes), c = Median(clusterTimes);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"n {n}, tiles of {plan.TileRows} ({tiles} tiles), {reps} reps: single process {silos} threads {s:F3} s, {silos} silos x 1 thread {c:F3} s, " +
            $"overhead ratio {c / s:F3}, {tiles / c:F1} tiles/s distributed vs {tiles / s:F1} single; results identical: {same}; tiles by silo (last run) {bySilo}; " +
            $"times single [{string.Join(", ", singleTimes.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))}] " +
            $"distributed [{string.Join(", ", clusterTimes.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))}]"));
        return same ? 0 : 1;
    }

    public static async Task<int> ToFile(string path, int n, int tile)
    {
        var random = new Random(3);
        var x = new Matrix<float>(n, FileBenchNet.InputSize);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = (float)(2 * random.NextDouble() - 1);
        var plan = NtkTilePlan.Create(n, n, tile, true, true);
        var job = NtkJob.Empirical<FileBenchNet, float>(FileBenchNet.InitializeParameters<float>(4), x, null, NtkMode.Trace, plan);
        CpuSettings.MaxDegreeOfParallelism = 1;
        await using var silos = await Silos.StartAsync(2, nets => nets.Add<FileBenchNet>(), budget: 256L << 20);
        var clock = Stopwatch.StartNew();
        var last = TimeSpan.Zero;
        var run = await NtkCluster.ComputeToFileAsync<float>(silos.Client, job, path, new NtkClusterOptions
        {
            Progress = new InlineProgress(p =>
            {
                if (p.Elapsed - last < TimeSpan.FromSeconds(30) && p.TilesDone != p.TilesTotal) return;
                last = p.Elapsed;
                Console.WriteLine($"{p}, RSS {Environment.WorkingSet / 1e6:F0} MB");
            }),
        });
        using var self = Process.GetCurrentProcess();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"n {n} float32 ({4.0 * n * n / 1e9:F2} GB .npy), {run.TilesTotal} tiles of {plan.TileRows}: {clock.Elapsed.TotalSeconds:F1} s, " +
            $"{run.TilesComputed / clock.Elapsed.TotalSeconds:F2} tiles/s, peak RSS of the process (2 silos + client) {self.PeakWorkingSet64 / 1e6:F0} MB"));
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

// Silos hosted in this process on loopback (real TCP between silos and client) and a client connected to them.
internal sealed class Silos : IAsyncDisposable
{
    private readonly List<IHost> _hosts;
    private readonly NtkClusterConnection _connection;

    private Silos(List<IHost> hosts, NtkClusterConnection connection) => (_hosts, _connection) = (hosts, connection);

    public IClusterClient Client => _connection.Client;

    public static async Task<Silos> StartAsync(int count, Action<NtkNetworks> networks, long budget = 1L << 30)
    {
        int basePort = 40000 + Random.Shared.Next(10000);
        var hosts = new List<IHost>();
        for (int i = 0; i < count; i++)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            int index = i;
            builder.UseOrleans(silo =>
            {
                NtkSilo.Loopback(index, basePort, basePort + 10)(silo);
                silo.AddNtkWorkers(networks, new NtkSiloOptions { MemoryBudgetBytes = budget });
            });
            var host = builder.Build();
            await host.StartAsync();
            hosts.Add(host);
        }

        return new Silos(hosts, await NtkClusterConnection.ConnectAsync(NtkClusterConnection.Loopback(count, basePort + 10)));
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        foreach (var host in Enumerable.Reverse(_hosts))
        {
            await host.StopAsync();
            host.Dispose();
        }
    }
}
