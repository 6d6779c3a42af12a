using Xunit;
using Xunit.Abstractions;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// Closed-form moments against independent numerical integration (Gauss-Hermite quadrature of the
/// activation's own Evaluate/Derivative), and the quadrature rule against exact Gaussian moments.
/// </summary>
public sealed class ActivationMomentTests(ITestOutputHelper output)
{
    // (q11, q12, q22): generic, negative correlation, nearly singular, exactly singular (diagonal),
    // anti-correlated singular, independent, zero variance on one side, large variance, correlation 0.999, all zero.
    private static readonly (double Q11, double Q12, double Q22)[] Covariances =
    [
        (1.0, 0.5, 2.0), (0.3, -0.2, 0.5), (2.0, 1.99, 2.0), (1.0, 1.0, 1.0), (0.7, -0.7, 0.7),
        (0.5, 0.0, 1.5), (0.0, 0.0, 1.0), (4.0, 1.5, 3.0), (1.0, 0.999, 1.0), (0.0, 0.0, 0.0),
    ];

    public static TheoryData<string> ClosedFormActivations()
    {
        var data = new TheoryData<string>();
        foreach (var a in InfiniteWidthTestSupport.AllActivations().Where(ActivationMoments.HasClosedForm)) data.Add(a.ToString());
        return data;
    }

    /// <summary>
    /// Closed form vs numerical integration of the activation's own phi and phi' (2-D Gauss-Hermite for smooth
    /// kinds, polar Gauss-Legendre between the kinks for piecewise-linear ones), relative to the Cauchy-Schwarz
    /// scale sqrt(K11 K22) so that entries near zero are not judged by a vanishing denominator. Degree 200 makes
    /// the quadrature error negligible even at effective variance b^2 q ~ 7 (measured worst: ~1e-12), so any
    /// formula slip would show; 1e-10 still leaves room for rounding.
    /// </summary>
    [Theory]
    [MemberData(nameof(ClosedFormActivations))]
    public void ClosedFormMatchesQuadrature(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        var rule = GaussHermite.ForDegree(200);
        const double tolerance = 1e-10;
        double worstK = 0, worstKDot = 0;
        foreach (var (q11, q12, q22) in Covariances)
        {
            var (errK, errKDot) = Errors(activation, q11, q12, q22, rule);
            worstK = Math.Max(worstK, errK);
            worstKDot = Math.Max(worstKDot, errKDot);
            Assert.True(errK <= tolerance, $"{name} K at ({q11}, {q12}, {q22}): relative error {errK:E2}");
            Assert.True(errKDot <= tolerance, $"{name} KDot at ({q11}, {q12}, {q22}): relative error {errKDot:E2}");
        }

        output.WriteLine($"{name}: degree {rule.Degree}, worst relative error K {worstK:E2}, KDot {worstKDot:E2}");
    }

    /// <summary>
    /// At neural-tangents' default degree 25 the quadrature (used for Tanh, Sigmoid, Softplus) is within 2e-3 of
    /// the closed forms for effective pre-activation variances b^2 q up to ~1. Beyond that, Gauss-Hermite degree 25
    /// degrades for saturating functions (measured: 5e-2 on erf(1.3 x)'s KDot at q = 2, correlation 0.995): raise
    /// <see cref="InfiniteWidthOptions.QuadratureDegree"/> for wide pre-activation distributions.
    /// </summary>
    [Theory]
    [MemberData(nameof(ClosedFormActivations))]
    public void DefaultDegreeQuadratureIsWithinTwoPerMille(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        var rule = GaussHermite.ForDegree(ActivationMoments.DefaultQuadratureDegree);
        (double, double, double)[] moderate = [(0.3, -0.2, 0.5), (0.5, 0.3, 0.4), (0.5, 0.45, 0.5), (0.4, -0.4, 0.4), (0.2, 0.0, 0.6), (0.0, 0.0, 0.5)];
        double worst = 0;
        foreach (var (q11, q12, q22) in moderate)
        {
            var (errK, errKDot) = Errors(activation, q11, q12, q22, rule);
            worst = Math.Max(worst, Math.Max(errK, errKDot));
            Assert.True(errK <= 2e-3 && errKDot <= 2e-3, $"{name} at ({q11}, {q12}, {q22}): K {errK:E2}, KDot {errKDot:E2}");
        }

        output.WriteLine($"{name}: degree 25, worst relative error {worst:E2}");
    }

    private static (double K, double KDot) Errors(Activation activation, double q11, double q12, double q22, GaussHermite rule)
    {
        var exact = ActivationMoments.ClosedForm(activation, q11, q12, q22);
        var numeric = ActivationMoments.Quadrature(activation, q11, q12, q22, rule);
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
        var rule = GaussHermite.ForDegree(200);
        foreach (double q in new[] { 0.0, 1e-8, 0.3, 1.0, 2.5 })
        {
            var diag = ActivationMoments.ClosedFormDiagonal(activation, q);
            var full = ActivationMoments.ClosedForm(activation, q, q, q);
            var numeric = ActivationMoments.QuadratureDiagonal(activation, q, rule);
            Assert.True(double.IsFinite(diag.K) && double.IsFinite(diag.KDot), $"{name} at q = {q}");
            Assert.True(diag.K >= 0 && diag.KDot >= 0, $"{name} at q = {q}: {diag}");
            Assert.Equal(diag.K, full.K, 1e-13 * Math.Max(1, Math.Abs(diag.K)));
            Assert.Equal(diag.KDot, full.KDot, 1e-13 * Math.Max(1, Math.Abs(diag.KDot)));
            Assert.Equal(diag.K, numeric.K, 1e-9 * Math.Max(1, Math.Abs(diag.K)));
            Assert.Equal(diag.KDot, numeric.KDot, 1e-9 * Math.Max(1, Math.Abs(diag.KDot)));
        }
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
    public void GaussHermiteRuleIsExactForPolynomials()
    {
        foreach (int n in new[] { 1, 2, 3, 5, 24, 25, 64, 200 })
        {
            var rule = GaussHermite.ForDegree(n);
            Assert.Equal(n, rule.Degree);
            Assert.Equal(1.0, rule.Weights.ToArray().Sum(), 1e-14);
            for (int i = 0; i < n; i++)
            {
                Assert.True(rule.Weights[i] >= 0);
                Assert.Equal(-rule.Nodes[i], rule.Nodes[n - 1 - i]);
            }

            // E[z^(2k)] = (2k - 1)!!, exact for 2k <= 2n - 1; checked up to z^20.
            for (int k = 1; 2 * k <= Math.Min(2 * n - 1, 20); k++)
            {
                double exact = 1;
                for (int m = 2 * k - 1; m > 1; m -= 2) exact *= m;
                int power = 2 * k;
                double numeric = rule.Expectation(z => Math.Pow(z, power));
                Assert.True(Math.Abs(numeric - exact) <= 1e-12 * exact, $"n = {n}: E[z^{power}] = {numeric}, expected {exact}");
            }

            Assert.Equal(0, rule.Expectation(z => z * z * z), 1e-12);
        }

        var three = GaussHermite.ForDegree(3);
        Assert.Equal(Math.Sqrt(3), three.Nodes[0], 1e-14);
        Assert.Equal(0, three.Nodes[1]);
        Assert.Equal(1.0 / 6, three.Weights[0], 1e-15);
        Assert.Equal(2.0 / 3, three.Weights[1], 1e-15);
    }

    [Fact]
    public void QuadratureDegreeIsValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GaussHermite.ForDegree(0));
        var net = InfiniteWidthTestSupport.Mlp(2, 4, 1, Activation.Relu, Parameterization.Ntk);
        var x = InfiniteWidthTestSupport.RandomInputs(2, 2, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => NtkDsl.InfiniteWidth.Kernels(net, x, null, new InfiniteWidthOptions { QuadratureDegree = 0 }));
        Assert.Throws<NotSupportedException>(() => ActivationMoments.ClosedForm(Activation.Plain(ActivationKind.Tanh), 1, 0, 1));
    }
}
