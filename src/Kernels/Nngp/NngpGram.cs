using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Components.Kernels.Nngp;

/// <summary>
/// Deterministic CPU Gram products x_i·x_j over row-major float64 rows padded with zeros to a multiple of 8.
/// Every entry is one fixed chain of lane-wise fused multiply-adds along the features followed by one fixed
/// horizontal sum, whatever the tile, block or micro-kernel it is computed in; so entries do not depend on the
/// tiling (BLAS results do: its blocking changes the summation order with the matrix shape), x_i·x_j equals x_j·x_i
/// bit for bit, and the diagonal equals <see cref="Dot"/>.
/// </summary>
internal static class NngpGram
{
    /// <summary>Row padding: a multiple of both vector widths used.</summary>
    internal const int Pad = 8;

    private static readonly bool s_wide = Vector512.IsHardwareAccelerated;

    internal static int PaddedWidth(int d) => (d + Pad - 1) / Pad * Pad;

    /// <summary>
    /// c[(i - i0) * ldc + (j - j0)] = a_i · b_j for i in [i0, i1), j in [j0, j1). <paramref name="a"/> and
    /// <paramref name="b"/> hold rows of <paramref name="dp"/> values.
    /// </summary>
    internal static void Tile(double[] a, double[] b, int dp, int i0, int i1, int j0, int j1, Span<double> c, int ldc)
    {
        // Cache blocking: a block of B rows stays in L2 while A micro-panels sweep over it.
        int block = Math.Clamp((192 * 1024 / (dp * sizeof(double))) / 4 * 4, 8, 128);
        for (int jb = j0; jb < j1; jb += block)
        {
            int jbEnd = Math.Min(j1, jb + block);
            for (int i = i0; i < i1; i += 4)
            {
                int iEnd = Math.Min(i1, i + 4);
                for (int j = jb; j < jbEnd; j += 4)
                {
                    int jEnd = Math.Min(jbEnd, j + 4);
                    if (iEnd - i == 4 && jEnd - j == 4)
                    {
                        if (s_wide)
                            Micro512(a, i * dp, b, j * dp, dp, c, (i - i0) * ldc + (j - j0), ldc);
                        else
                            Micro256(a, i * dp, b, j * dp, dp, c, (i - i0) * ldc + (j - j0), ldc);
                    }
                    else
                    {
                        for (int ii = i; ii < iEnd; ii++)
                        {
                            for (int jj = j; jj < jEnd; jj++)
                                c[(ii - i0) * ldc + (jj - j0)] = Dot(a, ii * dp, b, jj * dp, dp);
                        }
                    }
                }
            }
        }
    }

    /// <summary>One dot product with exactly the accumulation of the micro-kernels.</summary>
    internal static double Dot(double[] a, int ao, double[] b, int bo, int dp)
    {
        ref double ra = ref a[ao];
        ref double rb = ref b[bo];
        if (s_wide)
        {
            var acc = Vector512<double>.Zero;
            for (int k = 0; k < dp; k += 8)
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref ra, (nuint)k), Vector512.LoadUnsafe(ref rb, (nuint)k), acc);
            return Vector512.Sum(acc);
        }
        var acc0 = Vector256<double>.Zero;
        for (int k = 0; k < dp; k += 4)
            acc0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref ra, (nuint)k), Vector256.LoadUnsafe(ref rb, (nuint)k), acc0);
        return Vector256.Sum(acc0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro512(double[] a, int ao, double[] b, int bo, int dp, Span<double> c, int co, int ldc)
    {
        ref double a0 = ref a[ao];
        ref double a1 = ref Unsafe.Add(ref a0, dp);
        ref double a2 = ref Unsafe.Add(ref a1, dp);
        ref double a3 = ref Unsafe.Add(ref a2, dp);
        ref double b0 = ref b[bo];
        ref double b1 = ref Unsafe.Add(ref b0, dp);
        ref double b2 = ref Unsafe.Add(ref b1, dp);
        ref double b3 = ref Unsafe.Add(ref b2, dp);
        var c00 = Vector512<double>.Zero; var c01 = c00; var c02 = c00; var c03 = c00;
        var c10 = c00; var c11 = c00; var c12 = c00; var c13 = c00;
        var c20 = c00; var c21 = c00; var c22 = c00; var c23 = c00;
        var c30 = c00; var c31 = c00; var c32 = c00; var c33 = c00;
        for (int k = 0; k < dp; k += 8)
        {
            nuint o = (nuint)k;
            var x0 = Vector512.LoadUnsafe(ref a0, o); var x1 = Vector512.LoadUnsafe(ref a1, o);
            var x2 = Vector512.LoadUnsafe(ref a2, o); var x3 = Vector512.LoadUnsafe(ref a3, o);
            var y = Vector512.LoadUnsafe(ref b0, o);
            c00 = Vector512.FusedMultiplyAdd(x0, y, c00); c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
            c20 = Vector512.FusedMultiplyAdd(x2, y, c20); c30 = Vector512.FusedMultiplyAdd(x3, y, c30);
            y = Vector512.LoadUnsafe(ref b1, o);
            c01 = Vector512.FusedMultiplyAdd(x0, y, c01); c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
            c21 = Vector512.FusedMultiplyAdd(x2, y, c21); c31 = Vector512.FusedMultiplyAdd(x3, y, c31);
            y = Vector512.LoadUnsafe(ref b2, o);
            c02 = Vector512.FusedMultiplyAdd(x0, y, c02); c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
            c22 = Vector512.FusedMultiplyAdd(x2, y, c22); c32 = Vector512.FusedMultiplyAdd(x3, y, c32);
            y = Vector512.LoadUnsafe(ref b3, o);
            c03 = Vector512.FusedMultiplyAdd(x0, y, c03); c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
            c23 = Vector512.FusedMultiplyAdd(x2, y, c23); c33 = Vector512.FusedMultiplyAdd(x3, y, c33);
        }
        var r = c.Slice(co);
        r[0] = Vector512.Sum(c00); r[1] = Vector512.Sum(c01); r[2] = Vector512.Sum(c02); r[3] = Vector512.Sum(c03);
        r = r.Slice(ldc);
        r[0] = Vector512.Sum(c10); r[1] = Vector512.Sum(c11); r[2] = Vector512.Sum(c12); r[3] = Vector512.Sum(c13);
        r = r.Slice(ldc);
        r[0] = Vector512.Sum(c20); r[1] = Vector512.Sum(c21); r[2] = Vector512.Sum(c22); r[3] = Vector512.Sum(c23);
        r = r.Slice(ldc);
        r[0] = Vector512.Sum(c30); r[1] = Vector512.Sum(c31); r[2] = Vector512.Sum(c32); r[3] = Vector512.Sum(c33);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro256(double[] a, int ao, double[] b, int bo, int dp, Span<double> c, int co, int ldc)
    {
        ref double a0 = ref a[ao];
        ref double a1 = ref Unsafe.Add(ref a0, dp);
        ref double a2 = ref Unsafe.Add(ref a1, dp);
        ref double a3 = ref Unsafe.Add(ref a2, dp);
        ref double b0 = ref b[bo];
        ref double b1 = ref Unsafe.Add(ref b0, dp);
        ref double b2 = ref Unsafe.Add(ref b1, dp);
        ref double b3 = ref Unsafe.Add(ref b2, dp);
        var c00 = Vector256<double>.Zero; var c01 = c00; var c02 = c00; var c03 = c00;
        var c10 = c00; var c11 = c00; var c12 = c00; var c13 = c00;
        var c20 = c00; var c21 = c00; var c22 = c00; var c23 = c00;
        var c30 = c00; var c31 = c00; var c32 = c00; var c33 = c00;
        for (int k = 0; k < dp; k += 4)
        {
            nuint o = (nuint)k;
            var x0 = Vector256.LoadUnsafe(ref a0, o); var x1 = Vector256.LoadUnsafe(ref a1, o);
            var x2 = Vector256.LoadUnsafe(ref a2, o); var x3 = Vector256.LoadUnsafe(ref a3, o);
            var y = Vector256.LoadUnsafe(ref b0, o);
            c00 = Vector256.FusedMultiplyAdd(x0, y, c00); c10 = Vector256.FusedMultiplyAdd(x1, y, c10);
            c20 = Vector256.FusedMultiplyAdd(x2, y, c20); c30 = Vector256.FusedMultiplyAdd(x3, y, c30);
            y = Vector256.LoadUnsafe(ref b1, o);
            c01 = Vector256.FusedMultiplyAdd(x0, y, c01); c11 = Vector256.FusedMultiplyAdd(x1, y, c11);
            c21 = Vector256.FusedMultiplyAdd(x2, y, c21); c31 = Vector256.FusedMultiplyAdd(x3, y, c31);
            y = Vector256.LoadUnsafe(ref b2, o);
            c02 = Vector256.FusedMultiplyAdd(x0, y, c02); c12 = Vector256.FusedMultiplyAdd(x1, y, c12);
            c22 = Vector256.FusedMultiplyAdd(x2, y, c22); c32 = Vector256.FusedMultiplyAdd(x3, y, c32);
            y = Vector256.LoadUnsafe(ref b3, o);
            c03 = Vector256.FusedMultiplyAdd(x0, y, c03); c13 = Vector256.FusedMultiplyAdd(x1, y, c13);
            c23 = Vector256.FusedMultiplyAdd(x2, y, c23); c33 = Vector256.FusedMultiplyAdd(x3, y, c33);
        }
        var r = c.Slice(co);
        r[0] = Vector256.Sum(c00); r[1] = Vector256.Sum(c01); r[2] = Vector256.Sum(c02); r[3] = Vector256.Sum(c03);
        r = r.Slice(ldc);
        r[0] = Vector256.Sum(c10); r[1] = Vector256.Sum(c11); r[2] = Vector256.Sum(c12); r[3] = Vector256.Sum(c13);
        r = r.Slice(ldc);
        r[0] = Vector256.Sum(c20); r[1] = Vector256.Sum(c21); r[2] = Vector256.Sum(c22); r[3] = Vector256.Sum(c23);
        r = r.Slice(ldc);
        r[0] = Vector256.Sum(c30); r[1] = Vector256.Sum(c31); r[2] = Vector256.Sum(c32); r[3] = Vector256.Sum(c33);
    }
}
