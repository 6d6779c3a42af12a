using NtkDsl.Tests.Networks;

namespace NtkDsl.Tests.Initialization;

/// <summary>
/// InitializeParameters against golden values made independently (make_goldens.py, a Python re-implementation of the
/// documented seeding), and the statistical independence of the streams of consecutive seeds.
/// </summary>
public class InitializationTests
{
    private static double[] Draw<T>(string network, int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        T[] theta = network switch
        {
            "MyNet" => MyNet.InitializeParameters<T>(seed),
            "StandardNet" => StandardNet.InitializeParameters<T>(seed),
            _ => throw new ArgumentOutOfRangeException(nameof(network), network, "no such test network"),
        };
        return [.. theta.Select(double.CreateChecked)];
    }

    public static TheoryData<string, int> Cases()
    {
        var cases = new TheoryData<string, int>();
        foreach (var (network, seed) in InitializerGoldens.Values.Select(g => (g.Network, g.Seed)).Distinct()) cases.Add(network, seed);
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parameters_equal_the_independently_computed_golden_values(string network, int seed)
    {
        // Exact equality: both sides compute std * z with the same IEEE operations and the platform's log/sin/cos,
        // rounded once to the element type. (A libm that rounds log/sin/cos differently could move the last bit.)
        var float64 = Draw<double>(network, seed);
        var float32 = Draw<float>(network, seed);
        var goldens = InitializerGoldens.Values.Where(g => g.Network == network && g.Seed == seed).ToArray();
        Assert.True(goldens.Length >= 5);
        foreach (var g in goldens)
        {
            Assert.True(float64[g.Index] == g.Double, $"{network} seed {seed} theta[{g.Index}]: float64 {float64[g.Index]:R}, golden {g.Double:R}");
            Assert.True(float32[g.Index] == g.Single, $"{network} seed {seed} theta[{g.Index}]: float32 {float32[g.Index]:R}, golden {g.Single:R}");
        }
    }

    // Dependence between two streams: the largest |sample correlation| of the draws, and of their squares (a shift by one
    // uniform of the Box-Muller input leaves the draws uncorrelated but not their squares), over shifts of up to MaxLag
    // draws. For independent streams each correlation has standard deviation 1/sqrt(n): the bound is 5/sqrt(n). A test
    // checks at most 126 correlations, so a false alarm has probability below 1e-4 for random seeds (these are fixed).
    private const double Sigmas = 5;
    private const int MaxLag = 4;

    [Fact]
    public void Consecutive_seeds_give_uncorrelated_streams_at_every_small_shift()
    {
        // JacotRelu: 503,001 parameters, every one N(0, 1) (NTK parameterization), over 8 chunks.
        foreach (int seed in new[] { 0, 1, 2, 41, 1000, int.MaxValue - 1, -2 })
        {
            var a = JacotRelu.InitializeParameters<double>(seed);
            var b = JacotRelu.InitializeParameters<double>(seed + 1);
            AssertUncorrelated(a, b, $"seeds {seed} and {seed + 1}");
        }
    }

    [Fact]
    public void Chunks_of_one_seed_are_uncorrelated_streams()
    {
        // Each chunk of 2^16 parameters has its own substream; neighbouring chunks must not be shifted copies.
        const int chunk = 1 << 16;
        var theta = JacotRelu.InitializeParameters<double>(7);
        for (int c = 0; c + 2 <= theta.Length / chunk; c++)
            AssertUncorrelated(theta.AsSpan(c * chunk, chunk).ToArray(), theta.AsSpan((c + 1) * chunk, chunk).ToArray(), $"chunks {c} and {c + 1}");
    }

    [Fact]
    public void The_check_detects_streams_shifted_by_one_uniform_or_one_pair_of_draws()
    {
        // The seeding bug fixed earlier made seed s + 1 the stream of seed s shifted by one SplitMix64 step (one uniform);
        // the check must see that shift, and a shift by one Box-Muller pair, or the tests above prove nothing.
        const int n = 1 << 19;
        var source = new GaussianSource(3);
        var a = Enumerable.Range(0, n).Select(_ => source.Next()).ToArray();
        var shifted = new GaussianSource(3);
        shifted.NextUniform();
        var b = Enumerable.Range(0, n).Select(_ => shifted.Next()).ToArray();
        double bound = Sigmas / Math.Sqrt(n - MaxLag);
        Assert.True(Dependence(a, b) > 2 * bound, $"one-uniform shift: {Dependence(a, b):E2}, bound {bound:E2}");
        Assert.True(Dependence(a, a[2..]) > 0.99);
    }

    private static void AssertUncorrelated(double[] a, double[] b, string what)
    {
        double bound = Sigmas / Math.Sqrt(a.Length - MaxLag);
        double worst = Dependence(a, b);
        Assert.True(worst < bound, $"{what}: |correlation| {worst:E2} at some shift in [-{MaxLag}, {MaxLag}] draws, bound {bound:E2}");
    }

    private static double Dependence(double[] a, double[] b) =>
        Math.Max(MaxLagCorrelation(a, b), MaxLagCorrelation([.. a.Select(v => v * v)], [.. b.Select(v => v * v)]));

    // max over shifts L in [-MaxLag, MaxLag] of |corr(a[i], b[i + L])|.
    private static double MaxLagCorrelation(double[] a, double[] b)
    {
        double worst = 0;
        for (int lag = -MaxLag; lag <= MaxLag; lag++)
        {
            int from = Math.Max(0, -lag), to = Math.Min(a.Length, b.Length - lag);
            worst = Math.Max(worst, Math.Abs(Correlation(a.AsSpan(from, to - from), b.AsSpan(from + lag, to - from))));
        }
        return worst;
    }

    private static double Correlation(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        double mx = 0, my = 0;
        for (int i = 0; i < x.Length; i++) { mx += x[i]; my += y[i]; }
        mx /= x.Length;
        my /= y.Length;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.Sqrt(sxx * syy);
    }
}
