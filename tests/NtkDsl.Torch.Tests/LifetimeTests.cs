using NtkDsl.Backends;
using static NtkDsl.Torch.Tests.TestSupport;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>No tensor outlives a call: counted with TorchSharp's DisposeScopeManager statistics (per thread).</summary>
public sealed class LifetimeTests
{
    [Fact]
    public void Backend_ops_leave_no_live_tensors()
    {
        var be = TorchBackend.Float64();
        var ws = new Workspace<Tensor>();
        var x = ws.Get(be, 0, 6, 5);
        var w = ws.Get(be, 1, 4, 5);
        var b = ws.Get(be, 2, 1, 4);
        var z = ws.Get(be, 3, 6, 4);
        var d = ws.Get(be, 4, 18, 4);
        var gd = ws.Get(be, 5, 18, 18);
        var ga = ws.Get(be, 6, 6, 6);
        var k = ws.Get(be, 7, 18, 18);
        var jac = ws.Get(be, 8, 18, 40);
        var sums = ws.Get(be, 9, 1, 4);
        var wt = ws.Get(be, 10, 4, 5);
        var seeds = ws.Get(be, 11, 18, 3);

        void RunAll()
        {
            be.Linear(x, w, b, 0.5, 0.1, z);
            be.MatMulTransposeB(x, w, 0.5, z, true);
            be.AddBias(b, 1, 0.1, z);
            foreach (ActivationKind kind in Enum.GetValues<ActivationKind>())
            {
                var act = new Activation(kind, 0.3, 1.2, 0.1);
                be.Activate(act, z, z);
                be.MultiplyByDerivative(act, z, d, 3);
                be.MultiplyByDerivative(act, z, z, 1);
            }

            be.MatMul(z, w, 2.0, x);
            be.MatMulTransposeA(z, x, 1.0, wt, true);
            be.ColumnSums(z, 1, 1.0, sums, true);
            be.Gram(d, d, gd);
            be.Gram(x, x, ga);
            be.HadamardAccumulate(gd, ga, 3, 1.0, 0.5, k);
            be.RowProducts(d, x, 1, 3, 1.0, jac, 2);
            be.SumPositions(d, 1, 1.0, jac, 30);
            be.SetOutputSeeds(seeds, 3);
            using (var slice = be.RowSlice(seeds, 0, 6)) be.SetOutputSeed(slice, 1);
            be.Scale(k, 0.5);
            be.Copy(k, gd);
            be.Clear(k);
        }

        RunAll(); // warm-up
        long before = LiveTensors();
        for (int i = 0; i < 20; i++) RunAll();
        Assert.Equal(before, LiveTensors());
        ws.Clear();
    }

    [Fact]
    public void TorchNetwork_calls_leave_only_their_results()
    {
        var net = ReluErf.Description;
        using var host = new TorchNetwork<ReluErf>();
        using var theta = ToTensor(Random(1, net.ParameterCount, 1), ScalarType.Float64);
        using var x1 = ToTensor(Random(4, 3, 2), ScalarType.Float64);
        using var x2 = ToTensor(Random(3, 3, 3), ScalarType.Float64);
        using var cot = ToTensor(Random(4, 2, 4), ScalarType.Float64);

        void RunAll()
        {
            using var scope = NewDisposeScope();
            host.Forward(theta, x1);
            host.Vjp(theta, x1, cot);
            host.Jvp(theta, x1, theta);
            host.Jacobian(theta, x1);
            foreach (var mode in Enum.GetValues<NtkMode>())
            {
                host.Ntk(theta, x1, x2, mode);
                host.Ntk(theta, x1, null, mode);
            }
        }

        RunAll(); // warm-up: the workspace allocates its buffers
        long before = LiveTensors();
        for (int i = 0; i < 10; i++) RunAll();
        Assert.Equal(before, LiveTensors());

        // Results outside a scope belong to the caller: exactly one live tensor until disposed.
        var result = host.Ntk(theta, x1, x2);
        Assert.Equal(before + 1, LiveTensors());
        result.Dispose();
        Assert.Equal(before, LiveTensors());
    }

    [Fact]
    public void Autograd_baseline_leaves_only_its_result()
    {
        var net = ReluErf.Description;
        using var theta = ToTensor(Random(1, net.ParameterCount, 1), ScalarType.Float64);
        using var x1 = ToTensor(Random(3, 3, 2), ScalarType.Float64);
        TorchAutogradNtk.Ntk(net, theta, x1, null, NtkMode.Trace).Dispose();
        long before = LiveTensors();
        for (int i = 0; i < 3; i++)
            TorchAutogradNtk.Ntk(net, theta, x1, null, NtkMode.Diagonal).Dispose();
        Assert.Equal(before, LiveTensors());
    }
}
