using System.Collections.Concurrent;
using System.Runtime.Intrinsics;

namespace NtkDsl;

/// <summary>
/// The Hermite coefficients of an activation at one variance, for the Mehler series of its kernel moments:
/// with <c>u = sqrt(q11) Z1</c>, <c>v = sqrt(q22) Z2</c>, corr(Z1, Z2) = rho and <c>h_k</c> the orthonormal
/// probabilists' Hermite polynomials,
/// <c>E[phi(u) phi(v)] = sum_k rho^k c_k(q11) c_k(q22)</c> and <c>E[phi'(u) phi'(v)] = sum_k rho^k d_k(q11) d_k(q22)</c>,
/// <c>c_k(q) = E[phi(sqrt(q) Z) h_k(Z)]</c>, <c>d_k(q) = E[phi'(sqrt(q) Z) h_k(Z)]</c> (Mehler's formula).
/// </summary>
/// <remarks>
/// <para>The coefficients k = 0..<see cref="ShortTerms"/> are computed once per variance (a kernel row shares its first
/// point's, a column cache the others'), so an entry costs one short dot product instead of a nested 2-D adaptive
/// quadrature; up to <see cref="MaxTerms"/> when an entry's correlation needs more (<see cref="Cache{TActivation}"/>).
/// They are integrated in z over +-<see cref="Window"/> (|h_k(z)| pdf(z) &lt;= 1.09 exp(-z^2/4) / sqrt(2 pi) by
/// Cramér's inequality: outside, the mass is below 1e-19 of a polynomially bounded phi's scale) by 20-point Gauss-Legendre on panels at most 1 wide in z
/// (h_256 oscillates with wavelength ~0.4) with breakpoints where phi has its features, x = sqrt(q) z = 0, +-2, +-6,
/// +-18, +-54 (GaussianExpectation's grading), once on those panels and once on their halves; the difference is
/// the error estimate of each coefficient, to which the summation's rounding is added.</para>
/// <para>The series is accepted for an entry only under a bound on everything it leaves out, computed alongside
/// the partial sums (<see cref="TrySum"/>): after n terms the remainder is at most
/// <c>|rho|^(n+1) ||c_(n, N]|| ||c'_(n, N]|| + |rho|^(N+1) sqrt(T T')</c> (Cauchy-Schwarz), with the suffix norms
/// from the coefficients themselves and T = E[phi^2] - sum_(k&lt;=N) c_k^2 the Parseval tail beyond the last
/// coefficient, all inflated by the coefficients' error bounds; the coefficients' own errors add
/// <c>sum_k |rho|^k (e |c'_k| + e' |c_k| + e e')</c>. The series is taken when that total is below
/// <see cref="Safety"/> times the tolerance times the value, for K and KDot both; otherwise (|rho| near 1,
/// a value that cancels, an activation the panels do not resolve) the caller integrates adaptively.</para>
/// </remarks>
internal sealed class HermiteExpansion
{
    /// <summary>Index of the last coefficient of the short expansions (enough for |rho| up to ~0.6 at every variance).</summary>
    public const int ShortTerms = 64;

    /// <summary>Index of the last coefficient of the long expansions (|rho| up to ~0.9 at variances up to ~100, any |rho| &lt; 1 up to ~3).</summary>
    public const int MaxTerms = 256;

    /// <summary>Half-width of the integration window in z.</summary>
    public const double Window = 13;

    /// <summary>Fraction of the tolerance the series' error bound must stay below.</summary>
    public const double Safety = 0.1;

    // Largest relative coefficient error (estimate plus rounding) for which the expansion is used at all.
    private const double MaxCoefficientError = 1e-12;
    private const int PanelNodes = 20;
    private const double Epsilon = 2.220446049250313e-16;
    private const double CramerConstant = 1.0865;
    private const double InvSqrt2Pi = 0.398942280401432677939946059934;
    private static readonly double[] Features = [2, 6, 18, 54];
    private static readonly GaussLegendre Rule = GaussLegendre.ForDegree(PanelNodes);

    // sqrt(k) and 1 / sqrt(k + 1) of the recurrence h_(k+1) = (z h_k - sqrt(k) h_(k-1)) / sqrt(k + 1).
    private static readonly double[] Root = Enumerable.Range(0, MaxTerms + 1).Select(k => Math.Sqrt(k)).ToArray();
    private static readonly double[] InvRootNext = Enumerable.Range(0, MaxTerms + 1).Select(k => 1 / Math.Sqrt(k + 1.0)).ToArray();

    private readonly double[] _c, _d, _suffixC, _suffixD;
    private readonly double _errorC, _errorD, _beyondC, _beyondD;

    private HermiteExpansion(double[] c, double[] d, double[] suffixC, double[] suffixD, double errorC, double errorD,
        double beyondC, double beyondD, bool usable)
    {
        _c = c;
        _d = d;
        _suffixC = suffixC;
        _suffixD = suffixD;
        _errorC = errorC;
        _errorD = errorD;
        _beyondC = beyondC;
        _beyondD = beyondD;
        IsUsable = usable;
    }

    /// <summary>False when the coefficients are not accurate enough for the series (or phi or phi' vanishes): use quadrature.</summary>
    public bool IsUsable { get; }

    /// <summary>Index of the last coefficient (<see cref="ShortTerms"/> or <see cref="MaxTerms"/>).</summary>
    public int Terms => _c.Length - 1;

    /// <summary>c_k = E[phi(sqrt(q) Z) h_k(Z)], k = 0..<see cref="Terms"/>.</summary>
    public ReadOnlySpan<double> C => _c;

    /// <summary>d_k = E[phi'(sqrt(q) Z) h_k(Z)].</summary>
    public ReadOnlySpan<double> D => _d;

    /// <summary>Bound on the absolute error of each c_k (and of each d_k: <see cref="ErrorD"/>).</summary>
    public double ErrorC => _errorC;

    /// <inheritdoc cref="ErrorC"/>
    public double ErrorD => _errorD;

    /// <summary>
    /// True when the series is tried at all: both variances positive and |rho| &lt; 1 (it converges there when the
    /// coefficients decay fast, at small variances; at |rho| = 1, a point with itself, the 1-D quadrature of the
    /// diagonal gives the same bits as the 2-D path).
    /// </summary>
    public static bool Applies(double q11, double q22, double rho) => q11 > 0 && q22 > 0 && Math.Abs(rho) < 1;

    /// <summary>The expansion of <paramref name="activation"/> at variance <paramref name="q"/> &gt; 0 up to h_<paramref name="terms"/> (at most <see cref="MaxTerms"/>).</summary>
    public static HermiteExpansion Of<TActivation>(TActivation activation, double q, int terms = MaxTerms)
        where TActivation : IScalarActivation
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(terms, MaxTerms);
        double s = Math.Sqrt(q);
        var breaks = Breakpoints(s);
        int n = terms + 1;
        var coarse = Accumulate(activation, s, breaks, 1, n, out double coarseSquares, out double coarseSquaresD, out _, out _, out _);
        var fine = Accumulate(activation, s, breaks, 2, n, out double squares, out double squaresD, out int panels, out double envelope, out double envelopeD);
        double[] c = fine[..n], d = fine[n..];
        double estimateC = 0, estimateD = 0;
        for (int k = 0; k < n; k++)
        {
            estimateC = Math.Max(estimateC, Math.Abs(coarse[k] - c[k]));
            estimateD = Math.Max(estimateD, Math.Abs(coarse[n + k] - d[k]));
        }

        // Rounding: each coefficient sums PanelNodes products per panel, then the panels' sums, of products whose
        // absolute values add up to at most the envelope sum_i w_i |phi(s z_i)| 1.0865 exp(z_i^2 / 4) (Cramér:
        // |h_k(z)| <= 1.0865 exp(z^2 / 4)), with h_k from a recurrence that loses ~k ulps.
        double sigma = Math.Sqrt(squares), sigmaD = Math.Sqrt(squaresD);
        double roundoff = (PanelNodes + panels + terms) * Epsilon * CramerConstant;
        double errorC = estimateC + roundoff * envelope, errorD = estimateD + roundoff * envelopeD;
        bool usable = sigma > 0 && sigmaD > 0 && errorC <= MaxCoefficientError * sigma && errorD <= MaxCoefficientError * sigmaD;
        double squaresRounding = (PanelNodes + panels) * Epsilon;
        var suffixC = Suffix(c, errorC, out double beyondC, squares, Math.Abs(coarseSquares - squares) + squaresRounding * squares);
        var suffixD = Suffix(d, errorD, out double beyondD, squaresD, Math.Abs(coarseSquaresD - squaresD) + squaresRounding * squaresD);
        return new HermiteExpansion(c, d, suffixC, suffixD, errorC, errorD, beyondC, beyondD, usable);
    }

    /// <summary>
    /// The Mehler series of K = E[phi(u) phi(v)] and KDot = E[phi'(u) phi'(v)] for the correlation <paramref name="rho"/>
    /// (|rho| &lt; 1) between the variances of <paramref name="first"/> and <paramref name="second"/>, summed until the
    /// bound on what is left out is below <see cref="Safety"/> * <paramref name="tolerance"/> of both values. False (and
    /// default moments) when it never is within the expansions' terms (both have the same <see cref="Terms"/>).
    /// Symmetric in the two expansions bit for bit.
    /// </summary>
    public static bool TrySum(HermiteExpansion first, HermiteExpansion second, double rho, double tolerance, out KernelMoments moments)
    {
        moments = default;
        if (!first.IsUsable || !second.IsUsable) return false;
        int terms = first.Terms;
        if (second.Terms != terms) throw new ArgumentException("Both expansions must have the same number of terms.", nameof(second));
        double target = Safety * tolerance;
        double absRho = Math.Abs(rho);
        double last = Math.Pow(absRho, terms + 1);
        double beyondK = last * (first._beyondC * second._beyondC), beyondD = last * (first._beyondD * second._beyondD);
        double errorC = first._errorC * second._errorC, errorD = first._errorD * second._errorD;
        ReadOnlySpan<double> c1 = first._c, c2 = second._c, d1 = first._d, d2 = second._d;
        ReadOnlySpan<double> s1 = first._suffixC, s2 = second._suffixC, t1 = first._suffixD, t2 = second._suffixD;
        double power = 1, k = 0, kdot = 0, absK = 0, absKDot = 0, errK = 0, errKDot = 0;
        for (int j = 0; j <= terms; j++)
        {
            double ap = Math.Abs(power);
            double termK = power * (c1[j] * c2[j]), termKDot = power * (d1[j] * d2[j]);
            k += termK;
            kdot += termKDot;
            absK += Math.Abs(termK);
            absKDot += Math.Abs(termKDot);
            errK += ap * (first._errorC * Math.Abs(c2[j]) + second._errorC * Math.Abs(c1[j]) + errorC);
            errKDot += ap * (first._errorD * Math.Abs(d2[j]) + second._errorD * Math.Abs(d1[j]) + errorD);
            power *= rho;
            double next = Math.Abs(power), rounding = 2 * (j + 2) * Epsilon;
            double boundK = errK + next * (s1[j] * s2[j]) + beyondK + rounding * absK;
            double boundKDot = errKDot + next * (t1[j] * t2[j]) + beyondD + rounding * absKDot;
            if (boundK <= target * Math.Abs(k) && boundKDot <= target * Math.Abs(kdot))
            {
                moments = new KernelMoments(k, kdot);
                return true;
            }
        }

        return false;
    }

    // Panel breakpoints in z: every integer inside the window (panels at most 1 wide) and phi's feature points x/s.
    private static double[] Breakpoints(double s)
    {
        var points = new SortedSet<double> { -Window, 0, Window };
        for (int i = 1; i < Window; i++)
        {
            points.Add(i);
            points.Add(-i);
        }

        foreach (double x in Features)
        {
            double z = x / s;
            if (z < Window)
            {
                points.Add(z);
                points.Add(-z);
            }
        }

        return [.. points];
    }

    // sum_i w_i pdf(z_i) (phi, phi')(s z_i) h_k(z_i) for k = 0..n-1 on the panels, each split into `split` equal
    // parts: [c_0..c_N, d_0..d_N], E[phi^2], E[phi'^2] and the envelopes sum_i w_i |phi| exp(z_i^2 / 4) (and for phi').
    // Four nodes at a time run the recurrence in one vector; each panel is summed on its own, then added (blocked
    // summation, so that a coefficient's rounding grows with PanelNodes + panels, not with the number of nodes).
    private static double[] Accumulate<TActivation>(TActivation activation, double s, double[] breaks, int split, int n,
        out double squares, out double squaresD, out int panels, out double envelope, out double envelopeD)
        where TActivation : IScalarActivation
    {
        const int Lanes = 4;
        var sums = new double[2 * n];
        Span<Vector256<double>> c = stackalloc Vector256<double>[n];
        Span<Vector256<double>> d = stackalloc Vector256<double>[n];
        Span<double> z = stackalloc double[Lanes], a = stackalloc double[Lanes], b = stackalloc double[Lanes];
        double[] x = Rule.Nodes, w = Rule.Weights;
        ReadOnlySpan<double> root = Root, invRootNext = InvRootNext;
        squares = squaresD = envelope = envelopeD = 0;
        panels = 0;
        for (int p = 0; p + 1 < breaks.Length; p++)
        {
            double width = (breaks[p + 1] - breaks[p]) / split;
            for (int part = 0; part < split; part++)
            {
                double lo = breaks[p] + part * width, half = 0.5 * width, mid = lo + half;
                c.Clear();
                d.Clear();
                double panelSquares = 0, panelSquaresD = 0;
                for (int i0 = 0; i0 < PanelNodes; i0 += Lanes)
                {
                    for (int l = 0; l < Lanes; l++)
                    {
                        double zl = mid + half * x[i0 + l];
                        activation.Evaluate(s * zl, out double f, out double df);
                        double weight = half * w[i0 + l] * InvSqrt2Pi * Math.Exp(-0.5 * zl * zl);
                        z[l] = zl;
                        a[l] = weight * f;
                        b[l] = weight * df;
                        panelSquares += a[l] * f;
                        panelSquaresD += b[l] * df;
                        double growth = Math.Exp(0.25 * zl * zl);
                        envelope += Math.Abs(a[l]) * growth;
                        envelopeD += Math.Abs(b[l]) * growth;
                    }

                    Vector256<double> zv = Vector256.Create<double>(z), av = Vector256.Create<double>(a), bv = Vector256.Create<double>(b);
                    Vector256<double> previous = Vector256<double>.Zero, h = Vector256<double>.One;
                    for (int k = 0; k < n; k++)
                    {
                        c[k] += av * h;
                        d[k] += bv * h;
                        var next = (zv * h - Vector256.Create(root[k]) * previous) * invRootNext[k];
                        previous = h;
                        h = next;
                    }
                }

                for (int k = 0; k < n; k++)
                {
                    sums[k] += Vector256.Sum(c[k]);
                    sums[n + k] += Vector256.Sum(d[k]);
                }

                squares += panelSquares;
                squaresD += panelSquaresD;
                panels++;
            }
        }

        return sums;
    }

    // suffix[k] bounds sqrt(sum_(k<j<=N) c_j^2) for the true coefficients (computed norm plus error * sqrt(count));
    // beyond bounds sqrt(sum_(j>N) c_j^2) = sqrt(E[phi^2] - sum_(j<=N) c_j^2), with the errors of E[phi^2] (squaresError)
    // and of every c_j, and the rounding of the sum.
    private static double[] Suffix(double[] c, double error, out double beyond, double squares, double squaresError)
    {
        var suffix = new double[c.Length];
        double tail = 0, parseval = squares + squaresError, slack = 0;
        for (int j = c.Length - 1; j >= 0; j--)
        {
            suffix[j] = Math.Sqrt(tail) + error * Math.Sqrt(c.Length - 1 - j);
            tail += c[j] * c[j];
            slack += 2 * Math.Abs(c[j]) * error + error * error;
        }

        beyond = Math.Sqrt(Math.Max(parseval - tail + slack + 2 * c.Length * Epsilon * squares, 0));
        return suffix;
    }

    /// <summary>
    /// Expansions of one activation by variance, short and long (thread-safe; one per kernel layer, so each point's are
    /// computed once, and the long ones only for points with an entry whose correlation needs them): ~2 KB per point,
    /// ~8 KB more with the long expansion, for the layer's duration. At most <see cref="MaxCached"/> variances of each
    /// length are kept (kernels over many points and positions); beyond, an expansion is recomputed where it is used,
    /// with the same values.
    /// </summary>
    internal sealed class Cache<TActivation>(TActivation activation)
        where TActivation : IScalarActivation
    {
        /// <summary>Most expansions of each length kept.</summary>
        public const int MaxCached = 16384;

        private readonly ConcurrentDictionary<double, HermiteExpansion> _short = new(), _long = new();
        private int _shortCount, _longCount;

        /// <summary>The expansion up to <see cref="ShortTerms"/> (<paramref name="full"/> false) or <see cref="MaxTerms"/>.</summary>
        public HermiteExpansion Get(double q, bool full) =>
            full ? Get(_long, ref _longCount, q, MaxTerms) : Get(_short, ref _shortCount, q, ShortTerms);

        private HermiteExpansion Get(ConcurrentDictionary<double, HermiteExpansion> cached, ref int count, double q, int terms)
        {
            if (cached.TryGetValue(q, out var expansion)) return expansion;
            expansion = Of(activation, q, terms);
            if (Volatile.Read(ref count) < MaxCached && cached.TryAdd(q, expansion)) Interlocked.Increment(ref count);
            return expansion;
        }
    }
}
