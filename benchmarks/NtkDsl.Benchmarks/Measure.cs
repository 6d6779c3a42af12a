using System.Diagnostics;
using static TorchSharp.torch;

namespace NtkDsl.Benchmarks;

/// <summary>One implementation's timings and memory in one case.</summary>
/// <param name="Seconds">Wall-clock seconds of each timed call (the warm-up call excluded, except for single-call implementations).</param>
/// <param name="PeakMb">Peak resident set of the whole process while this implementation ran (MB), see <see cref="Memory"/>.</param>
/// <param name="PeakDeltaMb">That peak minus the resident set just before it started (MB).</param>
/// <param name="AllocatedMbPerCall">Managed bytes allocated per timed call (MB), from GC.GetTotalAllocatedBytes (all threads).</param>
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

    /// <summary>
    /// NtkDsl's CPU <see cref="NtkDsl.Cpu.CpuBackend{T}.Linear"/> (x W^T + b, W [n, k] row-major as a Dense layer
    /// stores it) for x [m, k], measured like <see cref="TorchGemmGflops"/>: median and best GFLOP/s (2 m k n).
    /// </summary>
    public static (double Median, double Best) NtkDslLinearGflops<T>(int m, int k, int n, int threads)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var backend = new NtkDsl.Cpu.CpuBackend<T>(threads);
        var x = NtkDsl.Cpu.CpuTensor<T>.Of(Workload.RandomInputs<T>(m, k, 1));
        var w = NtkDsl.Cpu.CpuTensor<T>.Of(Workload.RandomInputs<T>(n, k, 2));
        var b = NtkDsl.Cpu.CpuTensor<T>.Of(Workload.RandomInputs<T>(1, n, 3));
        var c = NtkDsl.Cpu.CpuTensor<T>.Of(new Matrix<T>(m, n));
        return Throughput(() => backend.Linear(x, w, b, 0.5, 0.1, c), 2.0 * m * k * n);
    }

    private static (double Median, double Best) Throughput(Action action, double flops)
    {
        for (int i = 0; i < 2; i++) action();
        var times = new List<double>();
        double spent = 0;
        while (times.Count < 7 || (spent < 0.3 && times.Count < 200))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            double t = Stopwatch.GetElapsedTime(start).TotalSeconds;
            times.Add(t);
            spent += t;
        }

        times.Sort();
        return (flops / 1e9 / times[times.Count / 2], flops / 1e9 / times[0]);
    }

    /// <summary>
    /// NtkDsl's own CPU matrix multiply (<see cref="NtkDsl.Cpu.CpuBackend{T}.MatMul"/>) for [m, k] x [k, n] on
    /// <paramref name="threads"/> threads, measured like <see cref="TorchGemmGflops"/>: median and best GFLOP/s.
    /// </summary>
    public static (double Median, double Best) NtkDslGemmGflops<T>(int m, int k, int n, int threads)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var backend = new NtkDsl.Cpu.CpuBackend<T>(threads);
        var a = NtkDsl.Cpu.CpuTensor<T>.Of(Workload.RandomInputs<T>(m, k, 1));
        var b = NtkDsl.Cpu.CpuTensor<T>.Of(Workload.RandomInputs<T>(k, n, 2));
        var c = NtkDsl.Cpu.CpuTensor<T>.Of(new Matrix<T>(m, n));
        for (int i = 0; i < 2; i++) backend.MatMul(a, b, 1.0, c);
        var times = new List<double>();
        double spent = 0;
        while (times.Count < 7 || (spent < 0.3 && times.Count < 200))
        {
            long start = Stopwatch.GetTimestamp();
            backend.MatMul(a, b, 1.0, c);
            double t = Stopwatch.GetElapsedTime(start).TotalSeconds;
            times.Add(t);
            spent += t;
        }

        times.Sort();
        double flops = 2.0 * m * k * n / 1e9;
        return (flops / times[times.Count / 2], flops / times[0]);
    }
}
