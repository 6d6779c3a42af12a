using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NtkDsl;

/// <summary>
/// Elementary functions on <see cref="Vector256{T}"/> lanes that .NET does not provide (it has no vector atan2).
/// </summary>
internal static class SimdMath
{
    // Cephes atan (S. Moshier; also Go's math.Atan): atan(x) = x + x z P(z) / Q(z), z = x^2, for |x| <= 0.66.
    private const double P0 = -8.750608600031904122785e-01, P1 = -1.615753718733365076637e+01, P2 = -7.500855792314704667340e+01,
        P3 = -1.228866684490136173410e+02, P4 = -6.485021904942025371773e+01;

    private const double Q0 = 2.485846490142306297962e+01, Q1 = 1.650270098316988542046e+02, Q2 = 4.328810604912902668951e+02,
        Q3 = 4.853903996359136964868e+02, Q4 = 1.945506571482613964425e+02;

    // pi/4, pi/2, pi as double plus their rounding errors (pi = PiHi + PiLo to 2^-107).
    private const double Pi4Hi = Math.PI / 4, Pi4Lo = 3.061616997868382943065e-17;
    private const double Pi2Hi = Math.PI / 2, Pi2Lo = 6.123233995736765886130e-17;
    private const double PiHi = Math.PI, PiLo = 1.224646799147353177226e-16;

    private static readonly double Tiny = Math.ScaleB(1, -900), Up = Math.ScaleB(1, 600);

    /// <summary>
    /// atan2(y, x) per lane, within 2 ulp of the exact value (tested against 50-digit references over the whole double
    /// range): the signed zeros and infinities of <see cref="Math.Atan2"/>, NaN when either argument is NaN.
    /// </summary>
    /// <remarks>
    /// With n = min(|y|, |x|), d = max(|y|, |x|): atan(n / d) in [0, pi/4] by Cephes' rational function, on
    /// (n - d) / (n + d) plus pi/4 when n / d &gt; 0.66 (n - d is exact there; both are first scaled by a power of two,
    /// away from overflow and the subnormals); then pi/2 - r when |y| &gt; |x|, pi - r when x has its sign bit set, and
    /// the sign of y. One division for the argument, one for the rational function.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Atan2(Vector256<double> y, Vector256<double> x)
    {
        var ay = Vector256.Abs(y);
        var ax = Vector256.Abs(x);
        var swap = Vector256.GreaterThan(ay, ax);
        var n = Vector256.ConditionalSelect(swap, ax, ay);
        var d = Vector256.ConditionalSelect(swap, ay, ax);
        // Powers of two, exact: n + d would overflow near double.MaxValue (halve), and 0.66 d rounds in the subnormals (scale up).
        var scale = Vector256.ConditionalSelect(Vector256.GreaterThan(d, Vector256<double>.One), Vector256.Create(0.5),
            Vector256.ConditionalSelect(Vector256.LessThan(d, Vector256.Create(Tiny)), Vector256.Create(Up), Vector256<double>.One));
        var hn = n * scale;
        var hd = d * scale;
        // n = d > 0 goes the big way (t = 0), also n = d = inf, where inf > 0.66 inf is false and inf - inf is NaN; 0 / 0 is 0.
        var equal = Vector256.Equals(n, d) & ~Vector256.Equals(n, Vector256<double>.Zero);
        var big = Vector256.GreaterThan(hn, hd * Vector256.Create(0.66)) | equal;
        var t = Vector256.ConditionalSelect(big, hn - hd, hn) / Vector256.ConditionalSelect(big, hn + hd, hd);
        t = Vector256.ConditionalSelect(equal | Vector256.Equals(n, Vector256<double>.Zero), Vector256<double>.Zero, t);

        var z = t * t;
        var p = (((Vector256.Create(P0) * z + Vector256.Create(P1)) * z + Vector256.Create(P2)) * z + Vector256.Create(P3)) * z + Vector256.Create(P4);
        var q = ((((z + Vector256.Create(Q0)) * z + Vector256.Create(Q1)) * z + Vector256.Create(Q2)) * z + Vector256.Create(Q3)) * z + Vector256.Create(Q4);
        var r = t + t * (z * p / q);
        r = Vector256.ConditionalSelect(big, Vector256.Create(Pi4Hi) + (r + Vector256.Create(Pi4Lo)), r);
        r = Vector256.ConditionalSelect(swap, Vector256.Create(Pi2Hi) - (r - Vector256.Create(Pi2Lo)), r);
        var negative = Vector256.LessThan(x.AsInt64(), Vector256<long>.Zero).AsDouble(); // the sign bit: atan2(0, -0) = pi
        r = Vector256.ConditionalSelect(negative, Vector256.Create(PiHi) - (r - Vector256.Create(PiLo)), r);
        r |= y & Vector256.Create(-0.0); // r >= 0 here: the sign of y
        var nan = ~(Vector256.Equals(x, x) & Vector256.Equals(y, y));
        return Vector256.ConditionalSelect(nan, x + y, r);
    }
}
