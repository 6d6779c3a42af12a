using Xunit;
using Xunit.Abstractions;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// Closed-form moments against independent numerical integration (the adaptive quadrature of the activation's own
/// phi and phi', forced on every kind), and the quadrature's tolerance contract.
/// </summary>
public sealed class ActivationMomentTests(ITestOutputHelper output)
{
    // (q11, q12, q22): generic, negative correlation, nearly singular, exactly singular (diagonal),
    // anti-correlated singular, independent, zero variance on one side, large variance, correlation 0.999, all zero,
    // and variances over 16 orders of magnitude (equal, mixed, correlated and not).
    private static readonly (double Q11, double Q12, double Q22)[] Covariances =
    [
        (1.0, 0.5, 2.0), (0.3, -0.2, 0.5), (2.0, 1.99, 2.0), (1.0, 1.0, 1.0), (0.7, -0.7, 0.7),
        (0.5, 0.0, 1.5), (0.0, 0.0, 1.0), (4.0, 1.5, 3.0), (1.0, 0.999, 1.0), (0.0, 0.0, 0.0),
        (1e-8, 5e-9, 1e-8), (1e8, 9.9e7, 1e8), (1e8, -3e7, 1e8), (1e8, 0.5, 1e-8), (1e4, 99.0, 1.0), (1e6, 1e6, 1e6),
    ];

    // Sin's integrand oscillates b sqrt(q) / (2 pi) times per standard deviation: quadrature is kept to b^2 q <= 25.
    private static bool Feasible(Activation a, double q11, double q22) =>
        a.Kind != ActivationKind.Sin || a.B * a.B * Math.Max(q11, q22) <= 25;

    public static TheoryData<string> ClosedFormActivations()
    {
        var data = new TheoryData<string>();
        foreach (var a in InfiniteWidthTestSupport.AllActivations().Where(ActivationMoments.HasClosedForm)) data.Add(a.ToString());
        return data;
    }

    /// <summary>
    /// Closed form vs forced quadrature of the activation's own phi and phi' (adaptive Gauss-Kronrod for smooth kinds,
    /// polar Gauss-Legendre between the kinks for piecewise-linear ones), relative to the Cauchy-Schwarz scale
    /// sqrt(K11 K22) so that entries near zero are not judged by a vanishing denominator, at the default tolerance
    /// 1e-10 (issue 13 measured 35% NTK error for forced degree-25 Gauss-Hermite on a mixed Erf/ReLU net).
    /// </summary>
    [Theory]
    [MemberData(nameof(ClosedFormActivations))]
    public void ClosedFormMatchesQuadrature(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        const double tolerance = 1e-10;
        double worstK = 0, worstKDot = 0;
        foreach (var (q11, q12, q22) in Covariances.Where(c => Feasible(activation, c.Q11, c.Q22)))
        {
            var (errK, errKDot) = Errors(activation, q11, q12, q22);
            worstK = Math.Max(worstK, errK);
            worstKDot = Math.Max(worstKDot, errKDot);
            Assert.True(errK <= tolerance, $"{name} K at ({q11}, {q12}, {q22}): relative error {errK:E2}");
            Assert.True(errKDot <= tolerance, $"{name} KDot at ({q11}, {q12}, {q22}): relative error {errKDot:E2}");
        }

        output.WriteLine($"{name}: worst relative error K {worstK:E2}, KDot {worstKDot:E2}");
    }

    private static (double K, double KDot) Errors(Activation activation, double q11, double q12, double q22)
    {
        var exact = ActivationMoments.ClosedForm(activation, q11, q12, q22);
        var numeric = ActivationMoments.Compute(activation, q11, q12, q22, forceQuadrature: true);
        var d1 = ActivationMoments.ClosedFormDiagonal(activation, q11);
        var d2 = ActivationMoments.ClosedFormDiagonal(activation, q22);
        double scaleK = Math.Max(Math.Sqrt(d1.K * d2.K), Math.Abs(exact.K));
        double scaleKDot = Math.Max(Math.Sqrt(d1.KDot * d2.KDot), Math.Abs(exact.KDot));
        // Zero scale (e.g. ReLU with a zero-variance side): both must be exactly 0.
        double errK = scaleK > 0 ? Math.Abs(exact.K - numeric.K) / scaleK : Math.Abs(numeric.K);
        double errKDot = scaleKDot > 0 ? Math.Abs(exact.KDot - numeric.KDot) / scaleKDot : Math.Abs(numeric.KDot);
        return (errK, errKDot);
    }

    /// <summary>The diagonal closed forms equal the general closed form at q11 = q12 = q22, and 1-D quadrature.</summary>
    [Theory]
    [MemberData(nameof(ClosedFormActivations))]
    public void DiagonalClosedFormIsConsistent(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        foreach (double q in new[] { 0.0, 1e-8, 0.3, 1.0, 2.5, 1e4, 1e8 }.Where(q => Feasible(activation, q, q)))
        {
            var diag = ActivationMoments.ClosedFormDiagonal(activation, q);
            var full = ActivationMoments.ClosedForm(activation, q, q, q);
            var numeric = ActivationMoments.ComputeDiagonal(activation, q, forceQuadrature: true);
            Assert.True(double.IsFinite(diag.K) && double.IsFinite(diag.KDot), $"{name} at q = {q}");
            Assert.True(diag.K >= 0 && diag.KDot >= 0, $"{name} at q = {q}: {diag}");
            Assert.Equal(diag.K, full.K, 1e-13 * Math.Max(1, Math.Abs(diag.K)));
            Assert.Equal(diag.KDot, full.KDot, 1e-13 * Math.Max(1, Math.Abs(diag.KDot)));
            Assert.Equal(diag.K, numeric.K, 1e-10 * Math.Max(1, Math.Abs(diag.K)));
            Assert.Equal(diag.KDot, numeric.KDot, 1e-10 * Math.Max(1, Math.Abs(diag.KDot)));
        }
    }

    /// <summary>A looser tolerance is honoured (and cheaper); the estimate stays conservative.</summary>
    [Fact]
    public void LooserToleranceStaysWithinItself()
    {
        var erf = Activation.Erf(1, 1.3, 0);
        foreach (var (q11, q12, q22) in Covariances)
            foreach (double tolerance in new[] { 1e-4, 1e-7 })
            {
                var exact = ActivationMoments.ClosedForm(erf, q11, q12, q22);
                var numeric = ActivationMoments.Quadrature(erf, q11, q12, q22, tolerance);
                var d1 = ActivationMoments.ClosedFormDiagonal(erf, q11);
                var d2 = ActivationMoments.ClosedFormDiagonal(erf, q22);
                Assert.True(Math.Abs(numeric.K - exact.K) <= tolerance * Math.Sqrt(d1.K * d2.K) + 1e-300, $"K at ({q11}, {q12}, {q22}), tolerance {tolerance}");
                Assert.True(Math.Abs(numeric.KDot - exact.KDot) <= tolerance * Math.Sqrt(d1.KDot * d2.KDot) + 1e-300, $"KDot at ({q11}, {q12}, {q22}), tolerance {tolerance}");
            }
    }

    private readonly struct FastOscillation : IScalarActivation
    {
        public void Evaluate(double x, out double value, out double derivative)
        {
            value = Math.Sin(1e4 * x);
            derivative = 1e4 * Math.Cos(1e4 * x);
        }
    }

    /// <summary>An integrand the panel budget cannot resolve is an exception, not a silently wrong kernel.</summary>
    [Fact]
    public void UnresolvableActivationThrowsInsteadOfReturningGarbage()
    {
        var ex = Assert.Throws<ArithmeticException>(() => ActivationMoments.NumericalDiagonal(new FastOscillation(), 1e4));
        Assert.Contains("QuadratureTolerance", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Hand-checked values: ReLU at orthogonal inputs and erf at known arguments.</summary>
    [Fact]
    public void KnownValues()
    {
        // ReLU, q11 = q22 = 1, q12 = 0: theta = pi/2, K = 1/(2 pi), KDot = 1/4.
        var relu = ActivationMoments.ClosedForm(Activation.Relu, 1, 0, 1);
        Assert.Equal(1 / (2 * Math.PI), relu.K, 1e-16);
        Assert.Equal(0.25, relu.KDot, 1e-16);
        // ReLU diagonal: E[relu(u)^2] = q/2.
        Assert.Equal(1.5, ActivationMoments.ClosedForm(Activation.Relu, 3, 3, 3).K, 1e-15);
        // Abs: E[|u||v|] at rho = 0 is 2/pi sqrt(q11 q22); KDot = E[sign u sign v] = 0.
        var abs = ActivationMoments.ClosedForm(Activation.Abs, 2, 0, 8);
        Assert.Equal(2 / Math.PI * 4, abs.K, 1e-14);
        Assert.Equal(0, abs.KDot, 1e-16);
        // erf, q = 1 on the diagonal: E[erf(u)^2] = (2/pi) asin(2/3); E[erf'(u)^2] = (4/pi)/sqrt(5).
        var erf = ActivationMoments.ClosedForm(Activation.Erf(), 1, 1, 1);
        Assert.Equal(2 / Math.PI * Math.Asin(2.0 / 3), erf.K, 1e-15);
        Assert.Equal(4 / Math.PI / Math.Sqrt(5), erf.KDot, 1e-15);
        // a erf(b x) + c at zero correlation: K = c^2 exactly.
        Assert.Equal(0.09, ActivationMoments.ClosedForm(Activation.Erf(2, 3, 0.3), 1, 0, 2).K, 1e-15);
        // sin with phase: E[sin(u + c)^2] at q = 0 is sin(c)^2.
        Assert.Equal(Math.Sin(0.4) * Math.Sin(0.4), ActivationMoments.ClosedForm(Activation.Sin(1, 1, 0.4), 0, 0, 0).K, 1e-15);
        // GELU at zero variance: phi(0) = 0, phi'(0) = 1/2.
        var gelu = ActivationMoments.ClosedForm(Activation.Plain(ActivationKind.Gelu), 0, 0, 0);
        Assert.Equal(0, gelu.K, 1e-16);
        Assert.Equal(0.25, gelu.KDot, 1e-16);
    }

    [Fact]
    public void QuadratureToleranceAndCovarianceAreValidated()
    {
        var net = InfiniteWidthTestSupport.Mlp(2, 4, 1, Activation.Relu, Parameterization.Ntk);
        var x = InfiniteWidthTestSupport.RandomInputs(2, 2, 1);
        foreach (double bad in new[] { 0, 1e-14, 0.5, double.NaN })
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => NtkDsl.InfiniteWidth.Kernels(net, x, null, new InfiniteWidthOptions { QuadratureTolerance = bad }));
            Assert.Equal(nameof(InfiniteWidthOptions.QuadratureTolerance), ex.ParamName);
        }

        Assert.Equal(nameof(InfiniteWidthOptions.SpatialTileBudgetBytes), Assert.Throws<ArgumentOutOfRangeException>(
            () => NtkDsl.InfiniteWidth.Kernels(net, x, null, new InfiniteWidthOptions { SpatialTileBudgetBytes = 0 })).ParamName);

        var tanh = Activation.Plain(ActivationKind.Tanh);
        Assert.Equal("tolerance", Assert.Throws<ArgumentOutOfRangeException>(() => ActivationMoments.Quadrature(tanh, 1, 0, 1, 0)).ParamName);
        Assert.Equal("q11", Assert.Throws<ArgumentOutOfRangeException>(() => ActivationMoments.Quadrature(tanh, -1, 0, 1)).ParamName);
        Assert.Equal("q12", Assert.Throws<ArgumentOutOfRangeException>(() => ActivationMoments.Quadrature(tanh, 1, double.NaN, 1)).ParamName);
        Assert.Equal("q22", Assert.Throws<ArgumentOutOfRangeException>(() => ActivationMoments.Quadrature(tanh, 1, 0, double.PositiveInfinity)).ParamName);
        Assert.Equal("q", Assert.Throws<ArgumentOutOfRangeException>(() => ActivationMoments.QuadratureDiagonal(tanh, double.PositiveInfinity)).ParamName);
        Assert.Throws<NotSupportedException>(() => ActivationMoments.ClosedForm(tanh, 1, 0, 1));
    }

    /// <summary>The Gauss-Hermite rules of the fast path reproduce the standard normal's moments E[z^2k] = (2k - 1)!! exactly up to degree 2n - 1.</summary>
    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(32)]
    public void GaussHermiteRulesIntegrateNormalMomentsExactly(int n)
    {
        var rule = GaussHermite.ForDegree(n);
        double moment = 1; // (2k - 1)!!
        for (int k = 0; 2 * k <= 2 * n - 1; k++)
        {
            if (k > 0) moment *= 2 * k - 1;
            double even = 0, odd = 0;
            for (int i = 0; i < n; i++)
            {
                even += rule.Weights[i] * Math.Pow(rule.Nodes[i], 2 * k);
                odd += rule.Weights[i] * Math.Pow(rule.Nodes[i], 2 * k + 1);
            }

            Assert.True(Math.Abs(even - moment) <= 1e-12 * moment, $"n = {n}: E[z^{2 * k}] = {even}, expected {moment}");
            Assert.True(Math.Abs(odd) <= 1e-12 * moment * Math.Sqrt(2 * k + 1), $"n = {n}: E[z^{2 * k + 1}] = {odd}");
        }
    }

    private readonly struct KinkedRelu : IScalarActivation
    {
        public void Evaluate(double x, out double value, out double derivative)
        {
            value = Math.Max(x, 0);
            derivative = x > 0 ? 1 : x < 0 ? 0 : 0.5;
        }
    }

    /// <summary>
    /// A kink (ReLU given by code) at variances where the Gauss-Hermite fast path is tried: the rules do not agree across
    /// the kink, so the adaptive scheme must take over and match the arc-cosine closed form.
    /// </summary>
    [Theory]
    [InlineData(0.01, 0.003, 0.01)]
    [InlineData(0.1, -0.055, 0.12)]
    [InlineData(0.05, 0.049, 0.05)]
    public void FastPathHandsKinksToTheAdaptiveScheme(double q11, double q12, double q22)
    {
        var numerical = ActivationMoments.Numerical(new KinkedRelu(), q11, q12, q22);
        var exact = ActivationMoments.ClosedForm(Activation.Relu, q11, q12, q22);
        output.WriteLine($"K {numerical.K} vs {exact.K}, KDot {numerical.KDot} vs {exact.KDot}");
        Assert.True(Math.Abs(numerical.K - exact.K) <= 1e-9 * Math.Sqrt(q11 * q22), $"K {numerical.K} vs {exact.K}");
        Assert.True(Math.Abs(numerical.KDot - exact.KDot) <= 1e-9, $"KDot {numerical.KDot} vs {exact.KDot}");
    }
}
