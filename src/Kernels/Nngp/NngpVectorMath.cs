using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Components.Kernels.Nngp;

/// <summary>
/// Lane-wise double-precision arcsine/arccosine on <see cref="Vector256{T}"/> (the fdlibm rational approximation,
/// errors of a few ulp). Every lane runs the same instruction sequence, so a value gets the same bits whichever lane
/// or tile it lands in: this is what makes tiled and untiled kernels identical.
/// </summary>
internal static class NngpVectorMath
{
    // fdlibm's rational approximation of (asin(x) - x) / x^3 on |x| <= 0.5, as a function of z = x^2.
    private const double PS0 = 1.66666666666666657415e-01, PS1 = -3.25565818622400915405e-01, PS2 = 2.01212532134862925881e-01,
        PS3 = -4.00555345006794114027e-02, PS4 = 7.91534994289814532176e-04, PS5 = 3.47933107596021167570e-05,
        QS1 = -2.40339491173441421878e+00, QS2 = 2.02094576023350569471e+00, QS3 = -6.88283971605453293030e-01,
        QS4 = 7.70381505559019352791e-02;

    internal const double HalfPi = Math.PI / 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> R(Vector256<double> z)
    {
        var p = z * (Vector256.Create(PS0) + z * (Vector256.Create(PS1) + z * (Vector256.Create(PS2) + z * (Vector256.Create(PS3)
            + z * (Vector256.Create(PS4) + z * Vector256.Create(PS5))))));
        var q = Vector256<double>.One + z * (Vector256.Create(QS1) + z * (Vector256.Create(QS2) + z * (Vector256.Create(QS3) + z * Vector256.Create(QS4))));
        return p / q;
    }

    /// <summary>arccos of each lane; inputs must lie in [-1, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<double> Acos(Vector256<double> x)
    {
        var ax = Vector256.Abs(x);
        var small = Vector256.LessThanOrEqual(ax, Vector256.Create(0.5));
        var half = Vector256.Create(0.5);
        var zBig = (Vector256<double>.One - ax) * half;
        var z = Vector256.ConditionalSelect(small, x * x, zBig);
        var r = R(z);
        // |x| <= 0.5: pi/2 - (x + x r)
        var resSmall = Vector256.Create(HalfPi) - (x + x * r);
        // |x| > 0.5: s = sqrt((1 - |x|)/2); acos(|x|) = 2 (s + s r); acos(-|x|) = pi - that.
        var s = Vector256.Sqrt(zBig);
        var t = (s + s * r) * Vector256.Create(2.0);
        var resBig = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), Vector256.Create(Math.PI) - t, t);
        return Vector256.ConditionalSelect(small, resSmall, resBig);
    }

    /// <summary>arcsin of each lane; inputs must lie in [-1, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<double> Asin(Vector256<double> x)
    {
        var ax = Vector256.Abs(x);
        var small = Vector256.LessThanOrEqual(ax, Vector256.Create(0.5));
        var zBig = (Vector256<double>.One - ax) * Vector256.Create(0.5);
        var z = Vector256.ConditionalSelect(small, x * x, zBig);
        var r = R(z);
        var resSmall = x + x * r;
        var s = Vector256.Sqrt(zBig);
        var big = Vector256.Create(HalfPi) - (s + s * r) * Vector256.Create(2.0);
        var resBig = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), -big, big);
        return Vector256.ConditionalSelect(small, resSmall, resBig);
    }

    /// <summary>Scalar arccos through the vector routine (same bits as a lane).</summary>
    internal static double Acos(double x) => Acos(Vector256.Create(x)).GetElement(0);

    /// <summary>Scalar arcsin through the vector routine (same bits as a lane).</summary>
    internal static double Asin(double x) => Asin(Vector256.Create(x)).GetElement(0);
}
