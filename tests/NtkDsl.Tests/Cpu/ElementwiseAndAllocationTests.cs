using NtkDsl.Cpu;

namespace NtkDsl.Tests.Cpu;

/// <summary>Vectorized elementwise operations against scalar loops, and zero steady-state allocation of the kernels.</summary>
[Collection(SerialCollection.Name)]
public class ElementwiseAndAllocationTests
{
    public static TheoryData<Activation> Activations => new()
    {
        Activation.Relu, Activation.LeakyRelu(0.1), Activation.Abs, Activation.Erf(1.2, 0.7, 0.1), Activation.Plain(ActivationKind.Tanh),
    };

    [Theory]
    [MemberData(nameof(Activations))]
    public void LinearActivate_equals_Linear_then_Activate_on_every_thread_count(Activation activation)
    {
        // Large enough for the parallel GEMM path (several work items, each applying phi to its own block).
        var x = NtkDsl.Tests.Support.TestMath.RandomMatrix(301, 257, 1);
        var w = NtkDsl.Tests.Support.TestMath.RandomMatrix(263, 257, 2);
        var b = NtkDsl.Tests.Support.TestMath.RandomMatrix(1, 263, 3);
        foreach (int threads in new[] { 1, 2 })
        {
            var backend = new CpuBackend<double>(threads);
            var (z, a, zExpected, aExpected) = (new Matrix<double>(301, 263), new Matrix<double>(301, 263), new Matrix<double>(301, 263), new Matrix<double>(301, 263));
            backend.LinearActivate(CpuTensor<double>.Of(x), CpuTensor<double>.Of(w), CpuTensor<double>.Of(b), 0.3, 0.5, activation, CpuTensor<double>.Of(z), CpuTensor<double>.Of(a));
            backend.Linear(CpuTensor<double>.Of(x), CpuTensor<double>.Of(w), CpuTensor<double>.Of(b), 0.3, 0.5, CpuTensor<double>.Of(zExpected));
            backend.Activate(activation, CpuTensor<double>.Of(zExpected), CpuTensor<double>.Of(aExpected));
            Assert.Equal(zExpected.Data, z.Data);
            Assert.Equal(aExpected.Data, a.Data);
        }
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Activate_and_derivative_match_scalar(Activation activation)
    {
        var be = new CpuBackend<double>(1);
        foreach (int cols in new[] { 1, 7, 33 })
            foreach (int repeat in new[] { 1, 3 })
            {
                var z = GemmTests.Random<double>(5, cols, 1);
                z.Array[1] = 0; // the kink
                var act = new CpuTensor<double>(new double[5 * cols], 0, 5, cols);
                be.Activate(activation, z, act);
                for (int i = 0; i < act.Span.Length; i++)
                    Assert.Equal(activation.Evaluate(z.Span[i]), act.Span[i], 1e-15);

                var d = GemmTests.Random<double>(5 * repeat, cols, 2);
                var expected = d.Span.ToArray();
                for (int r = 0; r < 5 * repeat; r++)
                    for (int c = 0; c < cols; c++) expected[r * cols + c] *= activation.Derivative(z.Row(r / repeat)[c]);
                be.MultiplyByDerivative(activation, z, d, repeat);
                for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], d.Span[i], 1e-15);
            }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 1)]
    [InlineData(33, 2)]
    [InlineData(5, 3)]
    public void HadamardAccumulate_matches_scalar(int n, int repeat)
    {
        var be = new CpuBackend<float>(1);
        var gd = GemmTests.Random<float>(n * repeat, (n + 2) * repeat, 1);
        var ga = GemmTests.Random<float>(n, n + 2, 2);
        var dst = GemmTests.Random<float>(n * repeat, (n + 2) * repeat, 3);
        var expected = dst.Span.ToArray();
        for (int i = 0; i < dst.Rows; i++)
            for (int j = 0; j < dst.Cols; j++)
                expected[i * dst.Cols + j] += gd.Row(i)[j] * (0.3f * ga.Row(i / repeat)[j / repeat] + 0.01f);
        be.HadamardAccumulate(gd, ga, repeat, 0.3, 0.01, dst);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], dst.Span[i], 1e-6f);
    }

    [Fact]
    public void Parallel_kernels_do_not_allocate_in_steady_state()
    {
        // Sizes above the parallel threshold, on two threads: the worker pool and per-thread pack buffers
        // must not allocate once warm (checked on this thread and process-wide).
        var be = new CpuBackend<double>(2);
        var bf = new CpuBackend<float>(2);
        var a = GemmTests.Random<double>(130, 97, 1);
        var b = GemmTests.Random<double>(97, 150, 2);
        var w = GemmTests.Random<double>(150, 97, 3);
        var bias = GemmTests.Random<double>(1, 150, 4);
        var c = new CpuTensor<double>(new double[130 * 150], 0, 130, 150);
        var g = new CpuTensor<double>(new double[130 * 130], 0, 130, 130);
        var t = new CpuTensor<double>(new double[97 * 150], 0, 97, 150);
        var af = GemmTests.Random<float>(300, 200, 5);
        var gf = new CpuTensor<float>(new float[300 * 300], 0, 300, 300);

        void Run()
        {
            be.MatMul(a, b, 0.5, c);
            be.MatMulTransposeB(a, w, 1.0, c, true);
            be.AddBias(bias, 1, 0.1, c);
            be.MatMulTransposeA(a, c, 1.0, t, false);
            be.Gram(a, a, g);
            be.HadamardAccumulate(g, g, 1, 0.5, 0.1, g);
            be.MultiplyByDerivative(Activation.Relu, c, c, 1);
            bf.Gram(af, af, gf);
        }

        // Tiered JIT recompilation (a background thread, timer-driven) allocates a few hundred bytes during
        // warm-up; a real per-call leak never yields an allocation-free window, so wait for one.
        long threadDelta = -1, totalDelta = -1;
        for (int attempt = 0; attempt < 50 && (threadDelta != 0 || totalDelta != 0); attempt++)
        {
            if (attempt > 0) Thread.Sleep(200); // the windows take milliseconds; tier-up waits ~100 ms after its call counts, seconds under load
            for (int i = 0; i < 5; i++) Run();
            long thread = GC.GetAllocatedBytesForCurrentThread();
            long total = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 20; i++) Run();
            threadDelta = GC.GetAllocatedBytesForCurrentThread() - thread;
            totalDelta = GC.GetTotalAllocatedBytes(precise: true) - total;
        }

        Assert.Equal(0, threadDelta);
        Assert.Equal(0, totalDelta);
    }
}
