using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// The seed's statement made executable with the generated code: empirical NTKs of random networks
/// concentrate around the analytic infinite-width NTK, with fluctuations shrinking like width^-1/2.
/// </summary>
public class ConvergenceTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly Matrix<double> X = TestMath.RandomMatrix(6, 3, seed: 21);

    private static (Matrix<double> Analytic, MonteCarloKernel Estimate) MonteCarlo<TNet>(int samples, Func<Matrix<double>, InfiniteWidthKernels> analytic)
        where TNet : INetwork<TNet>
    {
        var estimate = MonteCarloKernel.Run(seed => CpuNetwork<TNet, double>.Ntk(CpuNetwork<TNet, double>.InitializeParameters(seed), X), samples, seed: 5);
        return (analytic(X).Ntk, estimate);
    }

    public static TheoryData<string> Activations() => ["Relu", "LeakyRelu", "Abs", "Erf", "Tanh", "Sigmoid", "Gelu", "Softplus", "Sin", "Identity"];

    [Theory]
    [MemberData(nameof(Activations))]
    public void Monte_Carlo_mean_at_width_1024_is_within_5_percent_of_the_analytic_ntk(string activation)
    {
        // 64 initializations: fluctuations of a width-1024 NTK are a few percent, their mean ~8x smaller;
        // the O(1/width) bias is ~0.1%. Measured 2026-12-01: 0.31-0.75% at the test's seed 5 over the ten activations,
        // at most 2.5% (Gelu, seed 7) over seeds 6-8. Bound 5% (neural-tangents uses 2-5%): 2x the worst of those 40 draws.
        var (analytic, estimate) = activation switch
        {
            "Relu" => MonteCarlo<Wide1024Relu>(64, x => Wide1024Relu.InfiniteWidth(x)),
            "LeakyRelu" => MonteCarlo<Wide1024LeakyRelu>(64, x => Wide1024LeakyRelu.InfiniteWidth(x)),
            "Abs" => MonteCarlo<Wide1024Abs>(64, x => Wide1024Abs.InfiniteWidth(x)),
            "Erf" => MonteCarlo<Wide1024Erf>(64, x => Wide1024Erf.InfiniteWidth(x)),
            "Tanh" => MonteCarlo<Wide1024Tanh>(64, x => Wide1024Tanh.InfiniteWidth(x)),
            "Sigmoid" => MonteCarlo<Wide1024Sigmoid>(64, x => Wide1024Sigmoid.InfiniteWidth(x)),
            "Gelu" => MonteCarlo<Wide1024Gelu>(64, x => Wide1024Gelu.InfiniteWidth(x)),
            "Softplus" => MonteCarlo<Wide1024Softplus>(64, x => Wide1024Softplus.InfiniteWidth(x)),
            "Sin" => MonteCarlo<Wide1024Sin>(64, x => Wide1024Sin.InfiniteWidth(x)),
            _ => MonteCarlo<Wide1024Identity>(64, x => Wide1024Identity.InfiniteWidth(x)),
        };
        Assert.Equal(64, estimate.Count);
        double error = InfiniteWidthTestSupport.RelativeFrobenius(estimate.MeanSpan, analytic.Data);
        output.WriteLine($"{activation}: relative Frobenius error of the 64-sample mean {error:P2}");
        Assert.True(error < 0.05, $"{activation}: relative Frobenius error {error:P2}");
    }

    [Fact]
    public void Fluctuations_over_initializations_shrink_like_width_to_the_minus_one_half()
    {
        var analytic = Relu64.InfiniteWidth(X).Ntk; // widths do not enter the analytic kernel
        var widths = new double[] { 64, 128, 256, 512, 1024, 2048 };
        var spreads = new[]
        {
            Spread<Relu64>(analytic), Spread<Relu128>(analytic), Spread<Relu256>(analytic),
            Spread<Relu512>(analytic), Spread<Relu1024>(analytic), Spread<Relu2048>(analytic),
        };

        // Single networks: the mean distance of one empirical NTK from the analytic kernel, over 12 seeds.
        double slope = LogLogSlope(widths, spreads);
        output.WriteLine($"spread by width: {string.Join(", ", widths.Zip(spreads, (w, e) => $"{w}: {e:P2}"))}; slope {slope:F3}");
        // Measured 2026-12-01: slope -0.46 at the test's seeds 100-111, -0.42 to -0.54 over four more sets of 12 seeds
        // (200-211 ... 500-511); width-2048 spread 5.0-6.2%, ratio width 64 / 2048 4.8-6.1 (sqrt(32) = 5.7).
        // Bounds: slope within 0.15 of -1/2 (about twice the spread over seed sets), spread below 8%, ratio above 4.
        Assert.InRange(slope, -0.65, -0.35);
        // And one wide network alone is close to the limit: fluctuations are ~c/sqrt(width) with c ~ 2.5 for
        // this two-hidden-layer ReLU net, so ~6% at width 2048 against ~30% at width 64.
        Assert.True(spreads[^1] < 0.08, $"width 2048: {spreads[^1]:P2}");
        Assert.True(spreads[^1] < spreads[0] / 4, "spread must fall by more than 4x from width 64 to 2048");
    }

    private static double Spread<TNet>(Matrix<double> analytic) where TNet : INetwork<TNet>
    {
        double sum = 0;
        const int seeds = 12;
        for (int s = 0; s < seeds; s++)
        {
            var ntk = CpuNetwork<TNet, double>.Ntk(CpuNetwork<TNet, double>.InitializeParameters(100 + s), X);
            sum += InfiniteWidthTestSupport.RelativeFrobenius(ntk.Data, analytic.Data);
        }
        return sum / seeds;
    }

    internal static double LogLogSlope(double[] x, double[] y)
    {
        var lx = x.Select(v => Math.Log(v)).ToArray();
        var ly = y.Select(v => Math.Log(v)).ToArray();
        double mx = lx.Average(), my = ly.Average();
        double sxy = lx.Zip(ly).Sum(p => (p.First - mx) * (p.Second - my));
        double sxx = lx.Sum(v => (v - mx) * (v - mx));
        return sxy / sxx;
    }
}
