using NtkDsl.Cpu;
using NtkDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>The same generated code on both backends: the Torch backend equals the CPU backend (1e-10 in float64, 1e-4 in float32).</summary>
public sealed class CpuParityTests
{
    private static void Parity<TNet>(ScalarType dtype, double tolerance) where TNet : INetwork<TNet>
    {
        using var scope = NewDisposeScope();
        var theta = CpuNetwork<TNet, double>.InitializeParameters(3);
        var x1 = new Matrix<double>(5, TNet.InputSize, TestSupport.Random(5, TNet.InputSize, 4, 1.5).Cast<double>().ToArray());
        var x2 = new Matrix<double>(3, TNet.InputSize, TestSupport.Random(3, TNet.InputSize, 5, 1.5).Cast<double>().ToArray());
        using var torchNet = new TorchNetwork<TNet>(new TorchBackend(dtype));
        var t = TorchConvert.ToTensor(theta, 1, theta.Length).to(dtype);
        var t1 = x1.ToTensor().to(dtype);
        var t2 = x2.ToTensor().to(dtype);

        Check(CpuNetwork<TNet, double>.Forward(theta, x1), torchNet.Forward(t, t1), tolerance, "forward");
        foreach (var mode in new[] { NtkMode.Full, NtkMode.Trace, NtkMode.Diagonal })
        {
            Check(CpuNetwork<TNet, double>.Ntk(theta, x1, x2, mode), torchNet.Ntk(t, t1, t2, mode), tolerance, $"ntk {mode}");
            Check(CpuNetwork<TNet, double>.Ntk(theta, x1, null, mode), torchNet.Ntk(t, t1, null, mode), tolerance, $"ntk {mode} (x1, x1)");
        }

        var cotangent = new Matrix<double>(5, TNet.OutputSize, TestSupport.Random(5, TNet.OutputSize, 6).Cast<double>().ToArray());
        var gradient = CpuNetwork<TNet, double>.Vjp(theta, x1, cotangent);
        Check(new Matrix<double>(1, gradient.Length, gradient), torchNet.Vjp(t, t1, cotangent.ToTensor().to(dtype)).Gradient, tolerance, "vjp");
        Check(CpuNetwork<TNet, double>.Jvp(theta, x1, gradient), torchNet.Jvp(t, t1, TorchConvert.ToTensor(gradient, 1, gradient.Length).to(dtype)).TangentOutput, tolerance, "jvp");
    }

    private static void Check(Matrix<double> cpu, Tensor torchResult, double tolerance, string what)
    {
        var actual = torchResult.to(ScalarType.Float64).ToMatrix<double>();
        double diff = 0, scale = 1e-300;
        for (int i = 0; i < cpu.Data.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(cpu.Data[i] - actual.Data[i]));
            scale = Math.Max(scale, Math.Abs(cpu.Data[i]));
        }
        Assert.True(diff / scale < tolerance, $"{what}: relative difference {diff / scale:E2}");
    }

    [Fact]
    public void Every_activation_float64() => Parity<AllKinds>(ScalarType.Float64, 1e-10);

    [Fact]
    public void Every_activation_float32() => Parity<AllKinds>(ScalarType.Float32, 1e-4);

    [Fact]
    public void Standard_parameterization_float64() => Parity<TanhStandard>(ScalarType.Float64, 1e-10);

    [Fact]
    public void Two_outputs_float64() => Parity<ReluErf>(ScalarType.Float64, 1e-10);

    [Fact]
    public void User_defined_activation_float64() => Parity<UserSwish>(ScalarType.Float64, 1e-10);

    [Fact]
    public void User_defined_activation_float32() => Parity<UserSwish>(ScalarType.Float32, 1e-4);

    [Fact]
    public void Conv_image_float64() => Parity<ConvImage>(ScalarType.Float64, 1e-10);

    [Fact]
    public void Conv_image_float32() => Parity<ConvImage>(ScalarType.Float32, 1e-4);

    [Fact]
    public void Conv_sequence_float64() => Parity<ConvSequence>(ScalarType.Float64, 1e-10);

    [Fact]
    public void Conv_readout_float64() => Parity<ConvReadout>(ScalarType.Float64, 1e-10);

    [Fact]
    public void Conv_readout_float32() => Parity<ConvReadout>(ScalarType.Float32, 1e-4);
}
