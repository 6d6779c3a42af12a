using NtkDsl.Cpu;
using NtkDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>A residual conv net with LayerNorm and a concatenation of branches, on the CPU backend and the Torch backend.</summary>
[Network(Channels = 2, Height = 4, Width = 4, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(3, 3, Padding = Padding.Same)]
[Residual(typeof(Block))]
[FanInConcat(typeof(Wide), typeof(Pointwise))]
[LayerNorm, Relu, GlobalAvgPool]
[Dense(2)]
public partial class TorchResidualNet
{
    [LayerNorm, Relu, Conv(3, 3, Padding = Padding.Same)]
    private sealed class Block;

    [Conv(2, 3, Padding = Padding.Same)]
    private sealed class Wide;

    [Conv(2, 1)]
    private sealed class Pointwise;
}

/// <summary>
/// Branching networks on the Torch backend: the generated passes (joins through AddScaled and CopyColumns, LayerNorm and
/// its Jacobian) equal the CPU backend's, and the autograd baseline (TorchAutogradNtk, which follows the description's
/// sources and joins) equals the generated empirical NTK.
/// </summary>
public sealed class ResidualTests
{
    [Fact]
    public void Torch_backend_equals_the_cpu_backend_float64()
    {
        using var scope = NewDisposeScope();
        var theta = CpuNetwork<TorchResidualNet, double>.InitializeParameters(3);
        var x1 = new Matrix<double>(4, TorchResidualNet.InputSize, TestSupport.Random(4, TorchResidualNet.InputSize, 4, 1.5).Cast<double>().ToArray());
        var x2 = new Matrix<double>(3, TorchResidualNet.InputSize, TestSupport.Random(3, TorchResidualNet.InputSize, 5, 1.5).Cast<double>().ToArray());
        using var net = new TorchNetwork<TorchResidualNet>(new TorchBackend(ScalarType.Float64));
        var t = TorchConvert.ToTensor(theta, 1, theta.Length);
        var (t1, t2) = (x1.ToTensor(), x2.ToTensor());

        Close(CpuNetwork<TorchResidualNet, double>.Forward(theta, x1), net.Forward(t, t1), "forward");
        foreach (var mode in new[] { NtkMode.Full, NtkMode.Trace, NtkMode.Diagonal })
        {
            Close(CpuNetwork<TorchResidualNet, double>.Ntk(theta, x1, x2, mode), net.Ntk(t, t1, t2, mode), $"ntk {mode}");
            Close(CpuNetwork<TorchResidualNet, double>.Ntk(theta, x1, null, mode), net.Ntk(t, t1, null, mode), $"ntk {mode} (x1, x1)");
        }

        var cotangent = new Matrix<double>(4, 2, TestSupport.Random(4, 2, 6).Cast<double>().ToArray());
        var gradient = CpuNetwork<TorchResidualNet, double>.Vjp(theta, x1, cotangent);
        Close(new Matrix<double>(1, gradient.Length, gradient), net.Vjp(t, t1, cotangent.ToTensor()).Gradient, "vjp");
        Close(CpuNetwork<TorchResidualNet, double>.Jvp(theta, x1, gradient), net.Jvp(t, t1, TorchConvert.ToTensor(gradient, 1, gradient.Length)).TangentOutput, "jvp");
    }

    [Fact]
    public void Autograd_baseline_follows_the_branches()
    {
        using var scope = NewDisposeScope();
        var theta = CpuNetwork<TorchResidualNet, double>.InitializeParameters(7);
        var x = new Matrix<double>(3, TorchResidualNet.InputSize, TestSupport.Random(3, TorchResidualNet.InputSize, 8, 1.5).Cast<double>().ToArray());
        var t = TorchConvert.ToTensor(theta, 1, theta.Length);
        var autograd = TorchAutogradNtk.Ntk(TorchResidualNet.Description, t, x.ToTensor(), null, NtkMode.Full);
        Close(CpuNetwork<TorchResidualNet, double>.Ntk(theta, x, null, NtkMode.Full), autograd, "autograd ntk");
    }

    private static void Close(Matrix<double> cpu, Tensor result, string what)
    {
        var actual = result.to(ScalarType.Float64).ToMatrix<double>();
        double diff = 0, scale = 1e-300;
        for (int i = 0; i < cpu.Data.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(cpu.Data[i] - actual.Data[i]));
            scale = Math.Max(scale, Math.Abs(cpu.Data[i]));
        }

        Assert.True(diff / scale < 1e-10, $"{what}: relative difference {diff / scale:E2}");
    }
}
