using System.Diagnostics;
using static TorchSharp.torch;

namespace NtkDsl.Benchmarks;

/// <summary>One implementation's timings and memory in one case.</summary>
/// <param name="Seconds">Wall-clock seconds of each measured call (warm-up excluded).</param>
/// <param name="PeakMb">Peak resident set of the whole process while this implementation ran (MB), see <see cref="Memory"/>.</param>
/// <param name="PeakDeltaMb">That peak minus the resident set just before it started (MB).</param>
/// <param name="AllocatedMbPerCall">Managed bytes allocated per measured call (MB), from GC.GetTotalAllocatedBytes.</param>
public sealed record Measurement(double[] Seconds, double PeakMb, double PeakDeltaMb, double AllocatedMbPerCall)
{
    /// <summary>Median of <see cref="Seconds"/>.</summary>
    public double Median
    {
        get
        {
            var s = Seconds.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
        }
    }
}

/// <summary>
/// Peak memory on Linux: the kernel's resident-set high-water mark VmHWM (/proc/self/status), reset per
/// measurement by writing 5 to /proc/self/clear_refs. It counts everything resident: managed heap, native
/// (libtorch) allocations, loaded libraries. Elsewhere (or if the reset is refused) the process-lifetime
/// peak working set is reported instead and <see cref="Description"/> says so.
/// </summary>
public static class Memory
{
    private static bool? _canReset;

    /// <summary>What the peak_mb figures mean on this run.</summary>
    public static string Description => CanReset
        ? "peak resident set (Linux VmHWM, whole process: managed + native + mapped libraries) while the implementation ran, reset before each implementation"
        : "process-lifetime peak working set (VmHWM could not be reset on this system)";

    private static bool CanReset => _canReset ??= TryReset();

    /// <summary>Collects garbage, resets the high-water mark and returns the current resident set in MB.</summary>
    public static double Begin()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (CanReset) TryReset();
        return Status("VmRSS:") ?? Environment.WorkingSet / 1e6;
    }

    /// <summary>The peak resident set since <see cref="Begin"/> (MB).</summary>
    public static double Peak() => Status("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64 / 1e6;

    private static bool TryReset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    private static double? Status(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
                var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return double.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }

        return null;
    }
}

/// <summary>Timing helpers.</summary>
public static class Timing
{
    /// <summary>
    /// Runs <paramref name="action"/> <paramref name="warmup"/> times unmeasured, then up to <paramref name="reps"/>
    /// measured times, stopping early (after at least one) once the measured calls exceed <paramref name="budgetSeconds"/>.
    /// </summary>
    public static Measurement Run(Action action, int warmup, int reps, double budgetSeconds)
    {
        double before = Memory.Begin();
        for (int i = 0; i < warmup; i++) action();
        var times = new List<double>();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        double spent = 0;
        for (int i = 0; i < reps && (i == 0 || spent < budgetSeconds); i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            double t = Stopwatch.GetElapsedTime(start).TotalSeconds;
            times.Add(t);
            spent += t;
        }

        double allocatedMb = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1e6 / times.Count;
        double peak = Memory.Peak();
        return new Measurement(times.ToArray(), peak, peak - before, allocatedMb);
    }

    /// <summary>
    /// libtorch's matrix-multiply throughput (GFLOP/s) for [m, k] x [k, n] in <paramref name="dtype"/> on the
    /// current torch thread count: median of several products after a warm-up.
    /// </summary>
    public static double TorchGemmGflops(int m, int k, int n, ScalarType dtype, int reps = 5)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = rand(m, k, dtype: dtype);
        var b = rand(k, n, dtype: dtype);
        var c = a.mm(b);
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long start = Stopwatch.GetTimestamp();
            c = a.mm(b);
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        Array.Sort(times);
        return 2.0 * m * k * n / times[reps / 2] / 1e9;
    }
}
