using NtkDsl.Tests.Support;
using Xunit.Abstractions;

namespace NtkDsl.Tests.Conv;

/// <summary>Wide conv nets for the end-to-end check: generated empirical NTKs averaged over initializations.</summary>
[Network(Channels = 1, Height = 5, Width = 5, WeightStd = 1.4, BiasStd = 0.3)]
[Conv(256, 3, Padding = Padding.Same), Relu]
[Conv(256, 3, Padding = Padding.Same), Relu]
[GlobalAvgPool]
[Dense(1)]
public partial class WideGapConvNet;

/// <summary>Valid padding, Erf, Flatten readout (same-position covariances only).</summary>
[Network(Channels = 2, Height = 4, Width = 4, WeightStd = 1.2, BiasStd = 0.2)]
[Conv(256, 3), Erf]
[Flatten]
[Dense(1)]
public partial class WideFlattenConvNet;

/// <summary>
/// The generated infinite-width members of conv nets: equal to the runtime recursion over their descriptions, and,
/// end to end, the limit of the generated empirical NTK (tested against explicit J J^T elsewhere) averaged over
/// random initializations of wide networks (256 channels). The runtime kernels are checked against independent
/// naive conv nets in InfiniteWidth/ConvMonteCarloTests; this closes the loop through the generator.
/// </summary>
public sealed class ConvInfiniteWidthTests(ITestOutputHelper output)
{
    [Fact]
    public void Generated_kernels_equal_the_runtime_recursion_over_the_description()
    {
        foreach (var (description, generated, diagonal, x1, x2) in new[]
                 {
                     Case(SameValidConvNet.Description, SameValidConvNet.InfiniteWidth, SameValidConvNet.InfiniteWidthDiagonal),
                     Case(CircularPoolConvNet.Description, CircularPoolConvNet.InfiniteWidth, CircularPoolConvNet.InfiniteWidthDiagonal),
                     Case(SequenceConvNet.Description, SequenceConvNet.InfiniteWidth, SequenceConvNet.InfiniteWidthDiagonal),
                     Case(StandardConvNet.Description, StandardConvNet.InfiniteWidth, StandardConvNet.InfiniteWidthDiagonal),
                 })
        {
            var runtime = NtkDsl.InfiniteWidth.Kernels(description, x1, x2);
            Assert.Equal(runtime.Nngp.Data, generated.Nngp.Data);
            Assert.Equal(runtime.Ntk.Data, generated.Ntk.Data);
            var runtimeDiagonal = NtkDsl.InfiniteWidth.Diagonal(description, x1);
            Assert.Equal(runtimeDiagonal.Ntk, diagonal.Ntk);
            Assert.All(generated.Ntk.Data, v => Assert.True(double.IsFinite(v)));
        }
    }

    private static (NetworkDescription, InfiniteWidthKernels, InfiniteWidthDiagonal, Matrix<double>, Matrix<double>) Case(NetworkDescription d,
        Func<Matrix<double>, Matrix<double>?, InfiniteWidthOptions?, InfiniteWidthKernels> kernels,
        Func<Matrix<double>, InfiniteWidthOptions?, InfiniteWidthDiagonal> diagonal)
    {
        var x1 = TestMath.RandomMatrix(3, d.Inputs, seed: 5);
        var x2 = TestMath.RandomMatrix(2, d.Inputs, seed: 6);
        return (d, kernels(x1, x2, null), diagonal(x1, null), x1, x2);
    }

    [Fact]
    public void Global_average_pooling_net_Ntk_is_the_limit_of_its_empirical_ntk() =>
        AssertLimit(WideGapConvNet.Description, seed => WideGapConvNet.Ntk(WideGapConvNet.InitializeParameters<double>(seed), X(WideGapConvNet.Description)),
            WideGapConvNet.InfiniteWidth(X(WideGapConvNet.Description)).Ntk);

    [Fact]
    public void Flatten_net_Ntk_is_the_limit_of_its_empirical_ntk() =>
        AssertLimit(WideFlattenConvNet.Description, seed => WideFlattenConvNet.Ntk(WideFlattenConvNet.InitializeParameters<double>(seed), X(WideFlattenConvNet.Description)),
            WideFlattenConvNet.InfiniteWidth(X(WideFlattenConvNet.Description)).Ntk);

    private static Matrix<double> X(NetworkDescription d) => TestMath.RandomMatrix(4, d.Inputs, seed: 11);

    // 32 initializations of 256-channel nets: the measured relative standard error of the mean is ~1-2%; the
    // finite-width bias is O(1/channels). The bound is 3 standard errors + 1.5%; seeds are fixed (deterministic).
    private void AssertLimit(NetworkDescription d, Func<int, Matrix<double>> empirical, Matrix<double> analytic)
    {
        var mc = MonteCarloKernel.Run(empirical, samples: 32, seed: 29);
        double error = TestMath.RelativeError(mc.Mean, analytic);
        double bound = 3 * mc.RelativeStandardError + 0.015;
        output.WriteLine($"{d.Name}: relative error {error:P2}, standard error {mc.RelativeStandardError:P2}, bound {bound:P2}");
        Assert.True(error < bound, $"{d.Name}: relative error {error:P2} exceeds {bound:P2} (standard error {mc.RelativeStandardError:P2})");
    }
}
