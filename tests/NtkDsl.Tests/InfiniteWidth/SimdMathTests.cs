using System.Runtime.Intrinsics;
using NtkDsl.Tests.Support;
using Xunit;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// The vectorized atan2 of the spatial arc-cosine maps against 50-digit mpmath values over the whole double range
/// (tests/reference/atan2-references.json, made by make_atan2_references.py), and its special values against Math.Atan2.
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
}
