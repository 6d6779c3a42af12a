using NtkDsl.Cpu;
using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Empirical;

/// <summary>Steady-state calls with caller-owned outputs allocate nothing (below the parallel threshold).</summary>
public class AllocationTests
{
    [Fact]
    public void Forward_vjp_jvp_and_ntk_into_caller_buffers_do_not_allocate()
    {
        var theta = ErfNet.InitializeParameters<double>(0);
        var x = TestMath.RandomMatrix(8, ErfNet.InputSize, 1);
        var output = new Matrix<double>(8, ErfNet.OutputSize);
        var tangentOutput = new Matrix<double>(8, ErfNet.OutputSize);
        var cotangent = TestMath.RandomMatrix(8, ErfNet.OutputSize, 2);
        var gradient = new double[ErfNet.ParameterCount];
        var tangent = TestMath.RandomVector(ErfNet.ParameterCount, 3);
        var kernel = new Matrix<double>(8 * ErfNet.OutputSize, 8 * ErfNet.OutputSize);

        void Run()
        {
            CpuNetwork<ErfNet, double>.Forward(theta, x, output);
            CpuNetwork<ErfNet, double>.Vjp(theta, x, cotangent, output, gradient);
            CpuNetwork<ErfNet, double>.Jvp(theta, x, tangent, output, tangentOutput);
            CpuNetwork<ErfNet, double>.Ntk(theta, x, null, NtkMode.Full, kernel);
        }

        // Warm-up: the workspace allocates its buffers once, and tiered JIT may allocate a few hundred bytes
        // while it recompiles hot methods. A per-call allocation never gives an allocation-free window of 10
        // calls, so wait (a bounded number of times) for one.
        long delta = -1;
        for (int attempt = 0; attempt < 50 && delta != 0; attempt++)
        {
            if (attempt > 0) Thread.Sleep(200); // the windows take milliseconds; tier-up waits ~100 ms after its call counts, seconds under load
            for (int i = 0; i < 5; i++) Run();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) Run();
            delta = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.Equal(0, delta);
    }
}
