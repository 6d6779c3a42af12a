namespace NtkDsl;

/// <summary>
/// The matrix-function route of <see cref="GradientDescentMse"/> for a handful of finite times: expm1(-K s) r and
/// (expm1(-K s) K^-1) r as Chebyshev expansions on [0, b] (b a Gershgorin bound of the spectrum), one three-term
/// recurrence T_(k+1)(A) r = 2 A T_k(A) r - T_(k-1)(A) r, A = 2 K / b - I, shared by every time and both functions.
/// Costs deg 2 m^2 c (matrix times the m x c residual) instead of a full eigendecomposition; the degree grows like
/// sqrt(b s), so late times make it lose and <see cref="Cost"/> says when.
/// </summary>
internal static class ChebyshevDynamics
{
    /// <summary>
    /// Relative cost of a matrix-vector flop against an eigendecomposition flop, for the cost model: 4 while the kernel
    /// stays in cache, 20 once it does not (then each product streams it from memory: measured 2026-12-01 at N = 4000,
    /// ~2.5 GFLOP/s for K r against ~50 for the eigendecomposition, where the penalty of 4 chose the recurrence for 100
    /// times and took 3x the eigen route's time).
    /// </summary>
    private static double MatVecPenalty(int m) => 8.0 * m * m > CacheBytes ? 20 : 4;

    /// <summary>Kernel bytes above which a product K r is memory-bound (a typical last-level cache).</summary>
    private const double CacheBytes = 16 << 20;

    /// <summary>Nominal flops of the eigendecomposition route (symmetric QR with vectors, as the benchmarks count it).</summary>
    public static double EigenCost(int m, int testRows) => 9.0 * m * m * m + 2.0 * testRows * m * m;

    /// <summary>Gershgorin bound max_i sum_j |k_ij| &gt;= lambda_max.</summary>
    public static double SpectralBound(Matrix<double> k)
    {
        double bound = 0;
        for (int i = 0; i < k.Rows; i++)
        {
            double sum = 0;
            foreach (var v in k.Row(i)) sum += Math.Abs(v);
            bound = Math.Max(bound, sum);
        }

        return bound;
    }

    /// <summary>Chebyshev degree for expm1(-x s) and its divided form on [0, b] to ~1e-15: coefficients decay like exp(-k^2 / (b s)).</summary>
    public static int Degree(double b, double s) => (int)Math.Ceiling(6.1 * Math.Sqrt(b * s) + 30);

    /// <summary>Work of the route (the PSD check by Cholesky, the recurrence, the per-time combinations and test products).</summary>
    public static double Cost(int m, int c, int testRows, int degree, int times)
        => m * (double)m * m / 3 + MatVecPenalty(m) * degree * (2.0 * m * m * c + 4.0 * times * m * c) + times * 2.0 * testRows * m * c;

    /// <summary>
    /// Chebyshev coefficients of f on [0, b] at degree <paramref name="degree"/> (interpolation at Chebyshev points; the
    /// first coefficient already halved).
    /// </summary>
    public static double[] Coefficients(Func<double, double> f, double b, int degree)
    {
        int n = degree + 1;
        var values = new double[n];
        for (int j = 0; j < n; j++) values[j] = f(0.5 * b * (1 + Math.Cos(Math.PI * (j + 0.5) / n)));
        var c = new double[n];
        for (int k = 0; k < n; k++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++) sum += values[j] * Math.Cos(Math.PI * k * (j + 0.5) / n);
            c[k] = 2.0 / n * sum;
        }

        c[0] *= 0.5;
        return c;
    }

    /// <summary>
    /// sum_k coefficients[f][k] T_k(A) r for every function f, A = 2 K / b - I: one shared recurrence of matrix products.
    /// </summary>
    public static Matrix<double>[] Apply(IKernelLinearAlgebra la, Matrix<double> k, double b, Matrix<double> r, IReadOnlyList<double[]> coefficients)
    {
        int m = r.Rows, c = r.Cols, degree = 0;
        foreach (var co in coefficients) degree = Math.Max(degree, co.Length - 1);
        var sums = new Matrix<double>[coefficients.Count];
        for (int f = 0; f < sums.Length; f++) sums[f] = new Matrix<double>(m, c);
        var previous = new Matrix<double>(m, c);
        var current = new Matrix<double>(m, c, (double[])r.Data.Clone());
        for (int step = 0; step <= degree; step++)
        {
            for (int f = 0; f < sums.Length; f++)
                if (step < coefficients[f].Length) Axpy(coefficients[f][step], current, sums[f]);
            if (step == degree) break;
            // next = 2 A current - previous = (4 / b) K current - 2 current - previous (current for step 0: T_1 = A r).
            var kc = la.Multiply(k, false, current, false);
            var next = previous;
            double a = step == 0 ? 2.0 / b : 4.0 / b, self = step == 0 ? -1.0 : -2.0, back = step == 0 ? 0.0 : -1.0;
            for (int i = 0; i < next.Data.Length; i++)
                next.Data[i] = a * kc.Data[i] + self * current.Data[i] + back * previous.Data[i];
            previous = current;
            current = next;
        }

        return sums;
    }

    private static void Axpy(double alpha, Matrix<double> x, Matrix<double> y)
    {
        for (int i = 0; i < x.Data.Length; i++) y.Data[i] += alpha * x.Data[i];
    }
}
