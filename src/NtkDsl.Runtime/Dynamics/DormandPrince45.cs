namespace NtkDsl;

/// <summary>Right-hand side of an ODE system dy/dt = f(t, y).</summary>
/// <param name="t">Time.</param>
/// <param name="y">Current state.</param>
/// <param name="dydt">Receives f(t, y); same length as <paramref name="y"/>.</param>
public delegate void OdeFunction(double t, ReadOnlySpan<double> y, Span<double> dydt);

/// <summary>Error control and limits for <see cref="DormandPrince45"/>.</summary>
public sealed record OdeOptions
{
    /// <summary>Relative tolerance per component (default 1e-8).</summary>
    public double RelativeTolerance { get; init; } = 1e-8;

    /// <summary>Absolute tolerance per component (default 1e-10).</summary>
    public double AbsoluteTolerance { get; init; } = 1e-10;

    /// <summary>Give up after this many accepted plus rejected steps (default 1,000,000).</summary>
    public int MaxSteps { get; init; } = 1_000_000;

    /// <summary>First trial step; null picks one from the problem (Hairer, Norsett and Wanner's heuristic).</summary>
    public double? InitialStep { get; init; }
}

/// <summary>The states of an ODE at the requested times, and how much work it took.</summary>
public sealed class OdeSolution
{
    internal OdeSolution(double[] times, double[][] states, int accepted, int rejected, int evaluations)
    {
        Times = times;
        States = states;
        AcceptedSteps = accepted;
        RejectedSteps = rejected;
        Evaluations = evaluations;
    }

    /// <summary>The requested output times.</summary>
    public IReadOnlyList<double> Times { get; }

    /// <summary>The state at each requested time (a fresh array per time).</summary>
    public IReadOnlyList<double[]> States { get; }

    /// <summary>Accepted steps.</summary>
    public int AcceptedSteps { get; }

    /// <summary>Steps rejected by error control.</summary>
    public int RejectedSteps { get; }

    /// <summary>Right-hand-side evaluations.</summary>
    public int Evaluations { get; }
}

/// <summary>
/// Adaptive explicit Runge-Kutta 5(4) of Dormand and Prince (the tableau of ode45 / scipy's RK45 /
/// jax.experimental.ode) with local extrapolation, FSAL, and a weighted RMS error norm:
/// err = sqrt(mean((e_i / (atol + rtol max(|y_i|, |y_new_i|)))^2)), step accepted when err &lt;= 1.
/// Output times are hit exactly by shortening the step (no interpolation error).
/// </summary>
public static class DormandPrince45
{
    // Butcher tableau.
    private const double C2 = 1.0 / 5, C3 = 3.0 / 10, C4 = 4.0 / 5, C5 = 8.0 / 9;
    private const double A21 = 1.0 / 5;
    private const double A31 = 3.0 / 40, A32 = 9.0 / 40;
    private const double A41 = 44.0 / 45, A42 = -56.0 / 15, A43 = 32.0 / 9;
    private const double A51 = 19372.0 / 6561, A52 = -25360.0 / 2187, A53 = 64448.0 / 6561, A54 = -212.0 / 729;
    private const double A61 = 9017.0 / 3168, A62 = -355.0 / 33, A63 = 46732.0 / 5247, A64 = 49.0 / 176, A65 = -5103.0 / 18656;
    private const double B1 = 35.0 / 384, B3 = 500.0 / 1113, B4 = 125.0 / 192, B5 = -2187.0 / 6784, B6 = 11.0 / 84;
    // Fifth- minus fourth-order weights: the local error estimate.
    private const double E1 = 71.0 / 57600, E3 = -71.0 / 16695, E4 = 71.0 / 1920, E5 = -17253.0 / 339200, E6 = 22.0 / 525, E7 = -1.0 / 40;

    /// <summary>Integrates from (t0, y0) and returns the state at each requested time.</summary>
    /// <param name="f">The right-hand side.</param>
    /// <param name="t0">Initial time.</param>
    /// <param name="y0">Initial state (not modified).</param>
    /// <param name="times">Output times, non-decreasing, each &gt;= t0 and finite.</param>
    /// <param name="options">Tolerances and limits; null for defaults.</param>
    /// <exception cref="InvalidOperationException">MaxSteps exceeded, or the step size underflowed (non-finite or exploding solution).</exception>
    public static OdeSolution Integrate(OdeFunction f, double t0, ReadOnlySpan<double> y0, IReadOnlyList<double> times, OdeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(times);
        options ??= new OdeOptions();
        double rtol = options.RelativeTolerance, atol = options.AbsoluteTolerance;
        if (!(rtol >= 0) || !(atol >= 0) || !double.IsFinite(rtol) || !double.IsFinite(atol) || rtol + atol == 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"Tolerances must be finite, >= 0 and not both 0; got rtol {rtol}, atol {atol}.");
        if (options.MaxSteps < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxSteps must be >= 1.");
        DynamicsMath.RequireFinite(t0, nameof(t0));
        double prev = t0;
        for (int i = 0; i < times.Count; i++)
        {
            if (!double.IsFinite(times[i]) || times[i] < prev)
                throw new ArgumentException($"times must be finite, non-decreasing and >= t0 = {DynamicsMath.Fmt(t0)}; times[{i}] = {DynamicsMath.Fmt(times[i])} follows {DynamicsMath.Fmt(prev)}.", nameof(times));
            prev = times[i];
        }
        int n = y0.Length;
        foreach (var v in y0)
            if (!double.IsFinite(v)) throw new ArgumentException("y0 contains NaN or infinity.", nameof(y0));

        var y = y0.ToArray();
        var yNew = new double[n];
        var tmp = new double[n];
        var k1 = new double[n]; var k2 = new double[n]; var k3 = new double[n]; var k4 = new double[n];
        var k5 = new double[n]; var k6 = new double[n]; var k7 = new double[n];
        var outStates = new double[times.Count][];
        int accepted = 0, rejected = 0, evals = 0;
        double t = t0;

        f(t, y, k1); evals++;
        double h = options.InitialStep ?? InitialStep(f, t, y, k1, rtol, atol, tmp, k2, ref evals);
        if (!(h > 0)) h = 1e-6;

        for (int oi = 0; oi < times.Count; oi++)
        {
            double target = times[oi];
            while (t < target)
            {
                if (accepted + rejected >= options.MaxSteps)
                    throw new InvalidOperationException(
                        $"DormandPrince45 exceeded MaxSteps = {options.MaxSteps} at t = {DynamicsMath.Fmt(t)} (target {DynamicsMath.Fmt(target)}); the problem is stiff or the tolerances too tight. Use a shorter horizon, looser tolerances, or the closed form for MSE.");
                // Shorten the last step onto the output time; remember the proposal so it is not lost.
                bool clipped = t + h >= target;
                double step = clipped ? target - t : h;
                Stage(y, step, tmp, k1, A21); f(t + C2 * step, tmp, k2);
                for (int i = 0; i < n; i++) tmp[i] = y[i] + step * (A31 * k1[i] + A32 * k2[i]);
                f(t + C3 * step, tmp, k3);
                for (int i = 0; i < n; i++) tmp[i] = y[i] + step * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]);
                f(t + C4 * step, tmp, k4);
                for (int i = 0; i < n; i++) tmp[i] = y[i] + step * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]);
                f(t + C5 * step, tmp, k5);
                for (int i = 0; i < n; i++) tmp[i] = y[i] + step * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i]);
                f(t + step, tmp, k6);
                for (int i = 0; i < n; i++) yNew[i] = y[i] + step * (B1 * k1[i] + B3 * k3[i] + B4 * k4[i] + B5 * k5[i] + B6 * k6[i]);
                f(t + step, yNew, k7);
                evals += 6;

                double sum = 0;
                for (int i = 0; i < n; i++)
                {
                    double e = step * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i]);
                    double sc = atol + rtol * Math.Max(Math.Abs(y[i]), Math.Abs(yNew[i]));
                    double r = e / sc;
                    sum += r * r;
                }
                double err = n == 0 ? 0 : Math.Sqrt(sum / n);

                if (err <= 1.0)
                {
                    accepted++;
                    t = clipped ? target : t + step;
                    (y, yNew) = (yNew, y);
                    (k1, k7) = (k7, k1);   // FSAL: the last stage is the next first stage
                    double grow = err == 0 ? 10 : Math.Min(10, Math.Max(0.2, 0.9 * Math.Pow(err, -0.2)));
                    // A clipped step says nothing about the natural step; keep the larger proposal.
                    h = clipped ? Math.Max(h, step * grow) : step * grow;
                }
                else
                {
                    rejected++;
                    double shrink = double.IsFinite(err) ? Math.Max(0.2, 0.9 * Math.Pow(err, -0.2)) : 0.1;
                    h = step * shrink;
                    if (h <= 16 * 2.220446049250313e-16 * Math.Max(1, Math.Abs(t)))
                        throw new InvalidOperationException($"DormandPrince45 step size underflow at t = {DynamicsMath.Fmt(t)} (error norm {DynamicsMath.Fmt(err)}): the solution is probably blowing up or not finite.");
                }
            }
            outStates[oi] = (double[])y.Clone();
        }
        return new OdeSolution(times.ToArray(), outStates, accepted, rejected, evals);
    }

    private static void Stage(double[] y, double h, double[] tmp, double[] k1, double a)
    {
        for (int i = 0; i < y.Length; i++) tmp[i] = y[i] + h * a * k1[i];
    }

    /// <summary>Hairer-Norsett-Wanner starting step (Solving ODEs I, II.4).</summary>
    private static double InitialStep(OdeFunction f, double t, double[] y, double[] f0, double rtol, double atol,
        double[] tmp, double[] f1, ref int evals)
    {
        int n = y.Length;
        if (n == 0) return 1.0;
        double d0 = 0, d1 = 0;
        for (int i = 0; i < n; i++)
        {
            double sc = atol + rtol * Math.Abs(y[i]);
            d0 += (y[i] / sc) * (y[i] / sc);
            d1 += (f0[i] / sc) * (f0[i] / sc);
        }
        d0 = Math.Sqrt(d0 / n); d1 = Math.Sqrt(d1 / n);
        double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
        for (int i = 0; i < n; i++) tmp[i] = y[i] + h0 * f0[i];
        f(t + h0, tmp, f1); evals++;
        double d2 = 0;
        for (int i = 0; i < n; i++)
        {
            double sc = atol + rtol * Math.Abs(y[i]);
            double r = (f1[i] - f0[i]) / sc;
            d2 += r * r;
        }
        d2 = Math.Sqrt(d2 / n) / h0;
        double dm = Math.Max(d1, d2);
        double h1 = dm <= 1e-15 ? Math.Max(1e-6, h0 * 1e-3) : Math.Pow(0.01 / dm, 0.2);
        return Math.Min(100 * h0, h1);
    }
}
