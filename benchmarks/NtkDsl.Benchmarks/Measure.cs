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

    /// <summary>
    /// Collects garbage (compacting the large-object heap), returns freed native heap pages to the OS (glibc
    /// malloc_trim, so that memory an earlier case freed does not count as resident), resets the high-water
    /// mark and returns the current resident set in MB.
    /// </summary>
    public static double Begin()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        TrimNativeHeap();
        if (CanReset) TryReset();
        return Status("VmRSS:") ?? Environment.WorkingSet / 1e6;
    }

    /// <summary>The peak resident set since <see cref="Begin"/> (MB).</summary>
    public static double Peak() => Status("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64 / 1e6;

    private static bool _noTrim;

    private static void TrimNativeHeap()
    {
        if (_noTrim || !OperatingSystem.IsLinux()) return;
        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _noTrim = true; // not glibc
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

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
    /// Runs <paramref name="action"/> <paramref name="warmup"/> times unmeasured, then measured calls: as many as fit
    /// in <paramref name="budgetSeconds"/> judging by the warm-up call (at least 1, at most <paramref name="maxReps"/>).
    /// </summary>
    public static Measurement Run(Action action, int warmup, int maxReps, double budgetSeconds)
    {
        double before = Memory.Begin();
        double lastWarmup = 0;
        for (int i = 0; i < warmup; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            lastWarmup = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        int reps = warmup > 0 && lastWarmup > 0 ? (int)Math.Clamp(Math.Floor(budgetSeconds / lastWarmup), 1, maxReps) : maxReps;
        var times = new double[reps];
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < reps; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        double allocatedMb = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1e6 / reps;
        double peak = Memory.Peak();
        return new Measurement(times, peak, peak - before, allocatedMb);
    }

    /// <summary>
    /// libtorch's matrix-multiply throughput (GFLOP/s) for [m, k] x [k, n] in <paramref name="dtype"/> on the
    /// current torch thread count, after two warm-up products: the median and the best of at least 7 products
    /// (more for small sizes, ~0.3 s in all). The machine is shared, so the best is the cleaner hardware figure
    /// and the median the one comparable with the other medians.
    /// </summary>
    public static (double Median, double Best) TorchGemmGflops(int m, int k, int n, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = rand(m, k, dtype: dtype);
        var b = rand(k, n, dtype: dtype);
        var c = empty(m, n, dtype: dtype);
        for (int i = 0; i < 2; i++)
            using (var warm = a.mm(b)) c.copy_(warm);
        var times = new List<double>();
        double spent = 0;
        while (times.Count < 7 || (spent < 0.3 && times.Count < 200))
        {
            long start = Stopwatch.GetTimestamp();
            using (var product = a.mm(b))
            {
                double t = Stopwatch.GetElapsedTime(start).TotalSeconds;
                times.Add(t);
                spent += t;
            }
        }

        times.Sort();
        double flops = 2.0 * m * k * n / 1e9;
        return (flops / times[times.Count / 2], flops / times[0]);
    }
}
