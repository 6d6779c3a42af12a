using BenchmarkDotNet.Attributes;
using NtkDsl.Torch;
using static TorchSharp.torch;

namespace NtkDsl.Benchmarks;

// BenchmarkDotNet suites for detailed runs of the quick mode's cases (same workloads; the autograd baseline
// is left out: at ~14 s per call BenchmarkDotNet's iterations would take many minutes).
// Threads: libtorch and NtkDsl both use BenchmarkThreads.Count (2 unless NTKDSL_BENCH_THREADS is set).

/// <summary>The thread count of the BenchmarkDotNet suites.</summary>
public static class BenchmarkThreads
{
    /// <summary>NTKDSL_BENCH_THREADS, or 2.</summary>
    public static int Count => int.TryParse(Environment.GetEnvironmentVariable("NTKDSL_BENCH_THREADS"), out int n) && n > 0 ? n : 2;
}

/// <summary>ntk-mlp-small (N = 512, float64, trace) and ntk-mlp-multi (N = 256, O = 10, full).</summary>
[MemoryDiagnoser]
public class NtkBenchmarks
{
    private Workload _work = null!;

    /// <summary>The case.</summary>
    [Params("ntk-mlp-small", "ntk-mlp-multi")]
    public string Case { get; set; } = "ntk-mlp-small";

    /// <summary>Builds the workload.</summary>
    [GlobalSetup]
    public void Setup()
    {
        QuickRunner.ConfigureThreads(BenchmarkThreads.Count);
        _work = Case == "ntk-mlp-small"
            ? new NtkWorkload<SmallMlp, double>(512, NtkMode.Trace)
            : new NtkWorkload<MultiMlp, double>(256, NtkMode.Full);
    }

    /// <summary>Releases the workload.</summary>
    [GlobalCleanup]
    public void Cleanup() => _work.Dispose();

    /// <summary>Generated code, CPU backend.</summary>
    [Benchmark(Baseline = true)]
    public void NtkDslCpu() => _work.Implementations["ntkdsl_cpu"]();

    /// <summary>Generated code, Torch backend.</summary>
    [Benchmark]
    public void NtkDslTorch() => _work.Implementations["ntkdsl_torch"]();

    /// <summary>The same algorithm in plain torch ops.</summary>
    [Benchmark]
    public void TorchLayerwise() => _work.Implementations["torch_layerwise"]();
}

/// <summary>ntk-mlp-large (N = 2048, three hidden layers of 1024) in float32 and float64.</summary>
/// <typeparam name="T">float or double.</typeparam>
[MemoryDiagnoser]
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class NtkLargeBenchmarks<T> where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
{
    private NtkWorkload<LargeMlp, T> _work = null!;

    /// <summary>Builds the workload.</summary>
    [GlobalSetup]
    public void Setup()
    {
        QuickRunner.ConfigureThreads(BenchmarkThreads.Count);
        _work = new NtkWorkload<LargeMlp, T>(2048, NtkMode.Trace);
    }

    /// <summary>Releases the workload.</summary>
    [GlobalCleanup]
    public void Cleanup() => _work.Dispose();

    /// <summary>Generated code, CPU backend.</summary>
    [Benchmark(Baseline = true)]
    public void NtkDslCpu() => _work.NtkDslCpu();

    /// <summary>Generated code, Torch backend.</summary>
    [Benchmark]
    public void NtkDslTorch()
    {
        using var scope = NewDisposeScope();
        _work.NtkDslTorch();
    }

    /// <summary>The same algorithm in plain torch ops.</summary>
    [Benchmark]
    public void TorchLayerwise()
    {
        using var scope = NewDisposeScope();
        _work.TorchLayerwise();
    }
}

/// <summary>forward: batch 1024 through four 1024-wide layers, against nn.Sequential.</summary>
/// <typeparam name="T">float or double.</typeparam>
[MemoryDiagnoser]
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class ForwardBenchmarks<T> where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
{
    private ForwardWorkload<T> _work = null!;

    /// <summary>Builds the workload.</summary>
    [GlobalSetup]
    public void Setup()
    {
        QuickRunner.ConfigureThreads(BenchmarkThreads.Count);
        _work = new ForwardWorkload<T>(1024);
    }

    /// <summary>Releases the workload.</summary>
    [GlobalCleanup]
    public void Cleanup() => _work.Dispose();

    /// <summary>nn.Sequential under no_grad.</summary>
    [Benchmark(Baseline = true)]
    public void TorchSequential()
    {
        using var scope = NewDisposeScope();
        _work.TorchSequential();
    }

    /// <summary>Generated forward, CPU backend.</summary>
    [Benchmark]
    public void NtkDslCpu() => _work.NtkDslCpu();

    /// <summary>Generated forward, Torch backend.</summary>
    [Benchmark]
    public void NtkDslTorch()
    {
        using var scope = NewDisposeScope();
        _work.NtkDslTorch();
    }
}

/// <summary>infinite: analytic NTK of a depth-10 ReLU net, N = 4096.</summary>
[MemoryDiagnoser]
public class InfiniteBenchmarks
{
    private InfiniteWorkload _work = null!;

    /// <summary>Builds the workload.</summary>
    [GlobalSetup]
    public void Setup()
    {
        QuickRunner.ConfigureThreads(BenchmarkThreads.Count);
        _work = new InfiniteWorkload(4096, BenchmarkThreads.Count);
    }

    /// <summary>Releases the workload.</summary>
    [GlobalCleanup]
    public void Cleanup() => _work.Dispose();

    /// <summary>The generated InfiniteWidth member.</summary>
    [Benchmark(Baseline = true)]
    public InfiniteWidthKernels NtkDslCpu() => _work.NtkDslCpu();

    /// <summary>The arc-cosine recursion in plain torch ops.</summary>
    [Benchmark]
    public void TorchLayerwise()
    {
        using var scope = NewDisposeScope();
        _work.TorchLayerwise();
    }
}

/// <summary>dynamics: GradientDescentMse predictions at 100 times, N = 1000 (500 test points).</summary>
[MemoryDiagnoser]
public class DynamicsBenchmarks
{
    private DynamicsWorkload _work = null!;

    /// <summary>Builds the workload.</summary>
    [GlobalSetup]
    public void Setup()
    {
        QuickRunner.ConfigureThreads(BenchmarkThreads.Count);
        _work = new DynamicsWorkload(1000, 500, 100, BenchmarkThreads.Count);
    }

    /// <summary>Releases the workload.</summary>
    [GlobalCleanup]
    public void Cleanup() => _work.Dispose();

    /// <summary>NtkDsl's CPU linear algebra (the default).</summary>
    [Benchmark(Baseline = true)]
    public IReadOnlyList<MsePrediction> Cpu() => _work.Predict(CpuKernelLinearAlgebra.Instance);

    /// <summary>MathNet's managed provider.</summary>
    [Benchmark]
    public IReadOnlyList<MsePrediction> MathNet() => _work.Predict(MathNetLinearAlgebra.Instance);

    /// <summary>torch.linalg through <see cref="TorchKernelLinearAlgebra"/>.</summary>
    [Benchmark]
    public IReadOnlyList<MsePrediction> TorchLinalg() => _work.Predict(TorchKernelLinearAlgebra.Cpu);

    /// <summary>The same formulas in plain torch ops.</summary>
    [Benchmark]
    public int PlainTorch() => _work.PlainTorch().Count;
}
