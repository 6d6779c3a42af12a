using System.Diagnostics;
using NtkDsl.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// The analytic CNN-GP (NNGP) and CNTK against Monte Carlo averages of empirical kernels of random wide conv nets built
/// by <see cref="NaiveConvNet"/> (loops, backpropagation written out; independent of the kernel state).
/// </summary>
/// <remarks>
/// Two 3x3 convolutions of 256 channels with activations, then a readout (Flatten, GlobalAvgPool, or AvgPool and
/// Flatten) and a Dense readout; 4 images [2, 4, 4] (Same) or [2, 7, 7] (Valid), sw = 1.4, sb = 0.3. The NNGP estimate is the
/// expectation over the readout weights given its input features (exact for that layer), the NTK the gradient Gram of one output.
/// The finite-width bias of the mean is O(1/width) (~0.4%); the error is dominated by sampling noise, reported with
/// the relative standard errors of <see cref="MonteCarloKernel"/>. The bound is 3 standard errors of each estimate
/// plus 1% for the finite-width bias (fixed seeds: the outcome is deterministic).
/// </remarks>
public sealed class ConvMonteCarloTests(ITestOutputHelper output)
{
    private const int Width = 256;
    private const int Samples = 24;

    public static TheoryData<string, Padding, string, Parameterization> Cases() => new()
    {
        { "Erf", Padding.Same, "GlobalAvgPool", Parameterization.Ntk },
        { "Relu", Padding.Same, "Flatten", Parameterization.Ntk },
        { "Relu", Padding.Valid, "GlobalAvgPool", Parameterization.Standard },
        { "Relu", Padding.Same, "AvgPool", Parameterization.Standard },
        { "Erf", Padding.Valid, "Flatten", Parameterization.Standard },
        { "Erf", Padding.Valid, "AvgPool", Parameterization.Ntk },
    };

    internal static ConvNetSpec Net(Activation activation, Padding padding, string readout, Parameterization parameterization, int width, int outputs)
    {
        var input = padding == Padding.Valid ? new SpatialShape(7, 7) : new SpatialShape(4, 4);
        var net = new ConvNetSpec(2, input, parameterization, weightStd: 1.4, biasStd: 0.3)
            .Conv(width, 3, padding).Act(activation).Conv(width, 3, padding).Act(activation);
        net = readout switch
        {
            "Flatten" => net.Flatten(),
            "GlobalAvgPool" => net.GlobalAvgPool(),
            _ => net.Pool(2, 1, Padding.Valid).Flatten(),
        };
        return net.Dense(outputs);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AverageEmpiricalKernelsApproachCnnGpAndCntk(string activationName, Padding padding, string readout, Parameterization parameterization)
    {
        var activation = InfiniteWidthTestSupport.ByName(activationName);
        var net = Net(activation, padding, readout, parameterization, Width, outputs: 1);
        var x = InfiniteWidthTestSupport.RandomInputs(4, net.InputSize, 31);
        var analytic = net.Kernels(x);

        var sw = Stopwatch.StartNew();
        var draws = new (Matrix<double> Nngp, Matrix<double> Ntk)[Samples];
        Parallel.For(0, Samples, i =>
        {
            var conv = new NaiveConvNet(net.Description);
            conv.Initialize(MonteCarloKernel.SampleSeed(23, i));
            draws[i] = conv.EmpiricalKernels(x);
        });
        var nngp = new MonteCarloKernel(4, 4);
        var ntk = new MonteCarloKernel(4, 4);
        foreach (var (n, t) in draws)
        {
            nngp.Add(n);
            ntk.Add(t);
        }

        double eNngp = InfiniteWidthTestSupport.RelativeFrobenius(nngp.MeanSpan, analytic.Nngp.Data);
        double eNtk = InfiniteWidthTestSupport.RelativeFrobenius(ntk.MeanSpan, analytic.Ntk.Data);
        double boundNngp = 3 * nngp.RelativeStandardError + 0.01, boundNtk = 3 * ntk.RelativeStandardError + 0.01;
        output.WriteLine($"{activationName} {padding} {readout} {parameterization}, {Width} channels, {Samples} networks ({sw.Elapsed.TotalSeconds:F1} s): " +
            $"NNGP error {eNngp:P2} (standard error {nngp.RelativeStandardError:P2}, bound {boundNngp:P2}), " +
            $"NTK error {eNtk:P2} (standard error {ntk.RelativeStandardError:P2}, bound {boundNtk:P2})");
        Assert.True(eNngp < boundNngp, $"NNGP relative error {eNngp:P2} > {boundNngp:P2}");
        Assert.True(eNtk < boundNtk, $"NTK relative error {eNtk:P2} > {boundNtk:P2}");
        Assert.True(boundNngp < 0.08 && boundNtk < 0.08, "the estimate is too noisy to test anything");
    }

    [Fact]
    public void NaiveGradientMatchesFiniteDifferences()
    {
        // The Monte Carlo check is only as good as the naive gradient: check it against central differences.
        foreach (var (readout, parameterization) in new[] { ("AvgPool", Parameterization.Ntk), ("GlobalAvgPool", Parameterization.Standard), ("Flatten", Parameterization.Ntk) })
        {
            var net = Net(Activation.Plain(ActivationKind.Tanh), Padding.Same, readout, parameterization, width: 3, outputs: 2);
            var conv = new NaiveConvNet(net.Description);
            conv.Initialize(5);
            var x = InfiniteWidthTestSupport.RandomInputs(1, net.InputSize, 8).Row(0).ToArray();
            var grad = conv.Gradient(x, 1);
            const double h = 1e-6;
            for (int p = 0; p < conv.Parameters.Length; p++)
            {
                double saved = conv.Parameters[p];
                conv.Parameters[p] = saved + h;
                double plus = conv.Forward(x)[1];
                conv.Parameters[p] = saved - h;
                double minus = conv.Forward(x)[1];
                conv.Parameters[p] = saved;
                Assert.Equal((plus - minus) / (2 * h), grad[p], 1e-7);
            }
        }
    }
}
