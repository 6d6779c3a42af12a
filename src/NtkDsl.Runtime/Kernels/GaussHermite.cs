using System.Collections.Concurrent;

namespace NtkDsl;

/// <summary>
/// Gauss-Hermite rules for expectations under the standard normal distribution (internal: the fast path of
/// <see cref="GaussianExpectation"/>): <c>E[f(z)] ~ sum_i Weights[i] f(Nodes[i])</c>, exact for polynomials of
/// degree up to 2n - 1.
/// </summary>
internal sealed class GaussHermite
{
    private static readonly ConcurrentDictionary<int, GaussHermite> Cache = new();

    private GaussHermite(double[] nodes, double[] weights)
    {
        Nodes = nodes;
        Weights = weights;
    }

    /// <summary>Nodes z_i (probabilists' convention, for N(0, 1)), in decreasing order, symmetric about 0.</summary>
    public double[] Nodes { get; }

    /// <summary>Weights w_i, positive, summing to 1.</summary>
    public double[] Weights { get; }

    /// <summary>The n-point rule (cached), n from 1 to 200.</summary>
    public static GaussHermite ForDegree(int degree)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degree, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(degree, 200);
        return Cache.GetOrAdd(degree, static n => Compute(n));
    }

    // Golub-Welsch (eigenvalues of the Jacobi matrix of the probabilists' Hermite recurrence, off-diagonal sqrt(k))
    // gives every node to ~1e-14; Newton steps on the orthonormal physicists' recurrence (weight exp(-x^2),
    // x = z / sqrt(2)) polish it, and the weight follows from the derivative there, w = 2 / p_n'(x)^2.
    private static GaussHermite Compute(int n)
    {
        var jacobi = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(n, n);
        for (int k = 1; k < n; k++) jacobi[k, k - 1] = jacobi[k - 1, k] = Math.Sqrt(k);
        var eigen = jacobi.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric).EigenValues.Select(c => c.Real).ToArray();
        Array.Sort(eigen);

        var x = new double[n];
        var w = new double[n];
        int m = (n + 1) / 2;
        for (int i = 0; i < m; i++)
        {
            double z = eigen[n - 1 - i] / Math.Sqrt(2.0); // largest first, physicists' scale
            double pp = OrthonormalHermiteDerivative(n, z, out double p);
            for (int iteration = 0; iteration < 8; iteration++)
            {
                double step = p / pp;
                z -= step;
                pp = OrthonormalHermiteDerivative(n, z, out p);
                if (Math.Abs(step) <= 1e-16 * Math.Max(1, Math.Abs(z))) break;
            }

            x[i] = z;
            x[n - 1 - i] = -z;
            w[i] = w[n - 1 - i] = 2.0 / (pp * pp);
        }

        if (n % 2 == 1) x[m - 1] = 0; // exactly symmetric

        double total = 0;
        for (int i = 0; i < n; i++) total += w[i];
        for (int i = 0; i < n; i++)
        {
            x[i] *= Math.Sqrt(2.0);
            w[i] /= total; // total is sqrt(pi) up to rounding; normalizing makes E[1] = 1 to the last bit or two
        }

        return new GaussHermite(x, w);
    }

    // p_n(x) of the orthonormal physicists' Hermite polynomials (in p) and sqrt(2n) p_{n-1}(x) = p_n'(x).
    private static double OrthonormalHermiteDerivative(int n, double x, out double p)
    {
        const double PiToMinusQuarter = 0.7511255444649425;
        double p1 = PiToMinusQuarter, p2 = 0;
        for (int j = 1; j <= n; j++)
        {
            double p3 = p2;
            p2 = p1;
            p1 = x * Math.Sqrt(2.0 / j) * p2 - Math.Sqrt((j - 1.0) / j) * p3;
        }

        p = p1;
        return Math.Sqrt(2.0 * n) * p2;
    }
}
