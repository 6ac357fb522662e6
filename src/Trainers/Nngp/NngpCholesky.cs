using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>
/// Right-looking blocked Cholesky factorisation for CPU float64 matrices: 256×256 diagonal blocks through TorchSharp
/// (LAPACK potrf), the panel solve and the O(n³/3) trailing update through vectorised C# kernels that touch only
/// the lower triangle, in parallel on at most <c>torch.get_num_threads()</c> threads. libtorch's CPU Cholesky runs
/// through MKL, which loses much of its speed on non-Intel processors and under oversubscription, and needs an output
/// and a working copy of the matrix; the trailing update is where the time goes. The strict upper triangle is left
/// untouched until the factorisation succeeds, so that a failed attempt can be undone without a copy of the matrix
/// (<see cref="MirrorLowerToUpper"/> before, <see cref="RestoreLowerFromUpper"/> after).
/// </summary>
internal static unsafe class NngpCholesky
{
    private const int Block = 256, Tile = 96;

    /// <summary>
    /// Factorises the lower triangle of <paramref name="a"/> (contiguous [n, n] float64, CPU) in place and zeroes the
    /// upper triangle; false if not positive definite, in which case the lower triangle is partly overwritten and the
    /// strict upper triangle is as it was.
    /// </summary>
    /// <param name="a">The matrix.</param>
    /// <param name="cancellation">Checked once per block column.</param>
    /// <param name="blasUpdate">
    /// Trailing update off the diagonal blocks through BLAS GEMM on strided views of <paramref name="a"/> (libtorch's
    /// MKL; fast on Intel processors), the diagonal blocks' lower parts through the C# kernels; or everything through
    /// the C# kernels. Null: <see cref="BlasUpdateByDefault"/>.
    /// </param>
    internal static bool FactorInPlace(Tensor a, CancellationToken cancellation, bool? blasUpdate = null)
    {
        bool blas = blasUpdate ?? BlasUpdateByDefault;
        int n = (int)a.shape[0];
        nint basePtr = BasePointer(a);
        var po = Options();
        using var noGrad = torch.no_grad();
        for (int j = 0; j < n; j += Block)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            int jb = Math.Min(Block, n - j);
            var a11 = a.narrow(0, j, jb).narrow(1, j, jb);
            var (l11, info) = torch.linalg.cholesky_ex(a11, check_errors: false);
            if (info.item<int>() != 0 || !torch.isfinite(l11).all().item<bool>())
                return false;
            a11.copy_(l11.add_(a11.triu(1))); // l11 is zero above its diagonal: the block's strict upper part stays
            int rest = n - j - jb;
            if (rest == 0)
                break;
            PanelSolve(basePtr, n, j, jb, po);
            if (blas)
                BlasTrailingUpdate(a, n, j, jb);
            TrailingUpdate(basePtr, n, j, jb, po, diagonalBlocksOnly: blas);
        }
        ZeroUpper(basePtr, n, po);
        GC.KeepAlive(a);
        return true;
    }

    /// <summary>Rows below the diagonal block: x ← x·L11⁻ᵀ by forward substitution, one row per task.</summary>
    private static void PanelSolve(nint basePtr, int n, int j, int jb, ParallelOptions po)
    {
        int start = j + jb;
        Parallel.For(0, (n - start + 15) / 16, po, blockIndex =>
        {
            double* a = (double*)basePtr;
            for (int i = start + blockIndex * 16, end = Math.Min(n, i + 16); i < end; i++)
            {
                double* x = a + (long)i * n + j;
                for (int k = 0; k < jb; k++)
                {
                    double* lk = a + (long)(j + k) * n + j;
                    x[k] = (x[k] - Dot(x, lk, k)) / lk[k];
                }
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Dot(double* x, double* y, int k)
    {
        int t = 0;
        double s;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<double>.Zero;
            for (; t + 8 <= k; t += 8)
                acc = Vector512.FusedMultiplyAdd(Vector512.Load(x + t), Vector512.Load(y + t), acc);
            s = Vector512.Sum(acc);
        }
        else
        {
            var acc = Vector256<double>.Zero;
            for (; t + 4 <= k; t += 4)
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(x + t), Vector256.Load(y + t), acc);
            s = Vector256.Sum(acc);
        }
        for (; t < k; t++)
            s += x[t] * y[t];
        return s;
    }

    /// <summary>
    /// Whether <see cref="FactorInPlace"/> uses BLAS GEMM for the bulk of the trailing update: on Intel processors,
    /// where libtorch's MKL GEMM runs at close to the machine's peak (on others MKL takes slower code paths, and the C#
    /// kernels are used). Fixed per machine, so results do not depend on timing.
    /// </summary>
    internal static bool BlasUpdateByDefault { get; } = IsIntel();

    private static bool IsIntel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("vendor_id", StringComparison.Ordinal) && l.Contains("GenuineIntel", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// A[r, start..r0) −= L[r, j..j+jb)·L[start..r0, j..j+jb)ᵀ for each row block r = [r0, r0 + Block) of the trailing
    /// matrix: the strictly-below-diagonal blocks, by GEMM on views of <paramref name="a"/> (no copies; BLAS takes
    /// the row stride as leading dimension). The diagonal blocks are left to <see cref="TrailingUpdate"/>.
    /// </summary>
    private static void BlasTrailingUpdate(Tensor a, int n, int j, int jb)
    {
        int start = j + jb;
        for (int r0 = start + Block; r0 < n; r0 += Block)
        {
            using var scope = torch.NewDisposeScope();
            int rb = Math.Min(Block, n - r0);
            var c = a.narrow(0, r0, rb).narrow(1, start, r0 - start);
            var left = a.narrow(0, r0, rb).narrow(1, j, jb);
            var right = a.narrow(0, start, r0 - start).narrow(1, j, jb);
            c.addmm_(left, right.T, 1, -1);
        }
    }

    /// <summary>
    /// A[i, c] −= Σ_k L[i, j+k]·L[c, j+k] for j + jb ≤ c ≤ i, tile by tile (with <paramref name="diagonalBlocksOnly"/>,
    /// only within the Block × Block diagonal blocks of the trailing matrix). Rows and columns share one 4-aligned grid,
    /// so the only 4×4 blocks that reach the diagonal are those with c = i: of these only the lower part is written.
    /// </summary>
    private static void TrailingUpdate(nint basePtr, int n, int j, int jb, ParallelOptions po, bool diagonalBlocksOnly = false)
    {
        int start = j + jb;
        var pairs = new List<(int I0, int I1, int C0, int C1)>();
        for (int b0 = start; b0 < n; b0 += diagonalBlocksOnly ? Block : n)
        {
            int b1 = diagonalBlocksOnly ? Math.Min(n, b0 + Block) : n, tiles = (b1 - b0 + Tile - 1) / Tile;
            for (int ti = 0; ti < tiles; ti++)
            {
                for (int tc = 0; tc <= ti; tc++)
                    pairs.Add((b0 + ti * Tile, Math.Min(b1, b0 + (ti + 1) * Tile), b0 + tc * Tile, Math.Min(b1, b0 + (tc + 1) * Tile)));
            }
        }
        Parallel.For(0, pairs.Count, po, p =>
        {
            var (i0, i1, c0, c1) = pairs[p];
            double* a = (double*)basePtr;
            double* diagonal = stackalloc double[16];
            for (int i = i0; i < i1; i += 4)
            {
                for (int c = c0; c < c1 && c <= i + 3; c += 4)
                {
                    int ri = Math.Min(4, i1 - i), rc = Math.Min(4, c1 - c);
                    if (ri == 4 && rc == 4 && c != i)
                    {
                        Micro(a + (long)i * n + j, a + (long)c * n + j, n, jb, a + (long)i * n + c, n);
                    }
                    else if (ri == 4 && rc == 4)
                    {
                        // Same products into a zeroed buffer (0 − v = −v exactly), then the lower part added: a + (−v) = a − v.
                        new Span<double>(diagonal, 16).Clear();
                        Micro(a + (long)i * n + j, a + (long)c * n + j, n, jb, diagonal, 4);
                        for (int r = 0; r < 4; r++)
                        {
                            for (int q = 0; q <= r; q++)
                                a[(long)(i + r) * n + c + q] += diagonal[r * 4 + q];
                        }
                    }
                    else
                    {
                        Edge(a, n, j, jb, i, ri, c, rc);
                    }
                }
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro(double* x, double* y, int ld, int k, double* c, int ldc)
    {
        int kv = Vector512.IsHardwareAccelerated ? k / 8 * 8 : k / 4 * 4;
        double* x0 = x, x1 = x + ld, x2 = x + 2L * ld, x3 = x + 3L * ld;
        double* y0 = y, y1 = y + ld, y2 = y + 2L * ld, y3 = y + 3L * ld;
        Span<double> s = stackalloc double[16];
        if (Vector512.IsHardwareAccelerated)
        {
            var c00 = Vector512<double>.Zero; var c01 = c00; var c02 = c00; var c03 = c00;
            var c10 = c00; var c11 = c00; var c12 = c00; var c13 = c00;
            var c20 = c00; var c21 = c00; var c22 = c00; var c23 = c00;
            var c30 = c00; var c31 = c00; var c32 = c00; var c33 = c00;
            for (int t = 0; t < kv; t += 8)
            {
                var a0 = Vector512.Load(x0 + t); var a1 = Vector512.Load(x1 + t); var a2 = Vector512.Load(x2 + t); var a3 = Vector512.Load(x3 + t);
                var b = Vector512.Load(y0 + t);
                c00 = Vector512.FusedMultiplyAdd(a0, b, c00); c10 = Vector512.FusedMultiplyAdd(a1, b, c10); c20 = Vector512.FusedMultiplyAdd(a2, b, c20); c30 = Vector512.FusedMultiplyAdd(a3, b, c30);
                b = Vector512.Load(y1 + t);
                c01 = Vector512.FusedMultiplyAdd(a0, b, c01); c11 = Vector512.FusedMultiplyAdd(a1, b, c11); c21 = Vector512.FusedMultiplyAdd(a2, b, c21); c31 = Vector512.FusedMultiplyAdd(a3, b, c31);
                b = Vector512.Load(y2 + t);
                c02 = Vector512.FusedMultiplyAdd(a0, b, c02); c12 = Vector512.FusedMultiplyAdd(a1, b, c12); c22 = Vector512.FusedMultiplyAdd(a2, b, c22); c32 = Vector512.FusedMultiplyAdd(a3, b, c32);
                b = Vector512.Load(y3 + t);
                c03 = Vector512.FusedMultiplyAdd(a0, b, c03); c13 = Vector512.FusedMultiplyAdd(a1, b, c13); c23 = Vector512.FusedMultiplyAdd(a2, b, c23); c33 = Vector512.FusedMultiplyAdd(a3, b, c33);
            }
            s[0] = Vector512.Sum(c00); s[1] = Vector512.Sum(c01); s[2] = Vector512.Sum(c02); s[3] = Vector512.Sum(c03);
            s[4] = Vector512.Sum(c10); s[5] = Vector512.Sum(c11); s[6] = Vector512.Sum(c12); s[7] = Vector512.Sum(c13);
            s[8] = Vector512.Sum(c20); s[9] = Vector512.Sum(c21); s[10] = Vector512.Sum(c22); s[11] = Vector512.Sum(c23);
            s[12] = Vector512.Sum(c30); s[13] = Vector512.Sum(c31); s[14] = Vector512.Sum(c32); s[15] = Vector512.Sum(c33);
        }
        else
        {
            var c00 = Vector256<double>.Zero; var c01 = c00; var c02 = c00; var c03 = c00;
            var c10 = c00; var c11 = c00; var c12 = c00; var c13 = c00;
            var c20 = c00; var c21 = c00; var c22 = c00; var c23 = c00;
            var c30 = c00; var c31 = c00; var c32 = c00; var c33 = c00;
            for (int t = 0; t < kv; t += 4)
            {
                var a0 = Vector256.Load(x0 + t); var a1 = Vector256.Load(x1 + t); var a2 = Vector256.Load(x2 + t); var a3 = Vector256.Load(x3 + t);
                var b = Vector256.Load(y0 + t);
                c00 = Vector256.FusedMultiplyAdd(a0, b, c00); c10 = Vector256.FusedMultiplyAdd(a1, b, c10); c20 = Vector256.FusedMultiplyAdd(a2, b, c20); c30 = Vector256.FusedMultiplyAdd(a3, b, c30);
                b = Vector256.Load(y1 + t);
                c01 = Vector256.FusedMultiplyAdd(a0, b, c01); c11 = Vector256.FusedMultiplyAdd(a1, b, c11); c21 = Vector256.FusedMultiplyAdd(a2, b, c21); c31 = Vector256.FusedMultiplyAdd(a3, b, c31);
                b = Vector256.Load(y2 + t);
                c02 = Vector256.FusedMultiplyAdd(a0, b, c02); c12 = Vector256.FusedMultiplyAdd(a1, b, c12); c22 = Vector256.FusedMultiplyAdd(a2, b, c22); c32 = Vector256.FusedMultiplyAdd(a3, b, c32);
                b = Vector256.Load(y3 + t);
                c03 = Vector256.FusedMultiplyAdd(a0, b, c03); c13 = Vector256.FusedMultiplyAdd(a1, b, c13); c23 = Vector256.FusedMultiplyAdd(a2, b, c23); c33 = Vector256.FusedMultiplyAdd(a3, b, c33);
            }
            s[0] = Vector256.Sum(c00); s[1] = Vector256.Sum(c01); s[2] = Vector256.Sum(c02); s[3] = Vector256.Sum(c03);
            s[4] = Vector256.Sum(c10); s[5] = Vector256.Sum(c11); s[6] = Vector256.Sum(c12); s[7] = Vector256.Sum(c13);
            s[8] = Vector256.Sum(c20); s[9] = Vector256.Sum(c21); s[10] = Vector256.Sum(c22); s[11] = Vector256.Sum(c23);
            s[12] = Vector256.Sum(c30); s[13] = Vector256.Sum(c31); s[14] = Vector256.Sum(c32); s[15] = Vector256.Sum(c33);
        }
        for (int r = 0; r < 4; r++)
        {
            double* xr = x + (long)r * ld;
            for (int q = 0; q < 4; q++)
            {
                double* yq = y + (long)q * ld;
                double v = s[r * 4 + q];
                for (int t = kv; t < k; t++)
                    v += xr[t] * yq[t];
                c[(long)r * ldc + q] -= v;
            }
        }
    }

    private static void Edge(double* a, int n, int j, int jb, int i, int ri, int c, int rc)
    {
        for (int r = 0; r < ri; r++)
        {
            double* x = a + (long)(i + r) * n + j;
            for (int q = 0; q < rc && c + q <= i + r; q++)
            {
                double* y = a + (long)(c + q) * n + j;
                double v = 0;
                for (int t = 0; t < jb; t++)
                    v += x[t] * y[t];
                a[(long)(i + r) * n + c + q] -= v;
            }
        }
    }

    private static void ZeroUpper(nint basePtr, int n, ParallelOptions po)
    {
        Parallel.For(0, n, po, i =>
        {
            double* row = (double*)basePtr + (long)i * n;
            new Span<double>(row + i + 1, n - i - 1).Clear();
        });
    }

    /// <summary>Copies the strict lower triangle of <paramref name="a"/> (contiguous [n, n] float64, CPU) onto its strict upper triangle: a[c, i] = a[i, c] for c &lt; i.</summary>
    internal static void MirrorLowerToUpper(Tensor a) => Transpose(a, lowerToUpper: true);

    /// <summary>Copies the strict upper triangle of <paramref name="a"/> back onto its strict lower triangle: a[i, c] = a[c, i] for c &lt; i.</summary>
    internal static void RestoreLowerFromUpper(Tensor a) => Transpose(a, lowerToUpper: false);

    private static void Transpose(Tensor a, bool lowerToUpper)
    {
        const int T = 64;
        int n = (int)a.shape[0], tiles = (n + T - 1) / T;
        nint basePtr = BasePointer(a);
        Parallel.For(0, tiles, Options(), ti =>
        {
            double* p = (double*)basePtr;
            int i0 = ti * T, i1 = Math.Min(n, i0 + T);
            for (int c0 = 0; c0 <= i0; c0 += T)
            {
                for (int i = i0; i < i1; i++)
                {
                    for (int c = c0, c1 = Math.Min(i, c0 + T); c < c1; c++)
                    {
                        if (lowerToUpper)
                            p[(long)c * n + i] = p[(long)i * n + c];
                        else
                            p[(long)i * n + c] = p[(long)c * n + i];
                    }
                }
            }
        });
        GC.KeepAlive(a);
    }

    private static ParallelOptions Options() => new() { MaxDegreeOfParallelism = Math.Max(1, torch.get_num_threads()) };

    private static nint BasePointer(Tensor t)
    {
        using var first = t.view(-1).narrow(0, 0, 1);
        return (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(first.bytes));
    }
}
