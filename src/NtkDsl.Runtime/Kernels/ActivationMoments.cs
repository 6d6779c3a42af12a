using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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
/// Closed forms (all verified against adaptive quadrature and high-precision reference values in the tests):
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
/// Tanh, Sigmoid and Softplus (and every kind when quadrature is forced) use quadrature to a relative
/// tolerance (<see cref="Quadrature"/>; default <see cref="DefaultQuadratureTolerance"/>), accurate to ~1e-10 or
/// better for variances from 1e-8 to 1e8 and every correlation in [-1, 1]: the Mehler series over Hermite
/// coefficients computed once per variance (<see cref="HermiteExpansion"/>) where its error bound proves the
/// tolerance, nested adaptive quadrature elsewhere. Piecewise-linear kinds integrate in
/// polar coordinates instead (exact radial part, Gauss-Legendre between the kinks).
/// Every form is evaluated so that no NaN appears on the diagonal (q12^2 = q11 q22) or at zero variance:
/// correlations are clamped through <c>max(q11 q22 - q12^2, 0)</c> and <c>atan2</c> instead of <c>acos</c>.
/// </remarks>
public static class ActivationMoments
{
    /// <summary>
    /// Default relative tolerance of the quadrature moments (<see cref="InfiniteWidthOptions.QuadratureTolerance"/>):
    /// the error estimates are kept below 1e-10 of E|phi(u) phi(v)| and E|phi'(u) phi'(v)|.
    /// </summary>
    public const double DefaultQuadratureTolerance = 1e-10;

    /// <summary>Loosest accepted quadrature tolerance.</summary>
    public const double MaxQuadratureTolerance = 0.1;

    private const double TwoOverPi = 2 / Math.PI;
    private const double FourOverPi = 4 / Math.PI;
    private const double InvTwoPi = 1 / (2 * Math.PI);

    /// <summary>True when <paramref name="activation"/> has closed-form moments (everything but Tanh, Sigmoid, Softplus).</summary>
    public static bool HasClosedForm(Activation activation) => activation.Kind is ActivationKind.Relu or ActivationKind.LeakyRelu
        or ActivationKind.Abs or ActivationKind.Erf or ActivationKind.Gelu or ActivationKind.Sin or ActivationKind.Identity;

    /// <summary>
    /// The moments for pre-activation covariance (q11, q12, q22): closed form when available (unless
    /// <paramref name="forceQuadrature"/>), otherwise <see cref="Quadrature"/> to the relative <paramref name="quadratureTolerance"/>.
    /// </summary>
    public static KernelMoments Compute(Activation activation, double q11, double q12, double q22,
        double quadratureTolerance = DefaultQuadratureTolerance, bool forceQuadrature = false) =>
        !forceQuadrature && HasClosedForm(activation)
            ? ClosedForm(activation, q11, q12, q22)
            : Quadrature(activation, q11, q12, q22, quadratureTolerance);

    /// <summary>The moments at u = v with variance <paramref name="q"/> (a kernel's diagonal): E[phi(u)^2], E[phi'(u)^2].</summary>
    public static KernelMoments ComputeDiagonal(Activation activation, double q,
        double quadratureTolerance = DefaultQuadratureTolerance, bool forceQuadrature = false) =>
        !forceQuadrature && HasClosedForm(activation)
            ? ClosedFormDiagonal(activation, q)
            : QuadratureDiagonal(activation, q, quadratureTolerance);

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
                // nt writes atan2(q12, delta) + pi/2 and 1 + (1 - q11 q22) / prod1: both cancel at large variances
                // (terms of size q for a result of size 1e-13 q at correlation -1); atan2(delta, -q12) and
                // (q11 + q22 + 2) / prod1 are the same quantities without cancellation.
                double angle = Math.Atan2(delta, -q12);
                double k = ((q12 * q12 + prod * delta2) / (prodPlus1 * delta) + q12 * angle) * InvTwoPi;
                double kdot = ((1 / delta2 + ((q11 + q22) + 2) / prodPlus1) * q12 / delta + angle) * InvTwoPi;
                return new KernelMoments(k, kdot);
            }

            case ActivationKind.Sin:
            {
                // sin(bu+c) sin(bv+c) = [cos(b(u-v)) - cos(b(u+v)+2c)]/2 and E cos(t w + s) = cos(s) exp(-t^2 Var w / 2):
                // K = a^2/2 e^h (e^x - e^-x cos 2c), KDot = a^2 b^2/2 e^h (e^x + e^-x cos 2c), h = -b^2 (q11 + q22)/2,
                // x = b^2 q12, written with sinh so that small covariances do not cancel (e^x - e^-x at x = 1e-8).
                double a = activation.A, b2 = activation.B * activation.B, c = activation.C;
                double x = b2 * q12, sinC = Math.Sin(c), cosC = Math.Cos(c);
                double scale = 0.5 * a * a * Math.Exp(-0.5 * b2 * (q11 + q22));
                double sinh = 2 * Math.Sinh(x), decay = 2 * Math.Exp(-x);
                return new KernelMoments(scale * (sinh + decay * sinC * sinC), scale * b2 * (sinh + decay * cosC * cosC));
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
    /// The closed-form arc-cosine map of a piecewise-linear activation (Relu, LeakyRelu, Abs) applied in place to a row
    /// of entries sharing their first point: sigma[j] = K(q11, sigma[j], q22[j]), theta[j] *= KDot(q11, sigma[j], q22[j]),
    /// four entries at a time (<see cref="SimdMath.Atan2"/>, within 2 ulp of atan2). Otherwise the operations of
    /// <see cref="ClosedForm"/> in its order (the clamp, max(q11 q22 - q12^2, 0), the pi/2 fill at zero variance), so
    /// the result differs from it only by atan2's last bits and keeps its no-NaN guarantees.
    /// </summary>
    internal static unsafe void ArcCosineRow(Activation activation, double q11, Span<double> sigma, Span<double> theta, ReadOnlySpan<double> q22)
    {
        double a = activation.A, b = activation.B;
        var f = Vector256.Create((a - b) * (a - b) * InvTwoPi);
        var mean = Vector256.Create(0.5 * (a * a + b * b));
        var v11 = Vector256.Create(q11);
        var m11 = Vector256.Create(Math.Max(q11, 0));
        int n = sigma.Length, j = 0;
        if (theta.Length != n || q22.Length != n) throw new ArgumentException("Internal error: rows of different lengths.");
        fixed (double* sp = sigma, tp = theta, qp = q22)
        {
            for (; j + 4 <= n; j += 4)
            {
                var (k, kdot) = ArcCosine(f, mean, v11, m11, Vector256.Load(sp + j), Vector256.Load(qp + j));
                k.Store(sp + j);
                (kdot * Vector256.Load(tp + j)).Store(tp + j);
            }
        }

        if (j == n) return;
        // The last 1-3 entries through the same lanes (padded with zeros), so every entry gets the same bits.
        Span<double> q12s = stackalloc double[4], q22s = stackalloc double[4], thetas = stackalloc double[4];
        q12s.Clear();
        q22s.Clear();
        thetas.Clear();
        sigma[j..].CopyTo(q12s);
        q22[j..].CopyTo(q22s);
        theta[j..].CopyTo(thetas);
        var (kt, kdott) = ArcCosine(f, mean, v11, m11, Vector256.Create((ReadOnlySpan<double>)q12s), Vector256.Create((ReadOnlySpan<double>)q22s));
        kt.CopyTo(q12s);
        (kdott * Vector256.Create((ReadOnlySpan<double>)thetas)).CopyTo(thetas);
        q12s[..(n - j)].CopyTo(sigma[j..]);
        thetas[..(n - j)].CopyTo(theta[j..]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<double> K, Vector256<double> KDot) ArcCosine(Vector256<double> f, Vector256<double> mean, Vector256<double> q11,
        Vector256<double> max11, Vector256<double> q12, Vector256<double> q22)
    {
        var zero = Vector256<double>.Zero;
        // ClampCovariance where some lane may need it (rho = +-1 up to rounding), then det = max(q11 q22 - q12^2, 0) (the
        // selects give +0 where Math.Max does).
        var product = max11 * Vector256.ConditionalSelect(Vector256.GreaterThan(q22, zero), q22, zero);
        if (Vector256.GreaterThanOrEqualAny(q12 * q12, product))
        {
            var bound = Vector256.Sqrt(product);
            q12 = Vector256.ConditionalSelect(Vector256.LessThan(q12, -bound), -bound, q12);
            q12 = Vector256.ConditionalSelect(Vector256.GreaterThan(q12, bound), bound, q12);
        }

        var det = q11 * q22 - q12 * q12;
        var s = Vector256.Sqrt(Vector256.ConditionalSelect(Vector256.GreaterThan(det, zero), det, zero));
        var theta = Vector256.ConditionalSelect(Vector256.Equals(s, zero) & Vector256.Equals(q12, zero), Vector256.Create(Math.PI / 2), SimdMath.Atan2(s, q12));
        var kdot = mean - f * theta;
        return (f * s + kdot * q12, kdot);
    }

    /// <summary>
    /// Moments by numerical integration (for Tanh, Sigmoid, Softplus, and for any kind when quadrature is forced):
    /// the Mehler series where its bound proves the tolerance, else conditioning on the larger-variance variable u,
    /// E[phi(v) | u] is a 1-D Gaussian expectation, integrated together with phi' by adaptive Gauss-Kronrod on panels
    /// adapted to the variance and to where phi varies; the outer expectation over u likewise (see
    /// <see cref="Numerical{TActivation}"/>). Piecewise-linear kinds integrate in polar coordinates (exact radial
    /// part, Gauss-Legendre between the kinks).
    /// </summary>
    /// <param name="activation">Any activation.</param>
    /// <param name="q11">Var u, finite and &gt;= 0.</param>
    /// <param name="q12">Cov(u, v), finite; clamped to the Cauchy-Schwarz bound.</param>
    /// <param name="q22">Var v, finite and &gt;= 0.</param>
    /// <param name="tolerance">Relative accuracy target (see <see cref="InfiniteWidthOptions.QuadratureTolerance"/>).</param>
    public static KernelMoments Quadrature(Activation activation, double q11, double q12, double q22,
        double tolerance = DefaultQuadratureTolerance)
    {
        CheckCovariance(q11, q12, q22);
        CheckTolerance(tolerance);
        if (activation.IsPiecewiseLinear)
        {
            if (q11 < q22) (q11, q22) = (q22, q11);
            q12 = ClampCovariance(q11, q12, q22);
            double l11 = Math.Sqrt(q11);
            double l21 = l11 > 0 ? q12 / l11 : 0;
            double l22 = l11 > 0 ? Math.Sqrt(Math.Max(q11 * q22 - q12 * q12, 0) / q11) : Math.Sqrt(q22);
            return PolarQuadrature(activation, l11, l21, l22);
        }

        return Smooth(activation, tolerance).Entry(q11, q12, q22);
    }

    /// <summary>
    /// Moments of an activation given by code (<see cref="IScalarActivation"/>: user-defined activations), by
    /// numerical integration over (u, v) ~ N(0, [[q11, q12], [q12, q22]]) to the relative accuracy
    /// <see cref="InfiniteWidthOptions.QuadratureTolerance"/>.
    /// </summary>
    /// <remarks>
    /// <para>First the Mehler series <c>K = sum_k rho^k c_k(q11) c_k(q22)</c>, <c>KDot = sum_k rho^k d_k(q11) d_k(q22)</c>
    /// over the orthonormal Hermite coefficients of phi and phi' at each variance (<see cref="HermiteExpansion"/>: 64
    /// coefficients, 256 when needed, by Gauss-Legendre on fixed panels with a step-halving error estimate), taken
    /// when a bound on its truncation (Cauchy-Schwarz on the remaining coefficients, Parseval beyond the last) plus
    /// the coefficients' errors is below a tenth of the tolerance times |K| and |KDot|; kernel states reuse each
    /// point's coefficients for its whole row and column. It does not apply at |rho| &gt; 0.98, zero variance, or when
    /// the coefficients' error estimate exceeds 1e-12 (a kink away from 0, say); then, or when its bound fails:</para>
    /// <para>with u the variable of larger variance, v | u ~ N(q12 u / q11, q22 - q12^2 / q11); the inner expectations
    /// E[phi(v) | u], E[phi'(v) | u] and the outer one over u are 1-D Gaussian expectations, each integrated by
    /// adaptive Gauss-Kronrod (7/15 points) over +-9 standard deviations, on initial panels that put a breakpoint at
    /// x = 0 and grade geometrically away from it (x = +-2, 6, 18, 54) besides the Gaussian's own scale, then
    /// halving the panel with the largest error estimate until the summed estimate is below the tolerance times
    /// E|integrand| (for the inner ones, times the larger of E|integrand| and its value at u = 0); an integral whose
    /// standard deviation is at most 0.35 is first tried by Gauss-Hermite rules of 8, 16, 32 nodes (accepted when two
    /// successive rules agree to the tolerance). Correlation +-1 (a singular covariance)
    /// needs no inner integral (v = q12 u / q11 exactly), and tiny variances need no special case (the panels then
    /// see a nearly polynomial integrand). The contract: phi and phi' are finite, grow at most polynomially, and
    /// vary on a scale of order 1 near x = 0 or are smooth elsewhere (features elsewhere are found by refinement,
    /// at a cost); a kink or jump is best placed at 0. Results are symmetric in (q11, q22) bit for bit.</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">A variance is negative, a value is not finite, or the tolerance is outside [1e-13, 0.1].</exception>
    /// <exception cref="ArithmeticException">The tolerance was not reached within the panel budget (phi varies on too many scales).</exception>
    public static KernelMoments Numerical<TActivation>(TActivation activation, double q11, double q12, double q22,
        InfiniteWidthOptions? options = null)
        where TActivation : IScalarActivation
    {
        double tolerance = (options ?? InfiniteWidthOptions.Default).QuadratureTolerance;
        CheckTolerance(tolerance);
        return new SmoothMoments<TActivation>(activation, tolerance, 1, (options ?? InfiniteWidthOptions.Default).MehlerSeries).Entry(q11, q12, q22);
    }

    /// <summary>Diagonal moments E[phi(u)^2], E[phi'(u)^2] of an activation given by code, u ~ N(0, q).</summary>
    /// <remarks>The 1-D case of <see cref="Numerical{TActivation}"/>, with the same panels and the same bits as its q11 = q12 = q22.</remarks>
    public static KernelMoments NumericalDiagonal<TActivation>(TActivation activation, double q, InfiniteWidthOptions? options = null)
        where TActivation : IScalarActivation
    {
        double tolerance = (options ?? InfiniteWidthOptions.Default).QuadratureTolerance;
        CheckVariance(q, nameof(q));
        CheckTolerance(tolerance);
        return IntegrateDiagonal(activation, q, tolerance);
    }

    /// <summary>Diagonal moments E[phi(u)^2], E[phi'(u)^2] by 1-D adaptive quadrature (the q11 = q12 = q22 case of <see cref="Quadrature"/>).</summary>
    public static KernelMoments QuadratureDiagonal(Activation activation, double q, double tolerance = DefaultQuadratureTolerance)
    {
        CheckVariance(q, nameof(q));
        CheckTolerance(tolerance);
        if (activation.IsPiecewiseLinear)
        {
            double s = Math.Sqrt(q);
            return PolarQuadrature(activation, s, s, 0);
        }

        double b2 = InputScale2(activation);
        var m = IntegrateDiagonal(new Builtin(activation), b2 * q, tolerance);
        return new KernelMoments(m.K, b2 * m.KDot);
    }

    /// <summary>The quadrature moments of a smooth built-in activation (not piecewise linear), with its input scale taken out.</summary>
    internal static SmoothMoments<Builtin> Smooth(Activation activation, double tolerance, bool series = true) =>
        new(new Builtin(activation), tolerance, InputScale2(activation), series);

    /// <summary>
    /// Moments of one smooth activation (built in or given by code) at one tolerance, for single entries and for rows of
    /// entries sharing their first point: the Mehler series over Hermite coefficients cached per variance
    /// (<see cref="HermiteExpansion"/>) where its error bound proves it accurate to the tolerance, otherwise nested
    /// adaptive quadrature (always, when <paramref name="series"/> is false). <paramref name="inputScale2"/> (b^2 for Erf
    /// and Sin) scales the variances, and KDot by it. Row and Entry run the same code, so they agree bit for bit; so do
    /// (q11, q22) and (q22, q11).
    /// </summary>
    internal sealed class SmoothMoments<TActivation>(TActivation activation, double tolerance, double inputScale2, bool series = true)
        where TActivation : IScalarActivation
    {
        private readonly HermiteExpansion.Cache<TActivation> _expansions = new(activation);

        /// <summary>The moments of one entry.</summary>
        public KernelMoments Entry(double q11, double q12, double q22)
        {
            HermiteExpansion? first = null, firstLong = null;
            return Moments(ref first, ref firstLong, q11, q12, q22);
        }

        /// <summary>moments[j] = Entry(q11, q12[j], q22[j]), with the first point's expansions fetched once.</summary>
        public void Row(double q11, ReadOnlySpan<double> q12, ReadOnlySpan<double> q22, Span<KernelMoments> moments)
        {
            HermiteExpansion? first = null, firstLong = null;
            for (int j = 0; j < moments.Length; j++) moments[j] = Moments(ref first, ref firstLong, q11, q12[j], q22[j]);
        }

        // The short series, then the long one, then adaptive quadrature: each step is decided by the entry alone, so a
        // row gives the same bits as its entries one by one.
        private KernelMoments Moments(ref HermiteExpansion? first, ref HermiteExpansion? firstLong, double q11, double q12, double q22)
        {
            CheckCovariance(q11, q12, q22);
            double b2 = inputScale2, p11 = b2 * q11, p22 = b2 * q22;
            double p12 = ClampCovariance(p11, b2 * q12, p22);
            double rho = p12 / Math.Sqrt(p11 * p22);
            KernelMoments m;
            if (series && HermiteExpansion.Applies(p11, p22, rho))
            {
                first ??= _expansions.Get(p11, full: false);
                if (HermiteExpansion.TrySum(first, _expansions.Get(p22, full: false), rho, tolerance, out m)) return new KernelMoments(m.K, b2 * m.KDot);
                firstLong ??= _expansions.Get(p11, full: true);
                if (HermiteExpansion.TrySum(firstLong, _expansions.Get(p22, full: true), rho, tolerance, out m)) return new KernelMoments(m.K, b2 * m.KDot);
            }

            m = Integrate(activation, p11, p12, p22, tolerance);
            return new KernelMoments(m.K, b2 * m.KDot);
        }
    }

    private static KernelMoments Integrate<TActivation>(TActivation activation, double q11, double q12, double q22, double tolerance)
        where TActivation : IScalarActivation
    {
        // Both moments are symmetric in (u, v): condition on the larger variance (then |q12 / q11| <= 1, so E[phi(v) | u]
        // varies in u no faster than phi does) and order canonically, so that swapping X1 and X2 transposes the kernel exactly.
        if (q11 < q22) (q11, q22) = (q22, q11);
        q12 = ClampCovariance(q11, q12, q22);
        if (q11 == 0)
        {
            activation.Evaluate(0, out double f, out double d);
            return new KernelMoments(f * f, d * d);
        }

        double slope = q12 / q11, sd = Math.Sqrt(Math.Max(q11 * q22 - q12 * q12, 0) / q11);
        var outer = new Conditional<TActivation>(activation, slope, sd, tolerance);
        // E[phi(v) | u] = G(slope u) with G(mu) = E[phi(mu + sd Z)], which varies on a scale max(1, sd) out to
        // |mu| = FeatureRadius + Window sd: in u, a second feature zone (|slope| <= 1, so it is never narrower than phi's).
        double a = Math.Abs(slope);
        var grading = new GaussianExpectation.Grading(GaussianExpectation.FeatureRadius,
            (GaussianExpectation.FeatureRadius + GaussianExpectation.Window * sd) / a, Math.Max(1, sd) / a);
        var (k, kdot) = GaussianExpectation.Expect(ref outer, 0, Math.Sqrt(q11), tolerance, grading, default, out _);
        return new KernelMoments(k, kdot);
    }

    // Integrate's grading at slope 1, sd 0.
    private static readonly GaussianExpectation.Grading DiagonalGrading =
        new(GaussianExpectation.FeatureRadius, GaussianExpectation.FeatureRadius, 1);

    private static KernelMoments IntegrateDiagonal<TActivation>(TActivation activation, double q, double tolerance)
        where TActivation : IScalarActivation
    {
        // The q12 = q11 = q22 case of Integrate (slope 1, no inner integral): the same panels and products.
        var squares = new Conditional<TActivation>(activation, 1, 0, tolerance);
        if (q == 0)
        {
            activation.Evaluate(0, out double f, out double d);
            return new KernelMoments(f * f, d * d);
        }

        var (k, kdot) = GaussianExpectation.Expect(ref squares, 0, Math.Sqrt(q), tolerance, DiagonalGrading, default, out _);
        return new KernelMoments(k, kdot);
    }

    // u -> (phi(u) E[phi(v) | u], phi'(u) E[phi'(v) | u]) with v | u ~ N(slope u, sd^2). The inner integrals' errors count
    // against the outer integral, so they are relative to the larger of their own E|phi(v)| | u and its value at u = 0
    // (a typical size): far out, where E[phi'(v) | u] is tiny, its relative accuracy does not matter.
    private struct Conditional<TActivation> : IPairFunction
        where TActivation : IScalarActivation
    {
        private readonly double _slope, _sd, _tolerance;
        private readonly (double, double) _floor;
        private Phi<TActivation> _phi;

        public Conditional(TActivation activation, double slope, double sd, double tolerance)
        {
            _phi = new Phi<TActivation>(activation);
            _slope = slope;
            _sd = sd;
            _tolerance = tolerance;
            GaussianExpectation.Expect(ref _phi, 0, sd, tolerance, GaussianExpectation.Grading.Activation, default, out _floor);
        }

        public void Evaluate(double u, out double first, out double second)
        {
            _phi.Evaluate(u, out double f, out double d);
            if (f == 0 && d == 0)
            {
                first = second = 0;
                return;
            }

            var (fv, dv) = GaussianExpectation.Expect(ref _phi, _slope * u, _sd, _tolerance, GaussianExpectation.Grading.Activation, _floor, out _);
            first = f * fv;
            second = d * dv;
        }
    }

    private struct Phi<TActivation>(TActivation activation) : IPairFunction
        where TActivation : IScalarActivation
    {
        public void Evaluate(double x, out double first, out double second) => activation.Evaluate(x, out first, out second);
    }

    // Piecewise-linear phi is positively homogeneous, so in polar coordinates (z1, z2) = r (cos a, sin a) the
    // radial integrals are exact (E[r^2] = 2 for phi phi, 1 for phi' phi') and what remains is an angular integral
    // of a piecewise trigonometric function, with kinks where u = 0 or v = 0. Gauss-Legendre on each smooth piece
    // converges exponentially, whereas Gauss-Hermite across the kink converges like 1/n (1e-2 on KDot at n = 400).
    private static KernelMoments PolarQuadrature(Activation activation, double l11, double l21, double l22)
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

        // Each piece is a trigonometric polynomial of degree 2 on at most pi: 16 Gauss-Legendre nodes are exact to rounding.
        var gl = GaussLegendre.ForDegree(16);
        double a = activation.A, b = activation.B;
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
                double u = l11 * c, v = l21 * c + l22 * s;
                double du = Slope(u, a, b), dv = Slope(v, a, b);
                k += half * gl.Weights[i] * du * u * dv * v;
                kdot += half * gl.Weights[i] * du * dv;
            }
        }

        return new KernelMoments(k / Math.PI, kdot / TwoPi);
    }

    // A variable that is 0 surely (zero variance) stands for mass on both sides of the kink: the mean slope, the
    // convention of ClosedFormDiagonal and of nt's theta = pi/2 fill.
    private static double Slope(double x, double a, double b) => x > 0 ? b : x < 0 ? a : 0.5 * (a + b);

    // |q12| <= sqrt(q11 q22) (correlation in [-1, 1]). Rounding can push the covariance of nearly parallel
    // inputs past the bound; in chaotic regimes (e.g. sin with large sw) the excess then grows layer by layer
    // until exp overflows, so every moment clamps first.
    private static double ClampCovariance(double q11, double q12, double q22)
    {
        double bound = Math.Sqrt(Math.Max(q11, 0) * Math.Max(q22, 0));
        return Math.Clamp(q12, -bound, bound);
    }

    private static void CheckCovariance(double q11, double q12, double q22)
    {
        CheckVariance(q11, nameof(q11));
        if (!double.IsFinite(q12)) throw new ArgumentOutOfRangeException(nameof(q12), q12, "The covariance q12 must be finite.");
        CheckVariance(q22, nameof(q22));
    }

    private static void CheckVariance(double q, string name)
    {
        if (!(q >= 0) || !double.IsFinite(q)) throw new ArgumentOutOfRangeException(name, q, $"The variance {name} must be finite and >= 0.");
    }

    private static void CheckTolerance(double tolerance)
    {
        if (!(tolerance >= GaussianExpectation.MinTolerance && tolerance <= MaxQuadratureTolerance))
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance,
                $"The quadrature tolerance must be between {GaussianExpectation.MinTolerance} and {MaxQuadratureTolerance}.");
    }

    // Erf and Sin take the input scale B out of the integral: phi(x) = psi(B x) has the moments of psi at variance
    // B^2 q, with phi' = B psi' (KDot times B^2), so the integrand's features sit at the unit scale the panels assume.
    private static double InputScale2(Activation activation) =>
        activation.Kind is ActivationKind.Erf or ActivationKind.Sin ? activation.B * activation.B : 1;

    // phi and phi' of the built-in smooth kinds together, one exp or tanh each and accurate to a few ulps in the
    // saturated tails (tanh' and sigmoid' from exp(-|x|), not as 1 - tanh^2 or s (1 - s)). Erf and Sin without
    // their input scale B (see InputScale2).
    internal readonly struct Builtin(Activation activation) : IScalarActivation
    {
        private const double TwoOverSqrtPi = 1.1283791670955126;
        private const double InvSqrt2Pi = 0.3989422804014327;
        private const double InvSqrt2 = 0.7071067811865476;

        public void Evaluate(double x, out double value, out double derivative)
        {
            switch (activation.Kind)
            {
                case ActivationKind.Tanh:
                {
                    double ax = Math.Abs(x);
                    if (ax < 0.5)
                    {
                        value = Math.Tanh(x);
                        derivative = 1 - value * value;
                        return;
                    }

                    double e = Math.Exp(-2 * ax), r = 1 / (1 + e);
                    value = Math.CopySign((1 - e) * r, x);
                    derivative = 4 * e * r * r;
                    return;
                }

                case ActivationKind.Sigmoid:
                {
                    double e = Math.Exp(-Math.Abs(x)), r = 1 / (1 + e);
                    value = x >= 0 ? r : e * r;
                    derivative = e * r * r;
                    return;
                }

                case ActivationKind.Softplus:
                {
                    double e = Math.Exp(-Math.Abs(x)), r = 1 / (1 + e);
                    value = Math.Max(x, 0) + LogOnePlus(e);
                    derivative = x >= 0 ? r : e * r;
                    return;
                }

                case ActivationKind.Gelu:
                {
                    double cdf = 0.5 * SpecialFunctions.Erfc(-x * InvSqrt2);
                    value = x * cdf;
                    derivative = cdf + x * InvSqrt2Pi * Math.Exp(-0.5 * x * x);
                    return;
                }

                case ActivationKind.Erf:
                    value = activation.A * SpecialFunctions.Erf(x) + activation.C;
                    derivative = activation.A * TwoOverSqrtPi * Math.Exp(-x * x);
                    return;
                case ActivationKind.Sin:
                    value = activation.A * Math.Sin(x + activation.C);
                    derivative = activation.A * Math.Cos(x + activation.C);
                    return;
                case ActivationKind.Identity:
                    value = x;
                    derivative = 1;
                    return;
                default:
                    throw new NotSupportedException($"{activation} is integrated in polar coordinates.");
            }
        }

        // log(1 + e) for 0 <= e <= 1 to full relative accuracy (Goldberg: log(u) e / (u - 1) with u = 1 + e rounded).
        private static double LogOnePlus(double e)
        {
            double u = 1 + e;
            return u == 1 ? e : Math.Log(u) * e / (u - 1);
        }
    }
}
