using System.Runtime.Intrinsics;
using NtkDsl.Tests.Support;
using Xunit;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// The vectorized atan2 of the spatial arc-cosine maps against 50-digit mpmath values over the whole double range
/// (tests/reference/atan2-references.json, made by make_atan2_references.py), its special values against Math.Atan2,
/// and the vectorized arc-cosine rows against the scalar closed form at the edge cases.
/// </summary>
public sealed class SimdMathTests
{
    private static double[] Atan2(double[] y, double[] x)
    {
        var r = new double[y.Length];
        var ys = new double[4];
        var xs = new double[4];
        for (int i = 0; i < y.Length; i += 4)
        {
            for (int l = 0; l < 4; l++)
            {
                // Other lanes get other values, so that a lane-mixing bug cannot hide.
                ys[l] = y[Math.Min(i + l, y.Length - 1)];
                xs[l] = x[Math.Min(i + l, y.Length - 1)];
            }

            var v = SimdMath.Atan2(Vector256.Create(ys), Vector256.Create(xs));
            for (int l = 0; l < 4 && i + l < y.Length; l++) r[i + l] = v[l];
        }

        return r;
    }

    // Distance in units in the last place, counting through zero (+0 and -0 are 0 apart).
    private static long Ulps(double a, double b)
    {
        static long Ordered(double v)
        {
            long bits = BitConverter.DoubleToInt64Bits(v);
            return bits < 0 ? long.MinValue - bits : bits;
        }

        return Math.Abs(Ordered(a) - Ordered(b));
    }

    [Fact]
    public void Atan2IsWithinTwoUlpsOfTheHighPrecisionReferenceEverywhere()
    {
        var cases = ReferenceData.Load("atan2-references.json").GetProperty("cases").EnumerateArray().Select(ReferenceData.Vector).ToArray();
        Assert.True(cases.Length > 7000);
        var y = cases.Select(c => c[0]).ToArray();
        var x = cases.Select(c => c[1]).ToArray();
        var r = Atan2(y, x);
        for (int i = 0; i < cases.Length; i++)
        {
            long ulps = Ulps(r[i], cases[i][2]);
            Assert.True(ulps <= 2, $"atan2({y[i]:R}, {x[i]:R}) = {r[i]:R}, reference {cases[i][2]:R}: {ulps} ulps");
            if (cases[i][2] == 0) Assert.Equal(double.IsNegative(cases[i][2]), double.IsNegative(r[i])); // signed zeros
        }
    }

    [Fact]
    public void Atan2HasTheSpecialValuesOfMathAtan2()
    {
        double[] specials = [0.0, -0.0, 1.0, -1.0, double.Epsilon, double.MaxValue, double.PositiveInfinity, double.NegativeInfinity, double.NaN];
        var y = specials.SelectMany(a => specials.Select(_ => a)).ToArray();
        var x = specials.SelectMany(_ => specials).ToArray();
        var r = Atan2(y, x);
        for (int i = 0; i < y.Length; i++)
        {
            double expected = Math.Atan2(y[i], x[i]);
            if (double.IsNaN(expected)) Assert.True(double.IsNaN(r[i]), $"atan2({y[i]}, {x[i]}) = {r[i]}, expected NaN");
            else Assert.True(Ulps(r[i], expected) <= 1 && double.IsNegative(r[i]) == double.IsNegative(expected),
                $"atan2({y[i]:R}, {x[i]:R}) = {r[i]:R}, Math.Atan2 gives {expected:R}");
        }
    }

    [Fact]
    public void ArcCosineRowsMatchTheScalarClosedFormWithoutNaNAtTheEdges()
    {
        double[] variances = [0, 1e-310, 1e-8, 0.3, 1, 7, 1e8];
        var rng = new Random(15);
        foreach (var activation in new[] { Activation.Relu, Activation.LeakyRelu(0.1), Activation.Abs })
            foreach (double q11 in variances)
            {
                // Rows of every length up to 11 (the 1-3 entries after the last full vector too): correlation exactly
                // +-1, a covariance past the Cauchy-Schwarz bound by rounding, 0, and random ones.
                var q22 = new List<double>();
                var q12 = new List<double>();
                foreach (double v in variances)
                {
                    double bound = Math.Sqrt(q11 * v);
                    foreach (double c in new[] { bound, -bound, bound * (1 + 4e-16), -bound * (1 + 4e-16), 0, (2 * rng.NextDouble() - 1) * bound })
                    {
                        q22.Add(v);
                        q12.Add(c);
                    }
                }

                for (int start = 0, length = 11; start < q12.Count; start += length, length = length == 1 ? 11 : length - 1)
                {
                    int n = Math.Min(length, q12.Count - start);
                    var sigma = q12.GetRange(start, n).ToArray();
                    var theta = Enumerable.Range(0, n).Select(k => 0.5 + k).ToArray();
                    var row22 = q22.GetRange(start, n).ToArray();
                    ActivationMoments.ArcCosineRow(activation, q11, sigma, theta, row22);
                    for (int k = 0; k < n; k++)
                    {
                        var m = ActivationMoments.ClosedForm(activation, q11, q12[start + k], row22[k]);
                        Assert.True(double.IsFinite(sigma[k]) && double.IsFinite(theta[k]), $"{activation} ({q11}, {q12[start + k]}, {row22[k]}): not finite");
                        // atan2's last bits, relative to the terms' size (KDot = (a^2 + b^2)/2 - f theta cancels at rho = -1 for Relu).
                        double scale = activation.A * activation.A + activation.B * activation.B;
                        Assert.True(Math.Abs(sigma[k] - m.K) <= 1e-15 * (Math.Abs(m.K) + scale * Math.Sqrt(q11 * row22[k])) + 1e-300,
                            $"K {sigma[k]:R} vs {m.K:R} at ({q11}, {q12[start + k]:R}, {row22[k]})");
                        double expected = (0.5 + k) * m.KDot;
                        Assert.True(Math.Abs(theta[k] - expected) <= 1e-15 * (0.5 + k) * (Math.Abs(m.KDot) + scale),
                            $"KDot {theta[k]:R} vs {expected:R} at ({q11}, {q12[start + k]:R}, {row22[k]})");
                    }
                }
            }
    }
}
