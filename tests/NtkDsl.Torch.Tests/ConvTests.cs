using NtkDsl.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>Conv networks on the Torch backend: the Jacobian equals the CPU backend's, and bad rows name the sample shape.</summary>
public sealed class ConvTests
{
    [Fact]
    public void Jacobian_of_a_conv_net_equals_the_cpu_backend()
    {
        using var scope = NewDisposeScope();
        var theta = CpuNetwork<ConvImage, double>.InitializeParameters(7);
        var x = new Matrix<double>(3, ConvImage.InputSize, TestSupport.Random(3, ConvImage.InputSize, 8).Cast<double>().ToArray());
        using var net = new TorchNetwork<ConvImage>(TorchBackend.Float64());
        var expected = CpuNetwork<ConvImage, double>.Jacobian(theta, x);
        var actual = net.Jacobian(TorchConvert.ToTensor(theta, 1, theta.Length), x.ToTensor()).ToMatrix<double>();
        double diff = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max(), scale = expected.Data.Max(Math.Abs);
        Assert.True(diff / scale < 1e-12, $"relative difference {diff / scale:E2}");
    }

    [Fact]
    public void Trace_ntk_runs_one_output_per_pass_on_torch_and_equals_the_cpu_backend()
    {
        // The Torch backend does not stack Trace-mode outputs (TraceOutputGroupLimit 1), the CPU does: the workspace an
        // Ntk call takes is the generated plan for that limit, smaller than the CPU's, and the kernel is the same.
        using var scope = NewDisposeScope();
        var backend = TorchBackend.Float64();
        Assert.Equal(1, backend.TraceOutputGroupLimit);
        var theta = CpuNetwork<ConvSequence, double>.InitializeParameters(4);
        foreach (bool same in new[] { true, false })
        {
            var x1 = new Matrix<double>(5, ConvSequence.InputSize, TestSupport.Random(5, ConvSequence.InputSize, 12).Cast<double>().ToArray());
            var x2 = same ? x1 : new Matrix<double>(3, ConvSequence.InputSize, TestSupport.Random(3, ConvSequence.InputSize, 13).Cast<double>().ToArray());
            var workspace = new NtkDsl.Backends.Workspace<Tensor>();
            var result = zeros(x1.Rows, x2.Rows, dtype: ScalarType.Float64);
            var x1t = x1.ToTensor();
            GeneratedNtk<ConvSequence>(backend, TorchConvert.ToTensor(theta, 1, theta.Length), x1t, same ? x1t : x2.ToTensor(), same, result, workspace);
            long torchPlan = ConvSequence.NtkWorkspaceElements(x1.Rows, x2.Rows, same, NtkMode.Trace, backend.TraceOutputGroupLimit);
            long cpuPlan = ConvSequence.NtkWorkspaceElements(x1.Rows, x2.Rows, same, NtkMode.Trace, default(CpuBackend<double>).TraceOutputGroupLimit);
            Assert.Equal(torchPlan, workspace.HeldElements);
            Assert.True(torchPlan < cpuPlan, $"torch plan {torchPlan} vs cpu plan {cpuPlan}");
            var expected = CpuNetwork<ConvSequence, double>.Ntk(theta, x1, same ? null : x2, NtkMode.Trace);
            var actual = result.ToMatrix<double>();
            double diff = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max(), scale = expected.Data.Max(Math.Abs);
            Assert.True(diff / scale < 1e-12, $"same = {same}: relative difference {diff / scale:E2}");
            workspace.Clear();
        }

        static void GeneratedNtk<TNet>(TorchBackend backend, Tensor theta, Tensor x1, Tensor x2, bool same, Tensor result, NtkDsl.Backends.Workspace<Tensor> workspace)
            where TNet : NtkDsl.Backends.INetwork<TNet> =>
            TNet.Ntk(backend, theta, x1, x2, same, NtkMode.Trace, result, workspace);
    }

    [Fact]
    public void Autograd_baseline_of_conv_nets_equals_the_generated_ntk()
    {
        using var scope = NewDisposeScope();
        foreach (var (description, theta, inputs) in new[]
                 {
                     (ConvImage.Description, CpuNetwork<ConvImage, double>.InitializeParameters(9), ConvImage.InputSize),
                     (ConvSequence.Description, CpuNetwork<ConvSequence, double>.InitializeParameters(9), ConvSequence.InputSize),
                     (ConvReadout.Description, CpuNetwork<ConvReadout, double>.InitializeParameters(9), ConvReadout.InputSize),
                 })
        {
            var x1 = new Matrix<double>(3, inputs, TestSupport.Random(3, inputs, 10).Cast<double>().ToArray());
            var x2 = new Matrix<double>(2, inputs, TestSupport.Random(2, inputs, 11).Cast<double>().ToArray());
            var expected = description.Name switch
            {
                nameof(ConvImage) => CpuNetwork<ConvImage, double>.Ntk(theta, x1, x2, NtkMode.Full),
                nameof(ConvSequence) => CpuNetwork<ConvSequence, double>.Ntk(theta, x1, x2, NtkMode.Full),
                _ => CpuNetwork<ConvReadout, double>.Ntk(theta, x1, x2, NtkMode.Full),
            };
            var actual = TorchAutogradNtk.Ntk(description, TorchConvert.ToTensor(theta, 1, theta.Length), x1.ToTensor(), x2.ToTensor(), NtkMode.Full).ToMatrix<double>();
            double diff = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max(), scale = expected.Data.Max(Math.Abs);
            Assert.True(diff / scale < 1e-12, $"{description.Name}: relative difference {diff / scale:E2}");
        }
    }

    [Theory]
    [InlineData(NtkMode.Full)]
    [InlineData(NtkMode.Trace)]
    [InlineData(NtkMode.Diagonal)]
    public void Structured_ntk_of_both_conv_strategies_equals_the_cpu_backend(NtkMode mode)
    {
        // ConvImage contracts per-layer Jacobians; ConvWideChannels takes position pairs in both convolutions; ConvReadout's
        // second convolution takes the readout route behind its global average pool.
        using var scope = NewDisposeScope();
        Compare<ConvImage>(mode, same: false);
        Compare<ConvWideChannels>(mode, same: false);
        Compare<ConvWideChannels>(mode, same: true);
        Compare<ConvReadout>(mode, same: false);
        Compare<ConvReadout>(mode, same: true);
    }

    private static void Compare<TNet>(NtkMode mode, bool same) where TNet : Backends.INetwork<TNet>
    {
        var theta = CpuNetwork<TNet, double>.InitializeParameters(12);
        var x1 = new Matrix<double>(4, TNet.InputSize, TestSupport.Random(4, TNet.InputSize, 13).Cast<double>().ToArray());
        var x2 = same ? x1 : new Matrix<double>(3, TNet.InputSize, TestSupport.Random(3, TNet.InputSize, 14).Cast<double>().ToArray());
        var expected = CpuNetwork<TNet, double>.Ntk(theta, x1, same ? null : x2, mode);
        using var net = new TorchNetwork<TNet>(TorchBackend.Float64());
        var actual = net.Ntk(TorchConvert.ToTensor(theta, 1, theta.Length), x1.ToTensor(), same ? null : x2.ToTensor(), mode).ToMatrix<double>();
        double diff = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max(), scale = expected.Data.Max(Math.Abs);
        Assert.True(diff / scale < 1e-12, $"{typeof(TNet).Name} {mode}: relative difference {diff / scale:E2}");
    }

    [Fact]
    public void Autograd_baseline_includes_the_learning_rate_multipliers_of_mup_mean_field_and_a_custom_abc()
    {
        // PyTorch autograd's J, scaled by the description's rho: J diag(rho) J^T must equal the generated NTK.
        using var scope = NewDisposeScope();
        foreach (var (description, theta, expected, inputs) in new[]
                 {
                     (MupMlp.Description, MupMlp.InitializeParameters<double>(3), (Func<double[], Matrix<double>, Matrix<double>, Matrix<double>>)((t, a, b) => MupMlp.Ntk(t, a, b, NtkMode.Full)), MupMlp.InputSize),
                     (MeanFieldConv.Description, MeanFieldConv.InitializeParameters<double>(3), (t, a, b) => MeanFieldConv.Ntk(t, a, b, NtkMode.Full), MeanFieldConv.InputSize),
                     (AbcMlp.Description, AbcMlp.InitializeParameters<double>(3), (t, a, b) => AbcMlp.Ntk(t, a, b, NtkMode.Full), AbcMlp.InputSize),
                 })
        {
            var x1 = new Matrix<double>(3, inputs, TestSupport.Random(3, inputs, 12).Cast<double>().ToArray());
            var x2 = new Matrix<double>(2, inputs, TestSupport.Random(2, inputs, 13).Cast<double>().ToArray());
            var want = expected(theta, x1, x2);
            var actual = TorchAutogradNtk.Ntk(description, TorchConvert.ToTensor(theta, 1, theta.Length), x1.ToTensor(), x2.ToTensor(), NtkMode.Full).ToMatrix<double>();
            double diff = want.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max(), scale = want.Data.Max(Math.Abs);
            Assert.True(diff / scale < 1e-12, $"{description.Name}: relative difference {diff / scale:E2}");
            Assert.NotNull(description.LearningRateMultipliers<double>());
        }
    }

    [Fact]
    public void Rows_that_are_not_C_H_W_values_are_rejected_naming_the_sample_shape()
    {
        using var scope = NewDisposeScope();
        using var net = new TorchNetwork<ConvImage>(TorchBackend.Float64());
        var theta = TorchConvert.ToTensor(CpuNetwork<ConvImage, double>.InitializeParameters(1), 1, ConvImage.ParameterCount);
        var error = Assert.Throws<ArgumentException>(() => net.Forward(theta, zeros(2, 71, dtype: ScalarType.Float64)));
        Assert.Equal("x", error.ParamName);
        Assert.Contains("[2, 6, 6]", error.Message);
        Assert.Contains("[2, 71]", error.Message);
    }
}
