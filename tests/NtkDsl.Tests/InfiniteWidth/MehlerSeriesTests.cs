using NtkDsl.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static NtkDsl.Tests.InfiniteWidth.MomentReferenceTests;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// The Mehler (Hermite) series of the quadrature moments (<see cref="HermiteExpansion"/>): taken where its bound allows
/// and then accurate against the 20-digit mpmath references (tests/reference/moment-references.json), against nested
/// adaptive quadrature (the independent path, <see cref="InfiniteWidthOptions.MehlerSeries"/> = false) across 16 orders
/// of magnitude of variance, bit for bit the same in rows (cached expansions) as entry by entry, and handing what it
/// cannot prove accurate (a kink away from 0, correlations near +-1) to the adaptive quadrature.
/// </summary>
public sealed class MehlerSeriesTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-10;

    /// <summary>A kink at x = 1 (not a panel breakpoint): max(x - 1, 0), phi' a step.</summary>
    private readonly struct KinkAtOne : IScalarActivation
    {
        public void Evaluate(double x, out double value, out double derivative)
        {
            value = Math.Max(x - 1, 0);
            derivative = x > 1 ? 1 : 0;
        }
    }

    private static HermiteExpansion Expansion(string name, double q, int terms = HermiteExpansion.MaxTerms) => name == "Silu"
        ? HermiteExpansion.Of(new Silu(), q, terms)
        : HermiteExpansion.Of(new ActivationMoments.Builtin(Activation.Plain(Enum.Parse<ActivationKind>(name))), q, terms);

    /// <summary>
    /// The series alone at every reference point with 0 &lt; |rho| &lt; 1 (correlations -0.6, 0.9 and 1 - 1e-6 at variances
    /// from 1e-8 to 1e8, and mixed 1e8 with 1e-8): wherever it accepts, within 1e-10 of the mpmath value; and it must
    /// accept at |rho| = 0.6 for every variance pair, so the fast path is what the references check there.
    /// </summary>
    [Fact]
    public void SeriesMatchesHighPrecisionReferences()
    {
        var root = ReferenceData.Load("moment-references.json");
        int accepted = 0, points = 0;
        double worst = 0;
        foreach (var p in root.GetProperty("points").EnumerateArray())
        {
            string name = p.GetProperty("activation").GetString()!;
            double q11 = p.GetProperty("q11").GetDouble(), q12 = p.GetProperty("q12").GetDouble(), q22 = p.GetProperty("q22").GetDouble();
            double rho = p.GetProperty("rho").GetDouble();
            if (rho == 0 || Math.Abs(rho) == 1) continue;
            points++;
            var first = Expansion(name, q11);
            var second = Expansion(name, q22);
            bool ok = HermiteExpansion.TrySum(first, second, q12 / Math.Sqrt(q11 * q22), Tolerance, out var m);
            // The short expansions (what most entries use) agree with the long ones wherever they converge.
            if (HermiteExpansion.TrySum(Expansion(name, q11, HermiteExpansion.ShortTerms), Expansion(name, q22, HermiteExpansion.ShortTerms),
                    q12 / Math.Sqrt(q11 * q22), Tolerance, out var shortSum))
            {
                Assert.True(ok, $"{name} at q11 = {q11}, q22 = {q22}, rho = {rho}: the short series converged, the long one not");
                Assert.True(Error(shortSum.K, m.K, 0) <= Tolerance && Error(shortSum.KDot, m.KDot, 0) <= Tolerance, $"{name}: short {shortSum} vs long {m}");
            }

            Assert.True(ok || Math.Abs(rho) > 0.6, $"{name} at q11 = {q11}, q22 = {q22}, rho = {rho}: the series did not converge ({first.IsUsable} {first.ErrorC} {first.ErrorD} {first.C[0]} {first.D[0]})");
            if (!ok) continue;
            accepted++;
            double scaleK = Math.Sqrt(first.C.ToArray().Sum(c => c * c) * second.C.ToArray().Sum(c => c * c));
            double scaleKDot = Math.Sqrt(first.D.ToArray().Sum(c => c * c) * second.D.ToArray().Sum(c => c * c));
            double eK = Error(m.K, Parse(p.GetProperty("K")), scaleK), eKDot = Error(m.KDot, Parse(p.GetProperty("KDot")), scaleKDot);
            worst = Math.Max(worst, Math.Max(eK, eKDot));
            Assert.True(eK <= Tolerance && eKDot <= Tolerance, $"{name} at q11 = {q11}, q22 = {q22}, rho = {rho}: K {eK:E1}, KDot {eKDot:E1}");
            output.WriteLine($"{name} q11 = {q11}, q22 = {q22}, rho = {rho}: series, error {Math.Max(eK, eKDot):E1}");
        }

        output.WriteLine($"series accepted at {accepted} of {points} reference points with 0 < |rho| < 1; worst error {worst:E2}");
        Assert.True(accepted >= points / 2, $"series accepted at only {accepted} of {points} points");
    }

    public static TheoryData<string> Activations() => ["Tanh", "Sigmoid", "Softplus", "Gelu", "Erf"];

    // Variances over 16 orders of magnitude (and 0) and correlations from -1 to 1.
    private static readonly double[] Variances = [0, 1e-8, 1e-3, 0.3, 1, 2.5, 30, 100, 1e4, 1e8];
    private static readonly double[] Correlations = [-1, -0.95, -0.6, -0.1, 0, 0.02, 0.4, 0.85, 0.97, 0.999, 1];

    /// <summary>
    /// Rows that mix tiny and huge second variances: <see cref="IMomentRule.Row"/> (expansions cached per variance) equals
    /// <see cref="IMomentRule.Entry"/> and the static <see cref="ActivationMoments.Quadrature"/> bit for bit, and agrees
    /// with nested adaptive quadrature (the series switched off) to 1e-10 relative (of the value, or of 1e-6 of the
    /// Cauchy-Schwarz scale where the value cancels).
    /// </summary>
    [Theory]
    [MemberData(nameof(Activations))]
    public void RowsEqualEntriesAndAgreeWithAdaptiveQuadrature(string name)
    {
        var activation = name == "Erf" ? Activation.Erf(1, 1.7, 0.1) : Activation.Plain(Enum.Parse<ActivationKind>(name));
        var rule = new BuiltinMoments(activation, Tolerance);
        var adaptive = new BuiltinMoments(activation, Tolerance, Series: false);
        var q22 = new List<double>();
        var q12 = new List<double>();
        foreach (double q in Variances)
            foreach (double rho in Correlations)
            {
                q22.Add(q);
                q12.Add(rho);
            }

        double worst = 0;
        foreach (double q11 in new[] { 1e-8, 1.0, 30, 1e8 })
        {
            var covariances = q12.Select((rho, j) => rho * Math.Sqrt(q11 * q22[j])).ToArray();
            var row = new KernelMoments[q22.Count];
            rule.Row(q11, covariances, q22.ToArray(), row);
            for (int j = 0; j < row.Length; j++)
            {
                Assert.Equal(rule.Entry(q11, covariances[j], q22[j]), row[j]);
                Assert.Equal(ActivationMoments.Quadrature(activation, q11, covariances[j], q22[j]), row[j]);
                var reference = adaptive.Entry(q11, covariances[j], q22[j]);
                var d1 = adaptive.Diagonal(q11);
                var d2 = adaptive.Diagonal(q22[j]);
                double eK = Error(row[j].K, reference.K, Math.Sqrt(d1.K * d2.K));
                double eKDot = Error(row[j].KDot, reference.KDot, Math.Sqrt(d1.KDot * d2.KDot));
                worst = Math.Max(worst, Math.Max(eK, eKDot));
                Assert.True(eK <= Tolerance && eKDot <= Tolerance,
                    $"{name} at q11 = {q11}, q22 = {q22[j]}, rho = {q12[j]}: {row[j]} vs adaptive {reference} ({eK:E1}, {eKDot:E1})");
            }
        }

        output.WriteLine($"{name}: worst relative difference between the series and adaptive quadrature {worst:E2}");
    }

    /// <summary>The same for an activation given by code (SiLU), through its rule and <see cref="ActivationMoments.Numerical{TActivation}"/>.</summary>
    [Fact]
    public void CodeDefinedActivationRowsEqualEntriesAndAgreeWithAdaptiveQuadrature()
    {
        var rule = new NumericalMoments<Silu>(new Silu(), InfiniteWidthOptions.Default);
        var adaptive = new NumericalMoments<Silu>(new Silu(), new InfiniteWidthOptions { MehlerSeries = false });
        double[] q22 = [1e-8, 1e8, 0.5, 1e-8, 40, 1e4, 1, 0];
        double[] rho = [0.3, -0.5, 0.9, -0.99, 0.7, 0.1, 1, 0];
        foreach (double q11 in new[] { 1e-6, 2.0, 1e6 })
        {
            var covariances = rho.Select((r, j) => r * Math.Sqrt(q11 * q22[j])).ToArray();
            var row = new KernelMoments[q22.Length];
            rule.Row(q11, covariances, q22, row);
            for (int j = 0; j < row.Length; j++)
            {
                Assert.Equal(ActivationMoments.Numerical(new Silu(), q11, covariances[j], q22[j]), row[j]);
                var reference = adaptive.Entry(q11, covariances[j], q22[j]);
                double scaleK = Math.Sqrt(rule.Diagonal(q11).K * rule.Diagonal(q22[j]).K);
                double scaleKDot = Math.Sqrt(rule.Diagonal(q11).KDot * rule.Diagonal(q22[j]).KDot);
                Assert.True(Error(row[j].K, reference.K, scaleK) <= Tolerance && Error(row[j].KDot, reference.KDot, scaleKDot) <= Tolerance,
                    $"SiLU at q11 = {q11}, q22 = {q22[j]}, rho = {rho[j]}: {row[j]} vs {reference}");
            }
        }
    }

    /// <summary>
    /// A kink away from the panel breakpoints defeats the coefficients' Gauss-Legendre panels: their error estimate sees
    /// it, the expansion declares itself unusable, and the moments come from adaptive quadrature (matching it to 1e-9,
    /// the accuracy the adaptive scheme reaches on a kink inside a panel).
    /// </summary>
    [Fact]
    public void UnresolvedKinkFallsBackToAdaptiveQuadrature()
    {
        Assert.False(HermiteExpansion.Of(new KinkAtOne(), 4).IsUsable);
        Assert.True(HermiteExpansion.Of(new Silu(), 4).IsUsable);
        var tight = new InfiniteWidthOptions { MehlerSeries = false, QuadratureTolerance = 1e-12 };
        var m = ActivationMoments.Numerical(new KinkAtOne(), 4, 1.2, 3);
        var reference = ActivationMoments.Numerical(new KinkAtOne(), 4, 1.2, 3, tight);
        Assert.True(Math.Abs(m.K - reference.K) <= 1e-9 * reference.K && Math.Abs(m.KDot - reference.KDot) <= 1e-9 * reference.KDot, $"{m} vs {reference}");
    }

    /// <summary>The tanh net and a code-defined activation net: the kernels with and without the series agree to 1e-10.</summary>
    [Fact]
    public void NetworkKernelsAgreeWithAndWithoutTheSeries()
    {
        var x = InfiniteWidthTestSupport.RandomInputs(12, 5, 3, scale: 2);
        var tanh = InfiniteWidthTestSupport.Mlp(5, 16, 3, Activation.Plain(ActivationKind.Tanh), Parameterization.Ntk, 1.5, 0.2);
        var series = NtkDsl.InfiniteWidth.Kernels(tanh, x);
        var adaptive = NtkDsl.InfiniteWidth.Kernels(tanh, x, null, new InfiniteWidthOptions { MehlerSeries = false });
        AssertClose(series.Nngp, adaptive.Nngp);
        AssertClose(series.Ntk, adaptive.Ntk);

        var a = KernelState.FromInputs(x);
        var b = KernelState.FromInputs(x, null, new InfiniteWidthOptions { MehlerSeries = false });
        foreach (var state in new[] { a, b })
        {
            state.Dense(new DenseLayer(5, 8, 1.4, 0.3, true, 0, 40), Parameterization.Ntk);
            state.Activate(new Silu());
        }

        AssertClose(a.Result().Nngp, b.Result().Nngp);
        AssertClose(a.Result().Ntk, b.Result().Ntk);
    }

    private static void AssertClose(Matrix<double> actual, Matrix<double> expected)
    {
        double max = expected.Data.Max(Math.Abs);
        for (int i = 0; i < expected.Data.Length; i++)
            Assert.True(Math.Abs(actual.Data[i] - expected.Data[i]) <= Tolerance * max, $"entry {i}: {actual.Data[i]:R} vs {expected.Data[i]:R}");
    }
}
