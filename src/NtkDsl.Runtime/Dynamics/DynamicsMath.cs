using System.Globalization;
using NtkDsl.Cpu.LinearAlgebra;

namespace NtkDsl;

/// <summary>Internal numerics and argument checks shared by the dynamics classes.</summary>
internal static class DynamicsMath
{
    /// <summary>
    /// Relative asymmetry tolerated in a kernel before it is rejected (it is symmetrized otherwise):
    /// generous enough for float32-computed kernels, tight enough to catch a rectangular block passed by mistake.
    /// </summary>
    public const double SymmetryTolerance = CpuLinearAlgebra.SymmetryTolerance;

    /// <summary>Negative eigenvalues below -NegativeEigenTolerance * lambda_max mean "not a kernel".</summary>
    public const double NegativeEigenTolerance = 1e-5;

    /// <summary>
    /// exp(x) - 1 without cancellation. .NET's double.ExpM1 is exp(x) - 1 (no better than the naive
    /// formula near 0), so use Kahan's trick: (u - 1) * x / log(u) with u = exp(x), accurate to a few ulps.
    /// </summary>
    public static double Expm1(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x == double.PositiveInfinity) return x;
        if (x < -40) return -1.0;
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        if (double.IsPositiveInfinity(u)) return u;
        return um1 * x / Math.Log(u);
    }

    /// <summary>
    /// expm1(-l s) / l for l &gt;= 0 (negative l is clamped to 0 like neural-tangents, since a kernel
    /// is PSD and negative values are round-off), with the l -&gt; 0 limit -s instead of 0/0.
    /// </summary>
    public static double InvExpm1(double l, double s)
    {
        if (!(l > 0)) return -s;
        if (double.IsPositiveInfinity(s)) return -1.0 / l;
        double x = l * s;
        if (x == 0) return -s;
        return Expm1(-x) / l;
    }

    /// <summary>expm1(-max(l, 0) s), with s = infinity giving -1 for l &gt; 0 and 0 for l = 0.</summary>
    public static double NegExpm1(double l, double s)
    {
        if (!(l > 0)) return 0.0;
        if (double.IsPositiveInfinity(s)) return -1.0;
        return Expm1(-l * s);
    }

    public static string Shape(Matrix<double> m) => $"{m.Rows} x {m.Cols}";

    public static void RequireFinite(Matrix<double> m, string name)
    {
        var d = m.Data;
        for (int i = 0; i < d.Length; i++)
            if (!double.IsFinite(d[i]))
                throw new ArgumentException(
                    $"{name} contains {Fmt(d[i])} at ({i / Math.Max(1, m.Cols)}, {i % Math.Max(1, m.Cols)}); NaN and infinity are not allowed.", name);
    }

    public static void RequireShape(Matrix<double> m, int rows, int cols, string name, string meaning)
    {
        if (m.Rows != rows || m.Cols != cols)
            throw new ArgumentException($"{name} must be {rows} x {cols} ({meaning}); got {Shape(m)}.", name);
    }

    public static void RequireFinite(double value, string name)
    {
        if (!double.IsFinite(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite, got {Fmt(value)}.");
    }

    public static void RequireTime(double t, string name)
    {
        if (double.IsNaN(t) || t < 0)
            throw new ArgumentOutOfRangeException(name, t, $"{name} must be >= 0 (training time in steps; +infinity means convergence), got {Fmt(t)}.");
    }

    public static string Fmt(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>A copy of the symmetric part of a square matrix, rejecting non-finite and clearly asymmetric input.</summary>
    public static Matrix<double> Symmetrized(Matrix<double> k, string name)
    {
        int n = k.Rows;
        var d = k.Data;
        // One blocked, parallel pass decides; the slow scans below only run to name the offending entry.
        var (maxAbs, maxAsymmetry, finite) = SymmetryScan<double>.Run(d, n, null);
        if (!finite) RequireFinite(k, name);
        if (maxAsymmetry > SymmetryTolerance * maxAbs)
        {
            int ai = 0, aj = 0;
            double worst = -1;
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                {
                    double diff = Math.Abs(d[i * n + j] - d[j * n + i]);
                    if (diff > worst) { worst = diff; ai = i; aj = j; }
                }

            throw new ArgumentException(
                $"{name} must be a symmetric kernel matrix; element ({ai}, {aj}) = {Fmt(d[ai * n + aj])} but ({aj}, {ai}) = {Fmt(d[aj * n + ai])} (tolerance {SymmetryTolerance:G2} relative to the largest entry).", name);
        }

        var s = new Matrix<double>(n, n, GC.AllocateUninitializedArray<double>(n * n));
        if (maxAsymmetry == 0)
        {
            d.CopyTo(s.Data, 0);
            return s;
        }

        // (a_ij + a_ji) / 2 tile by tile, a tile and its mirror in cache together (both orders round alike: exactly symmetric).
        const int Tile = 32;
        var t = s.Data;
        for (int ib = 0; ib < n; ib += Tile)
            for (int jb = 0; jb < n; jb += Tile)
            {
                int iEnd = Math.Min(ib + Tile, n), jEnd = Math.Min(jb + Tile, n);
                for (int i = ib; i < iEnd; i++)
                    for (int j = jb; j < jEnd; j++) t[i * n + j] = 0.5 * (d[i * n + j] + d[j * n + i]);
            }

        return s;
    }

    public static Matrix<double> Add(Matrix<double> a, Matrix<double> b, double scaleB = 1.0)
    {
        var c = new Matrix<double>(a.Rows, a.Cols);
        for (int i = 0; i < c.Data.Length; i++) c.Data[i] = a.Data[i] + scaleB * b.Data[i];
        return c;
    }

    /// <summary>diag(d) M, in place.</summary>
    public static void ScaleRows(ReadOnlySpan<double> d, Matrix<double> m)
    {
        for (int r = 0; r < m.Rows; r++)
        {
            var row = m.Row(r);
            for (int c = 0; c < row.Length; c++) row[c] *= d[r];
        }
    }

    /// <summary>M diag(d), as a new matrix.</summary>
    public static Matrix<double> ScaleColumns(Matrix<double> m, ReadOnlySpan<double> d)
    {
        var s = new Matrix<double>(m.Rows, m.Cols);
        for (int r = 0; r < m.Rows; r++)
            for (int c = 0; c < m.Cols; c++)
                s.Data[r * m.Cols + c] = m.Data[r * m.Cols + c] * d[c];
        return s;
    }

    /// <summary>The same data seen with another shape (row-major, so an n x O matrix is also an nO x 1 vector).</summary>
    public static Matrix<double> Reshape(Matrix<double> m, int rows, int cols) => new(rows, cols, m.Data);

    /// <summary>(a + a^T) / 2 in place; removes round-off asymmetry from products that are symmetric in exact arithmetic.</summary>
    public static void SymmetrizeInPlace(Matrix<double> a)
    {
        int n = a.Rows;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double v = 0.5 * (a.Data[i * n + j] + a.Data[j * n + i]);
                a.Data[i * n + j] = a.Data[j * n + i] = v;
            }
    }

    /// <summary>Rounds a suggestion up to 1, 2 or 5 times a power of ten, so messages show a clean number.</summary>
    public static double RoundUpNice(double v)
    {
        if (!(v > 0) || !double.IsFinite(v)) return v;
        double p = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var f in new[] { 1.0, 2.0, 5.0, 10.0 })
            if (f * p >= v * (1 - 1e-12)) return f * p;
        return 10 * p;
    }
}
