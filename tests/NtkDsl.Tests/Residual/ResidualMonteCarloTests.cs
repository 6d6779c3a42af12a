using System.Diagnostics;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tests.InfiniteWidth;
using Xunit.Abstractions;

namespace NtkDsl.Tests.Residual;

/// <summary>
/// The generated infinite-width NNGP and NTK of branching networks against Monte Carlo averages over initializations of
/// the generated empirical kernels (which the exact tests tie to J J^T and PyTorch, and which share no code with the kernel
/// state): a residual MLP (width 512, two blocks), a residual conv net with LayerNorm over channels (128 channels), and a
/// two-branch concatenation (512 ReLU and 256 Erf units). Per initialization the NTK is the empirical NTK of the one output;
/// the NNGP is the expectation of f(x) f(x') over the readout's weights given its input features, which is the
/// readout's own Jacobian Gram J_L J_L^T (exact for that layer). Measured errors: 0.5-3.6%, each within 1.3 standard errors.
/// Bound: 3 standard errors of each estimate
/// (<see cref="MonteCarloKernel.RelativeStandardError"/>) plus 3% for the O(depth / width) finite-width bias; fixed seeds.
/// </summary>
public sealed class ResidualMonteCarloTests(ITestOutputHelper output)
{
    private const int Samples = 24;

    [Fact]
    public void Residual_mlp_kernels_approach_the_analytic_ones() =>
        Check<WideResidualMlp>(WideResidualMlp.InfiniteWidth(Inputs(WideResidualMlp.InputSize)), "residual MLP");

    [Fact]
    public void Residual_conv_net_with_layer_norm_kernels_approach_the_analytic_ones() =>
        Check<WideResidualConvNet>(WideResidualConvNet.InfiniteWidth(Inputs(WideResidualConvNet.InputSize)), "residual conv net with LayerNorm");

    [Fact]
    public void Concatenated_branches_kernels_approach_the_analytic_ones() =>
        Check<WideConcatNet>(WideConcatNet.InfiniteWidth(Inputs(WideConcatNet.InputSize)), "two-branch FanInConcat");

    private static Matrix<double> Inputs(int size) => InfiniteWidthTestSupport.RandomInputs(4, size, 41);

    private void Check<TNet>(InfiniteWidthKernels analytic, string label) where TNet : INetwork<TNet>
    {
        var x = Inputs(TNet.InputSize);
        var readout = TNet.Description.Layers.OfType<DenseLayer>().Last();
        int n = x.Rows;
        var sw = Stopwatch.StartNew();
        var nngp = new MonteCarloKernel(n, n);
        var ntk = new MonteCarloKernel(n, n);
        for (int s = 0; s < Samples; s++)
        {
            var theta = CpuNetwork<TNet, double>.InitializeParameters(MonteCarloKernel.SampleSeed(17, s));
            ntk.Add(CpuNetwork<TNet, double>.Ntk(theta, x, null, NtkMode.Trace));
            var jacobian = CpuNetwork<TNet, double>.Jacobian(theta, x); // [n, P], one output
            var gram = new Matrix<double>(n, n);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = readout.WeightOffset; p < TNet.ParameterCount; p++) sum += jacobian[i, p] * jacobian[j, p];
                    gram[i, j] = sum;
                }

            nngp.Add(gram);
        }

        double eNngp = InfiniteWidthTestSupport.RelativeFrobenius(nngp.MeanSpan, analytic.Nngp.Data);
        double eNtk = InfiniteWidthTestSupport.RelativeFrobenius(ntk.MeanSpan, analytic.Ntk.Data);
        double boundNngp = 3 * nngp.RelativeStandardError + 0.03, boundNtk = 3 * ntk.RelativeStandardError + 0.03;
        output.WriteLine($"{label}, {Samples} networks ({sw.Elapsed.TotalSeconds:F1} s): NNGP error {eNngp:P2} (standard error {nngp.RelativeStandardError:P2}, " +
                         $"bound {boundNngp:P2}), NTK error {eNtk:P2} (standard error {ntk.RelativeStandardError:P2}, bound {boundNtk:P2})");
        Assert.True(eNngp < boundNngp, $"NNGP relative error {eNngp:P2} > {boundNngp:P2}");
        Assert.True(eNtk < boundNtk, $"NTK relative error {eNtk:P2} > {boundNtk:P2}");
        // Residual kernels fluctuate more over initializations (measured: 2-3% standard error at width 512 with 24 networks).
        Assert.True(boundNngp < 0.12 && boundNtk < 0.12, "the estimate is too noisy to test anything");
    }
}
