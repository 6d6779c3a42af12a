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
    // anti-correlated singular, independent, zero variance on one side, large variance.
    private static readonly (double Q11, double Q12, double Q22)[] Covariances =
    [
        (1.0, 0.5, 2.0), (0.3, -0.2, 0.5), (2.0, 1.99, 2.0), (1.0, 1.0, 1.0), (0.7, -0.7, 0.7),
        (0.5, 0.0, 1.5), (0.0, 0.0, 1.0), (4.0, 1.5, 3.0),
    ];

    public static TheoryData<string> ClosedFormActivations()
    {
        var data = new TheoryData<string>();
        foreach (var a in InfiniteWidthTestSupport.AllActivations().Where(ActivationMoments.HasClosedForm)) data.Add(a.ToString());
        return data;
    }

    /// <summary>
    /// Closed form vs 2-D quadrature to 2e-3 relative, measured against the Cauchy-Schwarz scale
    /// sqrt(K11 K22) so that entries near zero are not judged by a vanishing denominator. Smooth activations
    /// converge exponentially in the degree (degree 40 gives ~1e-10). Piecewise-linear ones have a kink
    /// (and a jump in phi'), where Gauss-Hermite converges only algebraically; degree 200 is needed for 2e-3 on KDot.
    /// </summary>
    [Theory]
    [MemberData(nameof(ClosedFormActivations))]
    public void ClosedFormMatchesQuadrature(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        bool kinked = activation.IsPiecewiseLinear;
        var rule = GaussHermite.ForDegree(kinked ? 200 : 40);
        double tolerance = kinked ? 2e-3 : 1e-8;
        double worstK = 0, worstKDot = 0;
        foreach (var (q11, q12, q22) in Covariances)
        {
            var exact = ActivationMoments.ClosedForm(activation, q11, q12, q22);
            var numeric = ActivationMoments.Quadrature(activation, q11, q12, q22, rule);
            var d1 = ActivationMoments.ClosedFormDiagonal(activation, q11);
            var d2 = ActivationMoments.ClosedFormDiagonal(activation, q22);
            double scaleK = Math.Max(Math.Sqrt(d1.K * d2.K), Math.Abs(exact.K)) + 1e-300;
            double scaleKDot = Math.Max(Math.Sqrt(d1.KDot * d2.KDot), Math.Abs(exact.KDot)) + 1e-300;
            double errK = Math.Abs(exact.K - numeric.K) / scaleK, errKDot = Math.Abs(exact.KDot - numeric.KDot) / scaleKDot;
            if (scaleK < 1e-200) errK = Math.Abs(numeric.K); // zero-variance ReLU: both must be 0
            worstK = Math.Max(worstK, errK);
            worstKDot = Math.Max(worstKDot, errKDot);
            Assert.True(errK <= tolerance, $"{name} K at ({q11}, {q12}, {q22}): closed {exact.K}, quadrature {numeric.K}");
            Assert.True(errKDot <= tolerance, $"{name} KDot at ({q11}, {q12}, {q22}): closed {exact.KDot}, quadrature {numeric.KDot}");
        }

        output.WriteLine($"{name}: degree {rule.Degree}, worst relative error K {worstK:E2}, KDot {worstKDot:E2}");
    }

    /// <summary>At neural-tangents' default degree 25, smooth closed forms agree with quadrature to 2e-3 or better.</summary>
    [Theory]
    [MemberData(nameof(ClosedFormActivations))]
    public void DefaultDegreeQuadratureIsWithinTwoPerMille(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        if (activation.IsPiecewiseLinear) return; // covered at degree 200 above; the kink limits degree 25 to ~1e-2 on KDot
        foreach (var (q11, q12, q22) in Covariances)
        {
            var exact = ActivationMoments.ClosedForm(activation, q11, q12, q22);
            var numeric = ActivationMoments.Compute(activation, q11, q12, q22, forceQuadrature: true);
            double scale = Math.Sqrt(ActivationMoments.ClosedFormDiagonal(activation, q11).K * ActivationMoments.ClosedFormDiagonal(activation, q22).K);
            Assert.True(Math.Abs(exact.K - numeric.K) <= 2e-3 * Math.Max(scale, Math.Abs(exact.K)), $"{name} K at ({q11}, {q12}, {q22})");
            Assert.True(Math.Abs(exact.KDot - numeric.KDot) <= 2e-3 * Math.Abs(ActivationMoments.ClosedFormDiagonal(activation, Math.Max(q11, q22)).KDot) + 2e-3 * Math.Abs(exact.KDot),
                $"{name} KDot at ({q11}, {q12}, {q22})");
        }
    }

    /// <summary>The diagonal closed forms equal the general closed form at q11 = q12 = q22, and 1-D quadrature.</summary>
    [Theory]
    [MemberData(nameof(ClosedFormActivations))]
    public void DiagonalClosedFormIsConsistent(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        var rule = GaussHermite.ForDegree(activation.IsPiecewiseLinear ? 201 : 60);
        foreach (double q in new[] { 0.0, 1e-8, 0.3, 1.0, 7.5 })
        {
            var diag = ActivationMoments.ClosedFormDiagonal(activation, q);
            var full = ActivationMoments.ClosedForm(activation, q, q, q);
            var numeric = ActivationMoments.QuadratureDiagonal(activation, q, rule);
            Assert.True(double.IsFinite(diag.K) && double.IsFinite(diag.KDot), $"{name} at q = {q}");
            Assert.True(diag.K >= 0 && diag.KDot >= 0, $"{name} at q = {q}: {diag}");
            Assert.Equal(diag.K, full.K, 1e-13 * Math.Max(1, Math.Abs(diag.K)));
            Assert.Equal(diag.KDot, full.KDot, 1e-13 * Math.Max(1, Math.Abs(diag.KDot)));
            Assert.Equal(diag.K, numeric.K, 1e-9 * Math.Max(1, Math.Abs(diag.K)));
            if (q > 0 || !activation.IsPiecewiseLinear) // phi'(0)^2 is a convention for kinked kinds at zero variance
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
