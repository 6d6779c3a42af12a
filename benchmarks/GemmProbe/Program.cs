// Scratch probe for issue 7 (not the benchmark suite): dotnet run -c Release --project benchmarks/GemmProbe -- [reps]
using System.Diagnostics;
using NtkDsl;
using NtkDsl.Cpu;

// Scratch probe (issue 7 part 3): GEMM GFLOP/s and structured NTK time. Not a benchmark suite.
static double Median(List<double> v) { v.Sort(); return v[0]; } // best of reps: the machine is shared

static double TimeIt(Action a, int reps)
{
    a();
    var t = new List<double>();
    for (int i = 0; i < reps; i++) { var sw = Stopwatch.StartNew(); a(); t.Add(sw.Elapsed.TotalSeconds); }
    return Median(t);
}

static void Gemm<T>(int n, int threads, int reps) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
{
    var rng = new Random(1);
    T[] R(int len) { var a = new T[len]; for (int i = 0; i < len; i++) a[i] = T.CreateChecked(rng.NextDouble() - 0.5); return a; }
    var a = new CpuTensor<T>(R(n * n), 0, n, n);
    var b = new CpuTensor<T>(R(n * n), 0, n, n);
    var c = new CpuTensor<T>(new T[n * n], 0, n, n);
    var be = new CpuBackend<T>(threads);
    double flops = 2.0 * n * n * n;
    double t1 = TimeIt(() => be.MatMul(a, b, 1.0, c), reps);
    double t2 = TimeIt(() => be.Gram(a, b, c), reps);
    double t3 = TimeIt(() => be.MatMulTransposeA(a, b, 1.0, c, false), reps);
    double t4 = TimeIt(() => be.Gram(a, a, c), reps);
    Console.WriteLine($"{typeof(T).Name,-7} n={n} threads={threads}: AB {flops / t1 / 1e9,6:F1}  AB^T {flops / t2 / 1e9,6:F1}  A^TB {flops / t3 / 1e9,6:F1}  SYRK(AA^T, full-flop-equiv) {flops / t4 / 1e9,6:F1} GFLOP/s");
}

int reps = args.Length > 0 ? int.Parse(args[0]) : 5;
foreach (int th in new[] { 1, 2 })
{
    Gemm<double>(1024, th, reps);
    Gemm<float>(1024, th, reps);
}

foreach (int th in new[] { 1, 2 })
{
    CpuSettings.MaxDegreeOfParallelism = th;
    var theta = ProbeNet.InitializeParameters<double>(0);
    var rng = new Random(2);
    var x = new Matrix<double>(512, 64);
    for (int i = 0; i < x.Data.Length; i++) x.Data[i] = rng.NextDouble() - 0.5;
    var k = new Matrix<double>(512, 512);
    double t = TimeIt(() => CpuNetwork<ProbeNet, double>.Ntk(theta, x, null, NtkMode.Trace, k), reps);
    Console.WriteLine($"ntk-mlp-small f64 N=512 d=64 2x512 ReLU O=1, threads={th}: {t * 1e3:F1} ms");
}

[Network(Inputs = 64, WeightStd = 1.4, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(1)]
public partial class ProbeNet;
