namespace NtkDsl;

/// <summary>Two real functions of one variable evaluated together (phi and phi', or two integrands that share work).</summary>
internal interface IPairFunction
{
    void Evaluate(double x, out double first, out double second);
}

/// <summary>
/// Adaptive Gauss-Kronrod (7/15) quadrature of Gaussian expectations <c>E[f(m + t Z)]</c>, Z ~ N(0, 1), of a pair
/// of functions whose features (kinks, saturation, narrow bumps) lie near x = 0 on a scale of order 1, such as
/// activations and their derivatives.
/// </summary>
/// <remarks>
/// <para>The integral runs in z over [-<see cref="Window"/>, <see cref="Window"/>] (the Gaussian mass outside is
/// 2e-19). The initial panels satisfy two scales at once: at most 3 wide in z (the Gaussian), and, in x = m + t z,
/// a breakpoint at x = 0 and panels graded geometrically away from it (x = 0, 2, 6, 18, 54 on each side, up to a
/// feature radius), so that a function analytic in a strip of half-width ~pi/2 around the real axis (tanh's poles are
/// at +-i pi/2) is resolved to ~1e-13 on every panel however large t is; beyond the radius only the Gaussian scale
/// limits the panels. Then the
/// panel with the largest error estimate (QUADPACK's QK15 estimate) is halved until the summed estimates are below
/// <c>tolerance</c> times the integral of |f| for both functions, so features elsewhere (a custom activation's kink at
/// x = 1, oscillations) are found by refinement.</para>
/// <para>Fast path for t &lt;= 0.35 (narrow in phi's unit scale: small variances, or an inner integral at correlation
/// near +-1): Gauss-Hermite rules of 8, 16, 32 nodes in z, the first that agrees with the previous one to the
/// tolerance is taken (they converge exponentially on smooth f, so its own error is far smaller); when none agree (a
/// kink, or features narrow in z) the adaptive scheme runs.</para>
/// <para>Cost: 15 evaluations per panel; ~8 panels at t ~ 1, more at large t (the grading levels); a 2-D moment
/// nests two such integrals, ~1.5e4 evaluations at unit variances, up to ~1e5 at variance 1e8.</para>
/// </remarks>
internal static class GaussianExpectation
{
    /// <summary>Half-width of the integration window in standard deviations.</summary>
    public const double Window = 9;

    /// <summary>Smallest accepted relative tolerance (the per-panel roundoff floor is 50 eps of |f|'s integral).</summary>
    public const double MinTolerance = 1e-13;

    /// <summary>Most panels per integral before giving up.</summary>
    public const int MaxPanels = 400;

    /// <summary>
    /// Default radius of the graded panels: the built-in activations are affine to ~1e-13 beyond |x| = 32
    /// (tanh to 1e-27, softplus and SiLU to 4e-13).
    /// </summary>
    public const double FeatureRadius = 32;

    private const double GaussianStep = 3;

    // Gauss-Hermite fast path: tried for t up to HermiteMaxScale (beyond, phi's unit-scale features are too narrow in z).
    private const double HermiteMaxScale = 0.35;
    private static readonly GaussHermite[] HermiteRules = [GaussHermite.ForDegree(8), GaussHermite.ForDegree(16), GaussHermite.ForDegree(32)];

    // Grading ratio away from 0: a panel [d, 3 d] keeps tanh's nearest pole (i pi/2 from 0) outside a Bernstein ellipse
    // of parameter ~3.9, where the 15-point Kronrod rule is accurate to ~1e-14.
    private const double Ratio = 3;

    // QUADPACK's estimate is resasc min(1, (200 |K15 - G7| / resasc)^1.5), which tracks the 7-point Gauss error: orders
    // of magnitude above the Kronrod error of a panel on which the integrand is analytic (there K15's error is about
    // G7's to the power 23/14). With 2 instead of 200 the estimates still exceed the measured errors (2e-12 at worst at
    // tolerance 1e-10 on the reference grid) and about half of the refinements are saved. The price: a kink inside a
    // panel is under-estimated (so code-defined activations should have their kinks at 0, a breakpoint).
    private const double EstimateFactor = 2;
    private const double InvSqrt2Pi = 0.398942280401432677939946059934;
    private const double MachineEpsilon = 2.220446049250313e-16; // 2^-52 (double.Epsilon is the smallest subnormal)

    // Kronrod abscissae (descending; odd indices are the 7-point Gauss nodes, the last is 0) and weights.
    private static ReadOnlySpan<double> Xk =>
    [
        0.991455371120812639206854697526329, 0.949107912342758524526189684047851, 0.864864423359769072789712788640926,
        0.741531185599394439863864773280788, 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
        0.207784955007898467600689403773245, 0.0,
    ];

    private static ReadOnlySpan<double> Wk =>
    [
        0.022935322010529224963732008058970, 0.063092092629978553290700663189204, 0.104790010322250183839876322541518,
        0.140653259715525918745189590510238, 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
        0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
    ];

    private static ReadOnlySpan<double> Wg =>
    [
        0.129484966168869693270611432679082, 0.279705391489276667901467771423780, 0.381830050505118944950369775488975,
        0.417959183673469387755102040816327,
    ];

    /// <summary>
    /// Width limits of the initial panels as a function of the distance d = |x| from 0: max(2, 2 d) (a factor 3 per
    /// panel) for d &lt; <paramref name="Radius"/> (where phi has features), max(<paramref name="OuterScale"/>, d)
    /// for d up to <paramref name="OuterRadius"/> (a second, wider feature: E[phi(v) | u] as a function of u), none beyond.
    /// </summary>
    internal readonly record struct Grading(double Radius, double OuterRadius, double OuterScale)
    {
        /// <summary>Features of phi only.</summary>
        public static Grading Activation => new(FeatureRadius, 0, 1);

        // Distance from 0 of the next breakpoint moving outward from distance d.
        public double Outward(double d) =>
            d < Radius ? d + Math.Max(2, (Ratio - 1) * d) : d < OuterRadius ? d + Math.Max(OuterScale, d) : double.PositiveInfinity;

        // Moving inward from distance d > 0: the smallest d' whose panel [d', d] obeys the limit at d'.
        public double Inward(double d)
        {
            double outer = Math.Max(OuterRadius, Radius);
            if (d > outer) return outer;
            if (d > Radius) return Math.Max(Radius, Math.Min(d - OuterScale, 0.5 * d));
            return Math.Max(0, Math.Min(d - 2, d / Ratio));
        }
    }

    private struct Panel
    {
        public double Lo, Hi, First, Second, ErrFirst, ErrSecond, AbsFirst, AbsSecond;
    }

    /// <summary>
    /// <c>(E[f1(m + t Z)], E[f2(m + t Z)])</c> with both errors estimated below <paramref name="tolerance"/> times
    /// max(E|f|, <paramref name="floor"/>) (per function); <paramref name="t"/> = 0 gives f(m). The initial panels follow
    /// <paramref name="grading"/>. <paramref name="absolute"/> receives (E|f1|, E|f2|).
    /// </summary>
    /// <exception cref="ArithmeticException">The estimate did not reach the tolerance within <see cref="MaxPanels"/> panels.</exception>
    public static (double First, double Second) Expect<TF>(ref TF f, double m, double t, double tolerance, in Grading grading,
        (double First, double Second) floor, out (double First, double Second) absolute)
        where TF : struct, IPairFunction
    {
        if (t == 0)
        {
            f.Evaluate(m, out double a, out double b);
            absolute = (Math.Abs(a), Math.Abs(b));
            return (a, b);
        }

        if (t <= HermiteMaxScale && TryHermite(ref f, m, t, tolerance, floor, out var fast, out absolute)) return fast;

        Span<Panel> panels = stackalloc Panel[MaxPanels];
        int count = 0;
        double z = -Window, x = m - Window * t;
        while (z < Window)
        {
            double next = NextBreak(ref x, z, m, t, grading);
            ref var p = ref panels[count++];
            p.Lo = z;
            p.Hi = next;
            Kronrod(ref f, m, t, ref p);
            z = next;
        }

        while (true)
        {
            double first = 0, second = 0, errFirst = 0, errSecond = 0, absFirst = 0, absSecond = 0;
            for (int i = 0; i < count; i++)
            {
                ref var p = ref panels[i];
                first += p.First;
                second += p.Second;
                errFirst += p.ErrFirst;
                errSecond += p.ErrSecond;
                absFirst += p.AbsFirst;
                absSecond += p.AbsSecond;
            }

            if (errFirst <= tolerance * Math.Max(absFirst, floor.First) && errSecond <= tolerance * Math.Max(absSecond, floor.Second))
            {
                absolute = (absFirst, absSecond);
                return (first, second);
            }

            double scaleFirst = Scale(absFirst, floor.First), scaleSecond = Scale(absSecond, floor.Second);
            if (count == MaxPanels)
                throw new ArithmeticException(
                    $"Gaussian quadrature (mean {m}, standard deviation {t}) did not reach relative tolerance {tolerance} within {MaxPanels} panels " +
                    $"(estimates {errFirst * scaleFirst:E1}, {errSecond * scaleSecond:E1}): the function varies on too many scales; use a looser QuadratureTolerance.");

            // Halve the panel that contributes most to the two relative errors.
            int worst = 0;
            double worstError = -1;
            for (int i = 0; i < count; i++)
            {
                double e = panels[i].ErrFirst * scaleFirst + panels[i].ErrSecond * scaleSecond;
                if (e > worstError)
                {
                    worstError = e;
                    worst = i;
                }
            }

            ref var w = ref panels[worst];
            double lo = w.Lo, hi = w.Hi, mid = 0.5 * (lo + hi);
            w.Hi = mid;
            Kronrod(ref f, m, t, ref w);
            ref var added = ref panels[count++];
            added.Lo = mid;
            added.Hi = hi;
            Kronrod(ref f, m, t, ref added);
        }
    }

    // Gauss-Hermite rules of rising degree in z; the first result that agrees with the previous rule's to the tolerance
    // is taken (its own error is far smaller: the rules converge exponentially on smooth f). False when none agree
    // (a kink, or features narrow in z): the adaptive scheme then takes over.
    private static bool TryHermite<TF>(ref TF f, double m, double t, double tolerance, (double First, double Second) floor,
        out (double First, double Second) result, out (double First, double Second) absolute)
        where TF : struct, IPairFunction
    {
        double previousFirst = 0, previousSecond = 0;
        for (int r = 0; r < HermiteRules.Length; r++)
        {
            var rule = HermiteRules[r];
            double first = 0, second = 0, absFirst = 0, absSecond = 0;
            for (int i = 0; i < rule.Nodes.Length; i++)
            {
                f.Evaluate(m + t * rule.Nodes[i], out double a, out double b);
                double w = rule.Weights[i];
                first += w * a;
                second += w * b;
                absFirst += w * Math.Abs(a);
                absSecond += w * Math.Abs(b);
            }

            if (r > 0 && Math.Abs(first - previousFirst) <= tolerance * Math.Max(absFirst, floor.First)
                && Math.Abs(second - previousSecond) <= tolerance * Math.Max(absSecond, floor.Second))
            {
                result = (first, second);
                absolute = (absFirst, absSecond);
                return true;
            }

            previousFirst = first;
            previousSecond = second;
        }

        result = absolute = default;
        return false;
    }

    private static double Scale(double absolute, double floor)
    {
        double s = Math.Max(absolute, floor);
        return s > 0 ? 1 / s : 0;
    }

    // The next initial breakpoint after z (at x = m + t z): at most GaussianStep further, never across x = 0, and
    // within the width limits of the grading. x is carried exactly from breakpoint to breakpoint: recomputing it from z
    // could land a hair outside the breakpoint it came from and stall there.
    private static double NextBreak(ref double x, double z, double m, double t, in Grading grading)
    {
        double xNext = x < 0 ? -grading.Inward(-x) : grading.Outward(x);
        double zNext = (xNext - m) / t;
        if (zNext < z + GaussianStep && zNext > z)
        {
            if (zNext < Window)
            {
                x = xNext;
                return zNext;
            }
        }
        else if (!(zNext > z))
        {
            zNext = z + GaussianStep; // rounding: cannot happen with exact x, but must never stall the sweep
        }

        double next = Math.Min(Math.Min(z + GaussianStep, zNext), Window);
        x = m + t * next;
        return next;
    }

    // QUADPACK's QK15 on [p.Lo, p.Hi] for both functions times the standard normal density.
    private static void Kronrod<TF>(ref TF f, double m, double t, ref Panel p)
        where TF : struct, IPairFunction
    {
        double center = 0.5 * (p.Lo + p.Hi), half = 0.5 * (p.Hi - p.Lo);
        Span<double> v1 = stackalloc double[8];
        Span<double> v2 = stackalloc double[8];
        Span<double> w1 = stackalloc double[8];
        Span<double> w2 = stackalloc double[8];
        var xk = Xk;
        var wk = Wk;
        var wg = Wg;

        Sample(ref f, m, t, center, out double c1, out double c2);
        double k1 = c1 * wk[7], k2 = c2 * wk[7], g1 = c1 * wg[3], g2 = c2 * wg[3];
        double a1 = Math.Abs(k1), a2 = Math.Abs(k2);
        for (int j = 0; j < 7; j++)
        {
            double d = half * xk[j];
            Sample(ref f, m, t, center - d, out v1[j], out v2[j]);
            Sample(ref f, m, t, center + d, out w1[j], out w2[j]);
            double s1 = v1[j] + w1[j], s2 = v2[j] + w2[j];
            k1 += wk[j] * s1;
            k2 += wk[j] * s2;
            a1 += wk[j] * (Math.Abs(v1[j]) + Math.Abs(w1[j]));
            a2 += wk[j] * (Math.Abs(v2[j]) + Math.Abs(w2[j]));
            if ((j & 1) == 1)
            {
                g1 += wg[j >> 1] * s1;
                g2 += wg[j >> 1] * s2;
            }
        }

        double mean1 = 0.5 * k1, mean2 = 0.5 * k2;
        double r1 = wk[7] * Math.Abs(c1 - mean1), r2 = wk[7] * Math.Abs(c2 - mean2);
        for (int j = 0; j < 7; j++)
        {
            r1 += wk[j] * (Math.Abs(v1[j] - mean1) + Math.Abs(w1[j] - mean1));
            r2 += wk[j] * (Math.Abs(v2[j] - mean2) + Math.Abs(w2[j] - mean2));
        }

        double h = Math.Abs(half);
        p.First = k1 * half;
        p.Second = k2 * half;
        p.AbsFirst = a1 * h;
        p.AbsSecond = a2 * h;
        p.ErrFirst = Estimate((k1 - g1) * h, r1 * h, a1 * h);
        p.ErrSecond = Estimate((k2 - g2) * h, r2 * h, a2 * h);
    }

    private static void Sample<TF>(ref TF f, double m, double t, double z, out double first, out double second)
        where TF : struct, IPairFunction
    {
        f.Evaluate(m + t * z, out first, out second);
        double density = InvSqrt2Pi * Math.Exp(-0.5 * z * z);
        first *= density;
        second *= density;
    }

    // QUADPACK's estimate (with EstimateFactor for its 200), floored at 50 eps |f|.
    private static double Estimate(double difference, double resasc, double resabs)
    {
        double error = Math.Abs(difference);
        if (resasc != 0 && error != 0) error = resasc * Math.Min(1, Math.Pow(EstimateFactor * error / resasc, 1.5));
        return Math.Max(50 * MachineEpsilon * resabs, error);
    }
}
