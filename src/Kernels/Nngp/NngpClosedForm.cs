using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// Closed-form layer maps (neural-tangents' <c>ABRelu</c> and <c>Erf</c>), for (u, v) ~ N(0, [[q1, k], [k, q2]]):
/// <list type="bullet">
/// <item>ABReLU(a, b): with s = √(q1q2), c = k/s clamped to [−1, 1], θ = arccos c:
/// E[φ′φ′] = (a²+b²)/2 − (a−b)²θ/(2π) and E[φφ] = s·((a−b)²/(2π)·sin θ + E[φ′φ′]·c). ReLU gives the arc-cosine kernel
/// s(sin θ + (π−θ)cos θ)/(2π) and (π−θ)/(2π).</item>
/// <item>Erf a·erf(bx)+c: with t_i = 1 + 2b²q_i, y = 2b²k/√(t1t2): E[φφ] = a²(2/π)·arcsin y + c² and
/// E[φ′φ′] = 4a²b²/(π√(t1t2 − 4b⁴k²)).</item>
/// </list>
/// The CPU path runs all layers of one entry in registers (<see cref="Vector256{T}"/> lanes, the same instruction
/// sequence for every entry), the tensor path does the same maths with TorchSharp operations (GPU).
/// </summary>
internal static class NngpClosedForm
{
    private const double TwoOverPi = 2.0 / Math.PI, FourOverPi = 4.0 / Math.PI;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(NngpNonlinearityKind kind, NngpSchedule s, double[] p, int l, ref Vector256<double> k, ref Vector256<double> t,
        Vector256<double> q1, Vector256<double> q2, bool ntk)
    {
        Vector256<double> g, dot;
        if (kind == NngpNonlinearityKind.ABRelu)
        {
            var sq = Vector256.Sqrt(q1 * q2);
            var c = Vector256.ConditionalSelect(Vector256.GreaterThan(sq, Vector256<double>.Zero), k / sq, Vector256<double>.Zero);
            c = Vector256.Min(Vector256.Max(c, Vector256.Create(-1.0)), Vector256<double>.One);
            var theta = NngpVectorMath.Acos(c);
            var sin = Vector256.Sqrt(Vector256.Max(Vector256<double>.One - c * c, Vector256<double>.Zero));
            var alpha = Vector256.Create(s.Alpha);
            dot = Vector256.Create(s.Beta) - alpha * theta;
            g = sq * (alpha * sin + dot * c);
        }
        else
        {
            double ea = p[0], eb = p[1], ec = p[2];
            var twoB2 = Vector256.Create(2 * eb * eb);
            var t1 = Vector256<double>.One + twoB2 * q1;
            var t2 = Vector256<double>.One + twoB2 * q2;
            var root = Vector256.Sqrt(t1 * t2);
            var y = Vector256.Min(Vector256.Max(twoB2 * k / root, Vector256.Create(-1.0)), Vector256<double>.One);
            g = Vector256.Create(ea * ea * TwoOverPi) * NngpVectorMath.Asin(y) + Vector256.Create(ec * ec);
            dot = ntk
                ? Vector256.Create(ea * ea * eb * eb * FourOverPi) / (root * Vector256.Sqrt(Vector256.Max(Vector256<double>.One - y * y, Vector256.Create(1e-300))))
                : Vector256<double>.Zero;
        }
        var a = Vector256.Create(s.A[l]);
        var kNew = a * g + Vector256.Create(s.B[l]);
        if (ntk)
            t = kNew + a * t * dot;
        k = kNew;
    }

    /// <summary>
    /// One row of a tile: <paramref name="dots"/>[j] = x_i·x_j for the row's <paramref name="count"/> columns; writes K
    /// (and Θ when <paramref name="ntkOut"/> is not empty). <paramref name="qRow"/>[l] is the row's layer-l variance,
    /// <paramref name="qCols"/> holds the columns' variances layer-major with stride <paramref name="colStride"/>.
    /// </summary>
    internal static void Row(NngpArchitecture arch, NngpSchedule s, ReadOnlySpan<double> dots, int count, ReadOnlySpan<double> qRow,
        double[] qCols, int colStride, int colOffset, Span<double> kOut, Span<double> ntkOut)
    {
        var kind = arch.Nonlinearity.Kind;
        var p = s.P;
        bool ntk = !ntkOut.IsEmpty;
        int depth = s.Depth;
        Span<double> tmp = stackalloc double[4];
        Span<double> tmp2 = stackalloc double[4];
        for (int j = 0; j < count; j += 4)
        {
            int m = Math.Min(4, count - j);
            var dot = Load(dots, j, m, tmp);
            var k = Vector256.Create(s.W0) * dot + Vector256.Create(s.B0);
            var t = k;
            for (int l = 0; l < depth; l++)
            {
                var q1 = Vector256.Create(qRow[l]);
                var q2 = Load(qCols.AsSpan(l * colStride + colOffset), j, m, tmp);
                Step(kind, s, p, l, ref k, ref t, q1, q2, ntk);
            }
            Store(k, kOut, j, m, tmp2);
            if (ntk)
                Store(t, ntkOut, j, m, tmp2);
        }
    }

    /// <summary>
    /// The diagonal: <paramref name="dots"/>[i] = x_i·x_i; fills <paramref name="layerDiag"/> (layer-major,
    /// (depth+1) × n: the variance of each row at each layer) and <paramref name="ntkDiag"/>.
    /// </summary>
    internal static void Diagonal(NngpArchitecture arch, NngpSchedule s, ReadOnlySpan<double> dots, Span<double> layerDiag, Span<double> ntkDiag)
    {
        var kind = arch.Nonlinearity.Kind;
        var p = s.P;
        int n = dots.Length, depth = s.Depth;
        Span<double> tmp = stackalloc double[4];
        for (int i = 0; i < n; i += 4)
        {
            int m = Math.Min(4, n - i);
            var dot = Load(dots, i, m, tmp);
            var k = Vector256.Create(s.W0) * dot + Vector256.Create(s.B0);
            var t = k;
            Store(k, layerDiag, i, m, tmp);
            for (int l = 0; l < depth; l++)
            {
                Step(kind, s, p, l, ref k, ref t, k, k, true);
                Store(k, layerDiag.Slice((l + 1) * n), i, m, tmp);
            }
            Store(t, ntkDiag, i, m, tmp);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Load(ReadOnlySpan<double> src, int at, int m, Span<double> tmp)
    {
        if (m == 4)
            return Vector256.Create(src.Slice(at, 4));
        tmp.Fill(1.0);
        src.Slice(at, m).CopyTo(tmp);
        return Vector256.Create((ReadOnlySpan<double>)tmp);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<double> v, Span<double> dst, int at, int m, Span<double> tmp)
    {
        if (m == 4)
        {
            v.CopyTo(dst.Slice(at, 4));
            return;
        }
        v.CopyTo(tmp);
        tmp.Slice(0, m).CopyTo(dst.Slice(at, m));
    }

    /// <summary>Tensor version (GPU path): E[φφ] and, when <paramref name="needDot"/>, E[φ′φ′] elementwise.</summary>
    internal static (Tensor G, Tensor? Dot) Map(NngpArchitecture arch, NngpSchedule s, Tensor k, Tensor q1, Tensor q2, bool needDot)
    {
        var phi = arch.Nonlinearity;
        if (phi.Kind == NngpNonlinearityKind.ABRelu)
        {
            var sq = (q1 * q2).sqrt();
            var c = torch.where(sq.gt(0), k / sq, torch.zeros_like(k)).clamp(-1.0, 1.0);
            var theta = c.acos();
            var sin = (1.0 - c.square()).clamp_min(0.0).sqrt();
            var dot = s.Beta - theta * s.Alpha;
            var g = sq * (sin * s.Alpha + dot * c);
            return (g, needDot ? dot : null);
        }
        else
        {
            double ea = phi.Parameters[0], eb = phi.Parameters[1], ec = phi.Parameters[2];
            double twoB2 = 2 * eb * eb;
            var t1 = q1 * twoB2 + 1.0;
            var t2 = q2 * twoB2 + 1.0;
            var root = (t1 * t2).sqrt();
            var y = (k * twoB2 / root).clamp(-1.0, 1.0);
            var g = y.asin() * (ea * ea * TwoOverPi) + ec * ec;
            Tensor? dot = needDot ? (ea * ea * eb * eb * FourOverPi) / (root * (1.0 - y.square()).clamp_min(1e-300).sqrt()) : null;
            return (g, dot);
        }
    }
}
