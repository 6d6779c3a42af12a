using NtkDsl;
using Xunit;

namespace NtkDsl.Tests.Dynamics;

/// <summary>
/// Independent dense linear algebra and integrators for the dynamics tests: nothing here calls the
/// library's MathNet wrapper or its Runge-Kutta, so agreement is a real check.
/// </summary>
internal static class H
{
    public static double[,] Gaussian(Random rng, int rows, int cols, double scale = 1.0)
    {
        var a = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                a[i, j] = scale * Normal(rng);
        return a;
    }

    public static double Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public static double[,] Mul(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), k = a.GetLength(1), m = b.GetLength(1);
        if (b.GetLength(0) != k) throw new ArgumentException("inner dims");
        var c = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < k; p++)
            {
                double aip = a[i, p];
                for (int j = 0; j < m; j++) c[i, j] += aip * b[p, j];
            }
        return c;
    }

    public static double[,] T(double[,] a)
    {
        int n = a.GetLength(0), m = a.GetLength(1);
        var t = new double[m, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                t[j, i] = a[i, j];
        return t;
    }

    public static double[,] Add(double[,] a, double[,] b, double sb = 1.0)
    {
        var c = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
                c[i, j] += sb * b[i, j];
        return c;
    }

    public static double[,] Scale(double[,] a, double s)
    {
        var c = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
                c[i, j] *= s;
        return c;
    }

    public static double[,] Eye(int n, double v = 1.0)
    {
        var e = new double[n, n];
        for (int i = 0; i < n; i++) e[i, i] = v;
        return e;
    }

    /// <summary>Gauss-Jordan inverse with partial pivoting.</summary>
    public static double[,] Inverse(double[,] a)
    {
        int n = a.GetLength(0);
        var m = (double[,])a.Clone();
        var inv = Eye(n);
        for (int col = 0; col < n; col++)
        {
            int piv = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[piv, col])) piv = r;
            if (m[piv, col] == 0) throw new InvalidOperationException("singular");
            for (int j = 0; j < n; j++)
            {
                (m[col, j], m[piv, j]) = (m[piv, j], m[col, j]);
                (inv[col, j], inv[piv, j]) = (inv[piv, j], inv[col, j]);
            }
            double d = m[col, col];
            for (int j = 0; j < n; j++) { m[col, j] /= d; inv[col, j] /= d; }
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = m[r, col];
                if (f == 0) continue;
                for (int j = 0; j < n; j++) { m[r, j] -= f * m[col, j]; inv[r, j] -= f * inv[col, j]; }
            }
        }
        return inv;
    }

    /// <summary>exp(A) by scaling and squaring of a Taylor series (independent of any eigendecomposition).</summary>
    public static double[,] Expm(double[,] a)
    {
        int n = a.GetLength(0);
        double norm = 0;
        for (int i = 0; i < n; i++)
        {
            double row = 0;
            for (int j = 0; j < n; j++) row += Math.Abs(a[i, j]);
            norm = Math.Max(norm, row);
        }
        int squarings = Math.Max(0, (int)Math.Ceiling(Math.Log2(norm / 0.25)) + 1);
        var x = Scale(a, Math.Pow(2, -squarings));
        var result = Eye(n);
        var term = Eye(n);
        for (int k = 1; k <= 30; k++)
        {
            term = Scale(Mul(term, x), 1.0 / k);
            result = Add(result, term);
        }
        for (int s = 0; s < squarings; s++) result = Mul(result, result);
        return result;
    }

    public static Matrix<double> M(double[,] a) => Matrix<double>.FromArray(a);

    public static double[,] A(Matrix<double> m) => m.ToArray();

    /// <summary>max |a - b| / max(max |b|, floor).</summary>
    public static double RelErr(double[,] a, double[,] b, double floor = 1e-300)
    {
        Assert.Equal(b.GetLength(0), a.GetLength(0));
        Assert.Equal(b.GetLength(1), a.GetLength(1));
        double diff = 0, scale = floor;
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
            {
                diff = Math.Max(diff, Math.Abs(a[i, j] - b[i, j]));
                scale = Math.Max(scale, Math.Abs(b[i, j]));
            }
        return diff / scale;
    }

    public static double RelErr(Matrix<double> a, double[,] b, double floor = 1e-300) => RelErr(a.ToArray(), b, floor);

    public static double RelErr(Matrix<double> a, Matrix<double> b, double floor = 1e-300) => RelErr(a.ToArray(), b.ToArray(), floor);

    /// <summary>Classical fixed-step RK4 for dy/dt = f(y) over [0, t] with steps of at most h.</summary>
    public static double[] Rk4(Func<double[], double[]> f, double[] y0, double t, double h)
    {
        int steps = Math.Max(1, (int)Math.Ceiling(t / h));
        double dt = t / steps;
        var y = (double[])y0.Clone();
        int n = y.Length;
        for (int s = 0; s < steps; s++)
        {
            var k1 = f(y);
            var k2 = f(Axpy(y, 0.5 * dt, k1));
            var k3 = f(Axpy(y, 0.5 * dt, k2));
            var k4 = f(Axpy(y, dt, k3));
            for (int i = 0; i < n; i++) y[i] += dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        }
        return y;
    }

    public static double[] Axpy(double[] y, double a, double[] x)
    {
        var r = new double[y.Length];
        for (int i = 0; i < y.Length; i++) r[i] = y[i] + a * x[i];
        return r;
    }

    /// <summary>A random PSD kernel J J^T with J n x p (rank min(n, p)) and its test block J* J^T.</summary>
    public static (double[,] K, double[,] Ktest, double[,] J, double[,] Jtest) FeatureKernel(Random rng, int n, int nTest, int p)
    {
        var j = Gaussian(rng, n, p, 1.0 / Math.Sqrt(p));
        var jt = Gaussian(rng, nTest, p, 1.0 / Math.Sqrt(p));
        return (Mul(j, T(j)), Mul(jt, T(j)), j, jt);
    }

    /// <summary>The Kronecker product K (x) I_o with sample-major indices (i * o + a, j * o + b).</summary>
    public static double[,] KronEye(double[,] k, int o)
    {
        int r = k.GetLength(0), c = k.GetLength(1);
        var f = new double[r * o, c * o];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                for (int a = 0; a < o; a++)
                    f[i * o + a, j * o + a] = k[i, j];
        return f;
    }

    public static double[] Flat(double[,] a)
    {
        var f = new double[a.Length];
        int c = a.GetLength(1);
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < c; j++)
                f[i * c + j] = a[i, j];
        return f;
    }

    public static double[,] Unflat(double[] f, int offset, int rows, int cols)
    {
        var a = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                a[i, j] = f[offset + i * cols + j];
        return a;
    }
}
