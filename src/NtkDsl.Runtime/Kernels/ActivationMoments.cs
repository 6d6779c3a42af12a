using MathNet.Numerics;

namespace NtkDsl;

/// <summary>
/// The two Gaussian moments an activation contributes to the infinite-width recursion:
/// <c>K = E[phi(u) phi(v)]</c> (next NNGP) and <c>KDot = E[phi'(u) phi'(v)]</c> (factor on the NTK).
/// </summary>
/// <param name="K">E[phi(u) phi(v)].</param>
/// <param name="KDot">E[phi'(u) phi'(v)].</param>
public readonly record struct KernelMoments(double K, double KDot);

/// <summary>
/// Closed-form and quadrature moments <c>E[phi(u) phi(v)]</c>, <c>E[phi'(u) phi'(v)]</c> for
/// <c>(u, v) ~ N(0, [[q11, q12], [q12, q22]])</c>, following neural-tangents' <c>stax</c> elementwise layers.
/// </summary>
/// <remarks>
/// Closed forms (all verified against 2-D Gauss-Hermite quadrature in the tests):
/// <list type="bullet">
/// <item>Relu, LeakyRelu, Abs: nt's <c>ABRelu(a, b)</c>, the arc-cosine kernel of Cho and Saul generalized to
/// <c>a min(x, 0) + b max(x, 0)</c>: with <c>th = atan2(sqrt(q11 q22 - q12^2), q12)</c>,
/// <c>KDot = (a^2 + b^2)/2 - (a - b)^2 th / (2 pi)</c>, <c>K = (a - b)^2 sqrt(q11 q22 - q12^2) / (2 pi) + KDot q12</c>.</item>
/// <item>Erf (<c>a erf(b x) + c</c>): Williams' kernel with q scaled by b^2,
/// <c>K = a^2 (2/pi) atan2(2 p12, sqrt(D)) + c^2</c>, <c>KDot = a^2 b^2 (4/pi) / sqrt(D)</c>,
/// <c>D = (1 + 2 p11)(1 + 2 p22) - 4 p12^2</c>, <c>p = b^2 q</c>. (erf is odd, so the cross term in c vanishes.)</item>
/// <item>Gelu (exact, x Phi(x)): nt's <c>stax.Gelu</c> (arXiv:2002.08517).</item>
/// <item>Sin (<c>a sin(b x + c)</c>): from the Gaussian characteristic function, as nt's <c>stax.Sin</c>.</item>
/// <item>Identity: <c>K = q12</c>, <c>KDot = 1</c>.</item>
/// </list>
/// Tanh, Sigmoid and Softplus use 2-D Gauss-Hermite quadrature (neural-tangents' default degree 25). When quadrature
/// is forced on a piecewise-linear kind, it integrates in polar coordinates instead (exact radial part, Gauss-Legendre
/// between the kinks), because Gauss-Hermite converges only like 1/n across a kink.
/// Every form is evaluated so that no NaN appears on the diagonal (q12^2 = q11 q22) or at zero variance:
/// correlations are clamped through <c>max(q11 q22 - q12^2, 0)</c> and <c>atan2</c> instead of <c>acos</c>.
/// </remarks>
public static class ActivationMoments
{
    /// <summary>neural-tangents' default number of Gauss-Hermite nodes per dimension.</summary>
    public const int DefaultQuadratureDegree = 25;

    private const double TwoOverPi = 2 / Math.PI;
    private const double FourOverPi = 4 / Math.PI;
    private const double InvTwoPi = 1 / (2 * Math.PI);

    /// <summary>True when <paramref name="activation"/> has closed-form moments (everything but Tanh, Sigmoid, Softplus).</summary>
    public static bool HasClosedForm(Activation activation) => activation.Kind is ActivationKind.Relu or ActivationKind.LeakyRelu
        or ActivationKind.Abs or ActivationKind.Erf or ActivationKind.Gelu or ActivationKind.Sin or ActivationKind.Identity;

    /// <summary>
    /// The moments for pre-activation covariance (q11, q12, q22): closed form when available (unless
    /// <paramref name="forceQuadrature"/>), otherwise Gauss-Hermite quadrature with <paramref name="quadratureDegree"/> nodes per dimension.
    /// </summary>
    public static KernelMoments Compute(Activation activation, double q11, double q12, double q22,
        int quadratureDegree = DefaultQuadratureDegree, bool forceQuadrature = false) =>
        !forceQuadrature && HasClosedForm(activation)
            ? ClosedForm(activation, q11, q12, q22)
            : Quadrature(activation, q11, q12, q22, GaussHermite.ForDegree(quadratureDegree));

    /// <summary>The moments at u = v with variance <paramref name="q"/> (a kernel's diagonal): E[phi(u)^2], E[phi'(u)^2].</summary>
    public static KernelMoments ComputeDiagonal(Activation activation, double q,
        int quadratureDegree = DefaultQuadratureDegree, bool forceQuadrature = false) =>
        !forceQuadrature && HasClosedForm(activation)
            ? ClosedFormDiagonal(activation, q)
            : QuadratureDiagonal(activation, q, GaussHermite.ForDegree(quadratureDegree));

    /// <summary>Closed-form moments; throws <see cref="NotSupportedException"/> when <see cref="HasClosedForm"/> is false.</summary>
    public static KernelMoments ClosedForm(Activation activation, double q11, double q12, double q22)
    {
        q12 = ClampCovariance(q11, q12, q22);
        switch (activation.Kind)
        {
            case ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Abs:
            {
                double a = activation.A, b = activation.B;
                double det = Math.Max(q11 * q22 - q12 * q12, 0);
                double s = Math.Sqrt(det);
                // atan2 is exact (0) for identical points; nt fills pi/2 when both arguments vanish (zero variance).
                double theta = s == 0 && q12 == 0 ? Math.PI / 2 : Math.Atan2(s, q12);
                double f = (a - b) * (a - b) * InvTwoPi;
                double kdot = 0.5 * (a * a + b * b) - f * theta;
                return new KernelMoments(f * s + kdot * q12, kdot);
            }

            case ActivationKind.Erf:
            {
                double a = activation.A, b2 = activation.B * activation.B, c = activation.C;
                double p11 = b2 * q11, p12 = b2 * q12, p22 = b2 * q22;
                // (1 + 2 p11)(1 + 2 p22) - 4 p12^2 written so that rounding cannot make it < 1.
                double d = 1 + 2 * (p11 + p22) + 4 * Math.Max(p11 * p22 - p12 * p12, 0);
                double root = Math.Sqrt(d);
                return new KernelMoments(a * a * TwoOverPi * Math.Atan2(2 * p12, root) + c * c, a * a * b2 * FourOverPi / root);
            }

            case ActivationKind.Gelu:
            {
                // nt stax.Gelu: delta^2 = (q11 + 1)(q22 + 1) - q12^2 >= 1 + q11 + q22.
                double prod = q11 * q22;
                double prodPlus1 = (q11 + 1) * (q22 + 1);
                double delta2 = 1 + (q11 + q22) + Math.Max(prod - q12 * q12, 0); // (q11 + q22) first: symmetric bit for bit
                double delta = Math.Sqrt(delta2);
                double angle = Math.Atan2(q12, delta);
                double k = ((q12 * q12 + prod * delta2) / (prodPlus1 * delta) + q12 * angle) * InvTwoPi + 0.25 * q12;
                double kdot = (1 / delta2 + (1 - prod) / prodPlus1 + 1) * q12 / delta * InvTwoPi + 0.25 + angle * InvTwoPi;
                return new KernelMoments(k, kdot);
            }

            case ActivationKind.Sin:
            {
                // sin(bu+c) sin(bv+c) = [cos(b(u-v)) - cos(b(u+v)+2c)]/2 and E cos(t w + s) = cos(s) exp(-t^2 Var w / 2).
                double a = activation.A, b2 = activation.B * activation.B, c = activation.C;
                double half = -0.5 * (q11 + q22);
                double s1 = Math.Exp(b2 * (half + q12));
                double s2 = Math.Exp(b2 * (half - q12)) * Math.Cos(2 * c);
                double halfA2 = 0.5 * a * a;
                return new KernelMoments(halfA2 * (s1 - s2), halfA2 * b2 * (s1 + s2));
            }

            case ActivationKind.Identity:
                return new KernelMoments(q12, 1);

            default:
                throw new NotSupportedException($"{activation} has no closed-form kernel; use quadrature.");
        }
    }

    /// <summary>Closed-form diagonal moments E[phi(u)^2], E[phi'(u)^2] for Var u = <paramref name="q"/>.</summary>
    public static KernelMoments ClosedFormDiagonal(Activation activation, double q)
    {
        if (activation.IsPiecewiseLinear)
        {
            // theta = 0 on the diagonal. At q = 0 (u = 0 surely) phi'(0) is a convention: take the mean slope,
            // as the off-diagonal form does (nt's theta = pi/2 fill) and as quadrature does at a node on the kink.
            double a = activation.A, b = activation.B;
            if (q == 0) return new KernelMoments(0, 0.25 * (a + b) * (a + b));
            double m = 0.5 * (a * a + b * b);
            return new KernelMoments(m * q, m);
        }

        return ClosedForm(activation, q, q, q);
    }

    /// <summary>
    /// Moments by 2-D Gauss-Hermite quadrature on the Cholesky factor of the covariance
    /// (u = L11 z1, v = L21 z1 + L22 z2), valid at zero or singular covariance.
    /// </summary>
    public static KernelMoments Quadrature(Activation activation, double q11, double q12, double q22, GaussHermite rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        // Both moments are symmetric in (u, v): order them canonically so that swapping X1 and X2
        // transposes the kernel exactly, despite the Cholesky factor treating u and v differently.
        if (q11 < q22) (q11, q22) = (q22, q11);
        q12 = ClampCovariance(q11, q12, q22);
        var z = rule.Nodes;
        var w = rule.Weights;
        double l11 = Math.Sqrt(Math.Max(q11, 0));
        double l21 = l11 > 0 ? q12 / l11 : 0;
        double l22 = l11 > 0 ? Math.Sqrt(Math.Max(q11 * q22 - q12 * q12, 0) / q11) : Math.Sqrt(Math.Max(q22, 0));
        if (activation.IsPiecewiseLinear) return PolarQuadrature(activation, l11, l21, l22, rule.Degree);
        double k = 0, kdot = 0;
        for (int i = 0; i < z.Length; i++)
        {
            Evaluate(activation, l11 * z[i], out double fu, out double du);
            double shift = l21 * z[i];
            double sf = 0, sd = 0;
            for (int j = 0; j < z.Length; j++)
            {
                Evaluate(activation, shift + l22 * z[j], out double fv, out double dv);
                sf += w[j] * fv;
                sd += w[j] * dv;
            }

            k += w[i] * fu * sf;
            kdot += w[i] * du * sd;
        }

        return new KernelMoments(k, kdot);
    }

    /// <summary>
    /// Moments of an activation given by code (<see cref="IScalarActivation"/>: user-defined activations), by
    /// numerical integration over (u, v) ~ N(0, [[q11, q12], [q12, q22]]).
    /// </summary>
    public static KernelMoments Numerical<TActivation>(TActivation activation, double q11, double q12, double q22,
        InfiniteWidthOptions? options = null)
        where TActivation : IScalarActivation
    {
        var rule = GaussHermite.ForDegree((options ?? InfiniteWidthOptions.Default).QuadratureDegree);
        if (q11 < q22) (q11, q22) = (q22, q11);
        q12 = ClampCovariance(q11, q12, q22);
        var z = rule.Nodes;
        var w = rule.Weights;
        double l11 = Math.Sqrt(Math.Max(q11, 0));
        double l21 = l11 > 0 ? q12 / l11 : 0;
        double l22 = l11 > 0 ? Math.Sqrt(Math.Max(q11 * q22 - q12 * q12, 0) / q11) : Math.Sqrt(Math.Max(q22, 0));
        double k = 0, kdot = 0;
        for (int i = 0; i < z.Length; i++)
        {
            activation.Evaluate(l11 * z[i], out double fu, out double du);
            double shift = l21 * z[i];
            double sf = 0, sd = 0;
            for (int j = 0; j < z.Length; j++)
            {
                activation.Evaluate(shift + l22 * z[j], out double fv, out double dv);
                sf += w[j] * fv;
                sd += w[j] * dv;
            }

            k += w[i] * fu * sf;
            kdot += w[i] * du * sd;
        }

        return new KernelMoments(k, kdot);
    }

    /// <summary>Diagonal moments E[phi(u)^2], E[phi'(u)^2] of an activation given by code, u ~ N(0, q).</summary>
    public static KernelMoments NumericalDiagonal<TActivation>(TActivation activation, double q, InfiniteWidthOptions? options = null)
        where TActivation : IScalarActivation =>
        Numerical(activation, q, q, q, options);

    /// <summary>Diagonal moments E[phi(u)^2], E[phi'(u)^2] by 1-D Gauss-Hermite quadrature.</summary>
    public static KernelMoments QuadratureDiagonal(Activation activation, double q, GaussHermite rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        double s = Math.Sqrt(Math.Max(q, 0));
        if (activation.IsPiecewiseLinear) return PolarQuadrature(activation, s, s, 0, rule.Degree);
        var z = rule.Nodes;
        var w = rule.Weights;
        double k = 0, kdot = 0;
        for (int i = 0; i < z.Length; i++)
        {
            Evaluate(activation, s * z[i], out double f, out double d);
            k += w[i] * f * f;
            kdot += w[i] * d * d;
        }

        return new KernelMoments(k, kdot);
    }

    // Piecewise-linear phi is positively homogeneous, so in polar coordinates (z1, z2) = r (cos a, sin a) the
    // radial integrals are exact (E[r^2] = 2 for phi phi, 1 for phi' phi') and what remains is an angular integral
    // of a piecewise trigonometric function, with kinks where u = 0 or v = 0. Gauss-Legendre on each smooth piece
    // converges exponentially, whereas Gauss-Hermite across the kink converges like 1/n (1e-2 on KDot at n = 400).
    private static KernelMoments PolarQuadrature(Activation activation, double l11, double l21, double l22, int degree)
    {
        const double TwoPi = 2 * Math.PI;
        Span<double> breaks = stackalloc double[6];
        double v0 = Math.Atan2(-l21, l22); // v = l21 cos a + l22 sin a vanishes at v0 and v0 + pi
        breaks[0] = 0;
        breaks[1] = Math.PI / 2; // u = l11 cos a vanishes at pi/2 and 3 pi/2
        breaks[2] = 1.5 * Math.PI;
        breaks[3] = v0 < 0 ? v0 + TwoPi : v0;
        breaks[4] = breaks[3] >= Math.PI ? breaks[3] - Math.PI : breaks[3] + Math.PI;
        breaks[5] = TwoPi;
        breaks.Sort();

        var gl = GaussLegendre.ForDegree(degree);
        double k = 0, kdot = 0;
        for (int piece = 0; piece < 5; piece++)
        {
            double lo = breaks[piece], hi = breaks[piece + 1];
            if (hi <= lo) continue;
            double mid = 0.5 * (lo + hi), half = 0.5 * (hi - lo);
            for (int i = 0; i < gl.Nodes.Length; i++)
            {
                double angle = mid + half * gl.Nodes[i];
                double c = Math.Cos(angle), s = Math.Sin(angle);
                Evaluate(activation, l11 * c, out double fu, out double du);
                Evaluate(activation, l21 * c + l22 * s, out double fv, out double dv);
                k += half * gl.Weights[i] * fu * fv;
                kdot += half * gl.Weights[i] * du * dv;
            }
        }

        return new KernelMoments(k / Math.PI, kdot / TwoPi);
    }

    // |q12| <= sqrt(q11 q22) (correlation in [-1, 1]). Rounding can push the covariance of nearly parallel
    // inputs past the bound; in chaotic regimes (e.g. sin with large sw) the excess then grows layer by layer
    // until exp overflows, so every moment clamps first.
    private static double ClampCovariance(double q11, double q12, double q22)
    {
        double bound = Math.Sqrt(Math.Max(q11, 0) * Math.Max(q22, 0));
        return Math.Clamp(q12, -bound, bound);
    }

    // phi and phi' together (one tanh/exp instead of three). A node exactly on a kink (the middle node of
    // an odd rule) stands for mass on both sides, so it gets the mean slope rather than the one-sided one.
    private static void Evaluate(Activation activation, double x, out double f, out double d)
    {
        switch (activation.Kind)
        {
            case ActivationKind.Tanh:
                f = Math.Tanh(x);
                d = 1 - f * f;
                return;
            case ActivationKind.Sigmoid:
            {
                double e = Math.Exp(-Math.Abs(x));
                double s = x >= 0 ? 1 / (1 + e) : e / (1 + e);
                f = s;
                d = s * (1 - s);
                return;
            }

            case ActivationKind.Softplus:
            {
                double e = Math.Exp(-Math.Abs(x));
                f = Math.Max(x, 0) + Math.Log(1 + e);
                d = x >= 0 ? 1 / (1 + e) : e / (1 + e);
                return;
            }

            case ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Abs:
                f = x > 0 ? activation.B * x : activation.A * x;
                d = x > 0 ? activation.B : x < 0 ? activation.A : 0.5 * (activation.A + activation.B);
                return;
            case ActivationKind.Erf:
            {
                double bx = activation.B * x;
                f = activation.A * SpecialFunctions.Erf(bx) + activation.C;
                d = activation.A * activation.B * 1.1283791670955126 * Math.Exp(-bx * bx);
                return;
            }

            default:
                f = activation.Evaluate(x);
                d = activation.Derivative(x);
                return;
        }
    }
}
