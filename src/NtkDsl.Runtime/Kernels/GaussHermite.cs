using System.Collections.Concurrent;

namespace NtkDsl;

/// <summary>
/// Gauss-Hermite quadrature for expectations under the standard normal distribution:
/// <c>E[f(z)] ~ sum_i Weights[i] f(Nodes[i])</c>, z ~ N(0, 1), exact for polynomials of degree up to 2n - 1.
/// </summary>
/// <remarks>
/// Nodes are computed in code by Newton's method on the orthonormal Hermite recurrence (stable well past
/// n = 200, unlike the monomial form) and cached per degree; the rule is shared and must not be mutated.
/// </remarks>
public sealed class GaussHermite
{
    private static readonly ConcurrentDictionary<int, GaussHermite> Cache = new();

    private readonly double[] _nodes;
    private readonly double[] _weights;

    private GaussHermite(double[] nodes, double[] weights)
    {
        _nodes = nodes;
        _weights = weights;
    }

    /// <summary>Number of nodes n.</summary>
    public int Degree => _nodes.Length;

    /// <summary>Nodes z_i (probabilists' convention, for N(0, 1)), in decreasing order, symmetric about 0.</summary>
    public ReadOnlySpan<double> Nodes => _nodes;

    /// <summary>Weights w_i, positive, summing to 1 (they are probabilities of the nodes).</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <summary>The n-point rule for the standard normal distribution (cached).</summary>
    /// <param name="degree">Number of nodes, 1 to 1000.</param>
    public static GaussHermite ForDegree(int degree)
    {
        if (degree is < 1 or > 1000)
            throw new ArgumentOutOfRangeException(nameof(degree), degree, "The quadrature degree must be between 1 and 1000.");
        return Cache.GetOrAdd(degree, static n => Compute(n));
    }

    /// <summary>E[f(z)] for z ~ N(0, 1) by this rule.</summary>
    public double Expectation(Func<double, double> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        double sum = 0;
        for (int i = 0; i < _nodes.Length; i++) sum += _weights[i] * f(_nodes[i]);
        return sum;
    }

    // Newton iteration on the orthonormal physicists' Hermite polynomials (weight exp(-x^2)) with the
    // classical asymptotic initial guesses (Numerical Recipes, gauher); then x -> sqrt(2) x and
    // w -> w / sqrt(pi) turn it into a rule for N(0, 1).
    private static GaussHermite Compute(int n)
    {
        const double PiToMinusQuarter = 0.7511255444649425;
        var x = new double[n];
        var w = new double[n];
        int m = (n + 1) / 2;
        double z = 0;
        for (int i = 0; i < m; i++)
        {
            z = i switch
            {
                0 => Math.Sqrt(2.0 * n + 1) - 1.85575 * Math.Pow(2.0 * n + 1, -1.0 / 6),
                1 => z - 1.14 * Math.Pow(n, 0.426) / z,
                2 => 1.86 * z - 0.86 * x[0],
                3 => 1.91 * z - 0.91 * x[1],
                _ => 2.0 * z - x[i - 2],
            };

            double pp = 0;
            for (int iteration = 0; iteration < 100; iteration++)
            {
                double p1 = PiToMinusQuarter, p2 = 0;
                for (int j = 1; j <= n; j++)
                {
                    double p3 = p2;
                    p2 = p1;
                    p1 = z * Math.Sqrt(2.0 / j) * p2 - Math.Sqrt((j - 1.0) / j) * p3;
                }

                pp = Math.Sqrt(2.0 * n) * p2;
                double previous = z;
                z = previous - p1 / pp;
                if (Math.Abs(z - previous) <= 1e-15 * Math.Max(1, Math.Abs(z))) break;
            }

            // One more evaluation at the converged node so the weight matches it.
            {
                double p1 = PiToMinusQuarter, p2 = 0;
                for (int j = 1; j <= n; j++)
                {
                    double p3 = p2;
                    p2 = p1;
                    p1 = z * Math.Sqrt(2.0 / j) * p2 - Math.Sqrt((j - 1.0) / j) * p3;
                }

                pp = Math.Sqrt(2.0 * n) * p2;
            }

            x[i] = z;
            x[n - 1 - i] = -z;
            w[i] = w[n - 1 - i] = 2.0 / (pp * pp);
        }

        // The middle node of an odd rule is 0 exactly (Newton leaves ~1e-17); keep the rule symmetric.
        if (n % 2 == 1) x[m - 1] = 0;

        double total = 0;
        for (int i = 0; i < n; i++) total += w[i];
        for (int i = 0; i < n; i++)
        {
            x[i] *= Math.Sqrt(2.0);
            w[i] /= total; // total is sqrt(pi) up to rounding; normalizing makes E[1] = 1 exactly-ish
        }

        return new GaussHermite(x, w);
    }
}
