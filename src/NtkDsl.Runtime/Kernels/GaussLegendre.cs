using System.Collections.Concurrent;

namespace NtkDsl;

/// <summary>Gauss-Legendre nodes and weights on [-1, 1] (internal: used for angular integrals).</summary>
internal sealed class GaussLegendre
{
    private static readonly ConcurrentDictionary<int, GaussLegendre> Cache = new();

    private GaussLegendre(double[] nodes, double[] weights)
    {
        Nodes = nodes;
        Weights = weights;
    }

    public double[] Nodes { get; }

    public double[] Weights { get; }

    public static GaussLegendre ForDegree(int degree)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degree, 1);
        return Cache.GetOrAdd(degree, static n => Compute(n));
    }

    // Newton on P_n from the Chebyshev-like guess cos(pi (i + 3/4) / (n + 1/2)), which converges for every n.
    private static GaussLegendre Compute(int n)
    {
        var x = new double[n];
        var w = new double[n];
        for (int i = 0; i < (n + 1) / 2; i++)
        {
            double z = Math.Cos(Math.PI * (i + 0.75) / (n + 0.5)), pp = 0;
            for (int iteration = 0; iteration < 100; iteration++)
            {
                double p1 = 1, p2 = 0;
                for (int j = 1; j <= n; j++)
                {
                    double p3 = p2;
                    p2 = p1;
                    p1 = ((2.0 * j - 1) * z * p2 - (j - 1.0) * p3) / j;
                }

                pp = n * (z * p1 - p2) / (z * z - 1);
                double previous = z;
                z = previous - p1 / pp;
                if (Math.Abs(z - previous) <= 1e-16) break;
            }

            x[i] = z;
            x[n - 1 - i] = -z;
            w[i] = w[n - 1 - i] = 2 / ((1 - z * z) * pp * pp);
        }

        if (n % 2 == 1) x[n / 2] = 0;
        return new GaussLegendre(x, w);
    }
}
