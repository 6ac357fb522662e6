using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Components.Trainers.LearnedOptimizer.Fused;

/// <summary>
/// The Vector512 variant of the fused kernel (<see cref="HierarchicalRnnFusedCpuStep"/> dispatches to it; see there for
/// what the passes compute): sixteen parameters at a time, one lane each, with AVX-512F permutes, masked loads and
/// stores, vscalef / vgetexp / vgetmant and the 14-bit reciprocal estimates. <see cref="HierarchicalRnnFusedKernel256"/>
/// is the same math on 8 lanes for AVX2 CPUs. A block is transposed in and out (generic shapes: through a small stack
/// buffer; the default shape: row loads and stores with in-register transposes and permutes, see <see cref="Pass1Default"/>).
/// </summary>
internal static unsafe class HierarchicalRnnFusedKernel512
{
    private const int W = 16; // lanes of Vector512<float>
    private const int DefaultK = HierarchicalRnnFusedCpuStep.DefaultK, DefaultP = HierarchicalRnnFusedCpuStep.DefaultP, DefaultI = HierarchicalRnnFusedCpuStep.DefaultI;

    /// <summary>Parameters per pass.</summary>
    public const int Lanes = W;

    /// <summary>Whether this variant runs on this CPU (Vector512 in hardware: AVX-512F and the rest .NET requires for it).</summary>
    public static bool IsSupported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>
    /// Pass 1 (<see cref="HierarchicalRnnFusedCpuStep.Pass1"/>) for any shape and any n (the last block masked); the
    /// driver uses it for shapes other than the default one and for the default shape's last partial block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // called a few times per step: tier-0 code would run the whole tensor unoptimised
    internal static void Pass1Generic(FusedWeights w, ReadOnlySpan<float> bias, FusedTensorData d, float* update, Span<double> sumH, Span<double> sumX, out double sumD2)
    {
        int k = w.K, p = w.P, ix = 3 * k, p3 = 3 * p;
        // Per-block SoA buffers: m, v [K], h [P] transposed in; x [I], pre [3P], r⊙h [P] are working registers/L1.
        var mb = stackalloc Vector512<float>[k];
        var vb = stackalloc Vector512<float>[k];
        var hb = stackalloc Vector512<float>[p];
        var xb = stackalloc Vector512<float>[ix];
        var pre = stackalloc Vector512<float>[p3];
        var rh = stackalloc Vector512<float>[p];
        var accH = stackalloc Vector512<float>[p];
        var accX = stackalloc Vector512<float>[ix];
        var accD = Vector512<float>.Zero;
        for (int j = 0; j < p; j++) accH[j] = Vector512<float>.Zero;
        for (int j = 0; j < ix; j++) accX[j] = Vector512<float>.Zero;
        var lane = stackalloc float[W];
        float eps = (float)HierarchicalRnnUpdate.Epsilon, maxLr = w.MaxLogLr;
        var one = Vector512.Create(1f);
        var invK = Vector512.Create(1f / k);
        long n = d.N;
        fixed (float* wx = w.WxT, wh = w.WhT, ow = w.OutW, ob = w.OutB, sc = w.Shortcut)
        fixed (float* bb = bias)
        {
            for (long start = 0; start < n; start += W)
            {
                int cnt = (int)Math.Min(W, n - start);
                bool full = cnt == W;
                var mask = full ? Vector512<float>.AllBitsSet : LaneMask(cnt);
                // Transpose the block in (padding lanes read as 0: every function below is finite there).
                for (int j = 0; j < k; j++)
                {
                    mb[j] = Gather(d.M + start * k + j, k, cnt, lane);
                    vb[j] = Gather(d.V + start * k + j, k, cnt, lane);
                }
                for (int j = 0; j < p; j++)
                    hb[j] = Gather(d.H + start * p + j, p, cnt, lane);
                var g = Load(d.Gradient + start, cnt, lane);
                var beta = Load(d.InputDecay + start, cnt, lane);
                var sigma = Load(d.ScaleDecay + start, cnt, lane);
                var logLr = Load(d.LogLr + start, cnt, lane);

                // Momentum at K timescales (β_{j+1} = √β_j), mean squares, asinh-scaled inputs, log mean squares.
                var lmsMean = Vector512<float>.Zero;
                for (int j = 0; j < k; j++)
                {
                    if (j > 0)
                        beta = Vector512.Sqrt(beta);
                    var m = Vector512.FusedMultiplyAdd(mb[j] - g, beta, g); // (m − g)·β + g = (1 − β)·g + β·m
                    var sq = m * m;
                    var v = d.FirstStep ? sq : Vector512.FusedMultiplyAdd(vb[j] - sq, sigma, sq); // σ·v + (1 − σ)·m²
                    mb[j] = m;
                    vb[j] = v;
                    var ve = v + Vector512.Create(eps);
                    var rms = Vector512.Sqrt(ve);
                    xb[j] = Asinh(m / rms);
                    var lms = Log(ve);
                    xb[2 * k - 1 + j] = lms;
                    lmsMean += lms;
                }
                lmsMean *= invK;
                for (int j = 0; j < k; j++)
                    xb[2 * k - 1 + j] -= lmsMean;
                for (int j = 0; j < k - 1; j++)
                    xb[k + j] = xb[j] * xb[j + 1];
                xb[3 * k - 1] = logLr - Vector512.Create(w.MeanLogLr);

                // Per-parameter GRU: pre = b + x·Wx (+ h·Wh for the gates). Column-outer, so that each accumulator stays in
                // a register and the weights are read as broadcast operands (transposed: [3P, I] and [3P, P]).
                for (int c = 0; c < p3; c++)
                {
                    var acc = Vector512.Create(bb[c]);
                    float* col = wx + c * ix;
                    for (int i = 0; i < ix; i++)
                        acc = Vector512.FusedMultiplyAdd(xb[i], Vector512.Create(col[i]), acc);
                    if (c < 2 * p)
                    {
                        float* hcol = wh + c * p;
                        for (int q = 0; q < p; q++)
                            acc = Vector512.FusedMultiplyAdd(hb[q], Vector512.Create(hcol[q]), acc);
                        acc = Sigmoid(acc);
                    }
                    pre[c] = acc;
                }
                for (int q = 0; q < p; q++)
                    rh[q] = pre[q] * hb[q];
                for (int c = 2 * p; c < p3; c++)
                {
                    var acc = pre[c];
                    float* hcol = wh + c * p;
                    for (int q = 0; q < p; q++)
                        acc = Vector512.FusedMultiplyAdd(rh[q], Vector512.Create(hcol[q]), acc);
                    pre[c] = acc;
                }
                var o0 = Vector512.Create(ob[0]);
                var o1 = Vector512.Create(ob[1]);
                var o2 = Vector512.Create(ob[2]);
                var o3 = Vector512.Create(ob[3]);
                for (int q = 0; q < p; q++)
                {
                    var cand = Tanh(pre[2 * p + q]);
                    var hn = Vector512.FusedMultiplyAdd(hb[q] - cand, pre[p + q], cand); // u⊙h + (1 − u)⊙c
                    hb[q] = hn;
                    accH[q] += full ? hn : hn & mask;
                    o0 = Vector512.FusedMultiplyAdd(hn, Vector512.Create(ow[q]), o0);
                    o1 = Vector512.FusedMultiplyAdd(hn, Vector512.Create(ow[p + q]), o1);
                    o2 = Vector512.FusedMultiplyAdd(hn, Vector512.Create(ow[2 * p + q]), o2);
                    o3 = Vector512.FusedMultiplyAdd(hn, Vector512.Create(ow[3 * p + q]), o3);
                }
                for (int i = 0; i < ix; i++)
                    accX[i] += full ? xb[i] : xb[i] & mask;
                var delta = o0;
                for (int j = 0; j < k; j++)
                    delta = Vector512.FusedMultiplyAdd(xb[j], Vector512.Create(sc[j]), delta);
                accD += full ? delta * delta : (delta * delta) & mask;
                var newSigma = Sigmoid(o1);
                var newBeta = Sigmoid(o2);
                var stepLr = Vector512.Clamp(logLr + o3, Vector512.Create(-(float)HierarchicalRnnUpdate.MaxLogLearningRate), Vector512.Create(maxLr));
                var newLogLr = Vector512.FusedMultiplyAdd(stepLr - logLr, Vector512.Create(1f - w.LrMomentum), logLr);
                var u = Exp(stepLr + Vector512.Create(w.StepSizeOffset)) * delta;

                // Transpose the block out.
                for (int j = 0; j < k; j++)
                {
                    Scatter(mb[j], d.M + start * k + j, k, cnt, lane);
                    Scatter(vb[j], d.V + start * k + j, k, cnt, lane);
                }
                for (int j = 0; j < p; j++)
                    Scatter(hb[j], d.H + start * p + j, p, cnt, lane);
                Store(newSigma, d.ScaleDecay + start, cnt, lane);
                Store(newBeta, d.InputDecay + start, cnt, lane);
                Store(newLogLr, d.LogLr + start, cnt, lane);
                Store(u, update + start, cnt, lane);
            }
        }
        for (int j = 0; j < p; j++)
            sumH[j] = Sum(accH[j]);
        for (int j = 0; j < ix; j++)
            sumX[j] = Sum(accX[j]);
        sumD2 = Sum(accD);
    }

    /// <summary>
    /// Pass 1 for the default architecture (K = 4, P = 10, 12 inputs) on full 16-parameter blocks (n a multiple of 16;
    /// the driver runs the rest by <see cref="Pass1Generic"/>): the GRU's three 10-column matvecs run input-outer with ten accumulators in
    /// registers (independent FMA chains instead of one 22-long chain per column); the block's [16, 10] GRU state is
    /// read and written as 16 rows with a 16 × 16 transpose in registers (<see cref="Transpose16"/>), its [16, 4]
    /// momentum and mean squares as four 64-byte rows with two rounds of permutes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Pass1Default(FusedWeights w, ReadOnlySpan<float> bias, FusedTensorData d, float* update, Span<double> sumH, Span<double> sumX, out double sumD2)
    {
        const int k = DefaultK, p = DefaultP, ix = DefaultI, ni = ix + p;
        var xh = stackalloc Vector512<float>[ni]; // x, then h (r⊙h for the candidate)
        var hb = stackalloc Vector512<float>[p];
        var pre = stackalloc Vector512<float>[3 * p];
        var accH = stackalloc Vector512<float>[p];
        var accX = stackalloc Vector512<float>[ix];
        for (int j = 0; j < p; j++) accH[j] = Vector512<float>.Zero;
        for (int j = 0; j < ix; j++) accX[j] = Vector512<float>.Zero;
        var accD = Vector512<float>.Zero;
        var rows = stackalloc Vector512<float>[W]; // the block's [16, 10] GRU state as 16 rows (lanes 10–15: the next row's start, unused)
        var hT = stackalloc Vector512<float>[W];   // its transpose: hT[q] = state q of the 16 parameters (q ≥ 10: unused)
        var hOut = stackalloc Vector512<float>[W]; // the new state, transposed back into rows on the way out (q ≥ 10: zero)
        for (int q = 0; q < W; q++) hOut[q] = Vector512<float>.Zero;
        var mIn = stackalloc Vector512<float>[k];
        var vIn = stackalloc Vector512<float>[k];
        var mOut = stackalloc Vector512<float>[k];
        var vOut = stackalloc Vector512<float>[k];
        // Store16x4's permutations: pairs (c0, c1) / (c2, c3) interleaved for parameters 0–7 / 8–15, then quads.
        var pairLo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        var pairHi = pairLo + Vector512.Create(8);
        var quad0 = Vector512.Create(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
        var quad1 = quad0 + Vector512.Create(8);
        // Load16x4's: (c0, c1) / (c2, c3) of parameters 0–7 from the first two rows, then halves joined.
        var splitLo = Vector512.Create(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
        var splitHi = splitLo + Vector512.Create(2);
        var joinLo = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        var joinHi = joinLo + Vector512.Create(8);
        var lastRow = Vector512.Create(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0).AsSingle(); // the 16th row's 10 values
        var eps = Vector512.Create((float)HierarchicalRnnUpdate.Epsilon);
        float maxLr = w.MaxLogLr;
        var invK = Vector512.Create(1f / k);
        long full = d.N / W * W; // = n (the driver passes full blocks only)
        bool first = d.FirstStep;
        fixed (float* gw = w.DefaultGates, ow = w.OutW, ob = w.OutB, sc = w.Shortcut)
        fixed (float* bb = bias)
        {
            for (long start = 0; start < full; start += W)
            {
                float* pm = d.M + start * k, pv = d.V + start * k, ph = d.H + start * p;
                var g = Vector512.Load(d.Gradient + start);
                var beta = Vector512.Load(d.InputDecay + start);
                var sigma = Vector512.Load(d.ScaleDecay + start);
                var logLr = Vector512.Load(d.LogLr + start);
                // The [16, 10] state block in by 16 row loads (the last one masked: it would read past the block) and a
                // 16 × 16 transpose in registers.
                for (int l = 0; l < W - 1; l++)
                    rows[l] = Vector512.Load(ph + l * p);
                rows[W - 1] = Avx512F.MaskLoad(ph + (W - 1) * p, lastRow, Vector512<float>.Zero);
                Transpose16(rows, hT);
                for (int j = 0; j < p; j++)
                    xh[ix + j] = hb[j] = hT[j];
                Load16x4(pm, mIn, splitLo, splitHi, joinLo, joinHi);
                if (!first)
                    Load16x4(pv, vIn, splitLo, splitHi, joinLo, joinHi);

                var lmsMean = Vector512<float>.Zero;
                for (int j = 0; j < k; j++)
                {
                    if (j > 0)
                        beta = Vector512.Sqrt(beta);
                    var m = Vector512.FusedMultiplyAdd(mIn[j] - g, beta, g);
                    var sq = m * m;
                    var v = first ? sq : Vector512.FusedMultiplyAdd(vIn[j] - sq, sigma, sq);
                    mOut[j] = m;
                    vOut[j] = v;
                    var ve = v + eps;
                    xh[j] = Asinh(m * ReciprocalSqrt(ve));
                    var lms = Log(ve);
                    xh[2 * k - 1 + j] = lms;
                    lmsMean += lms;
                }
                Store16x4(mOut, pm, pairLo, pairHi, quad0, quad1);
                Store16x4(vOut, pv, pairLo, pairHi, quad0, quad1);
                lmsMean *= invK;
                for (int j = 0; j < k; j++)
                    xh[2 * k - 1 + j] -= lmsMean;
                for (int j = 0; j < k - 1; j++)
                    xh[k + j] = xh[j] * xh[j + 1];
                xh[3 * k - 1] = logLr - Vector512.Create(w.MeanLogLr);

                Gate10(xh, ni, gw, bb, pre);                       // reset
                Gate10(xh, ni, gw + ni * p, bb + p, pre + p);      // update
                for (int q = 0; q < 2 * p; q++)
                    pre[q] = Sigmoid(pre[q]);
                for (int q = 0; q < p; q++)
                    xh[ix + q] = pre[q] * hb[q];
                Gate10(xh, ni, gw + 2 * ni * p, bb + 2 * p, pre + 2 * p); // candidate: x·Wx + (r⊙h)·Wh

                var o0 = Vector512.Create(ob[0]);
                var o1 = Vector512.Create(ob[1]);
                var o2 = Vector512.Create(ob[2]);
                var o3 = Vector512.Create(ob[3]);
                for (int q = 0; q < p; q++)
                {
                    var cand = Tanh(pre[2 * p + q]);
                    var hn = Vector512.FusedMultiplyAdd(hb[q] - cand, pre[p + q], cand);
                    accH[q] += hn;
                    o0 = Vector512.FusedMultiplyAdd(hn, Vector512.Create(ow[q]), o0);
                    o1 = Vector512.FusedMultiplyAdd(hn, Vector512.Create(ow[p + q]), o1);
                    o2 = Vector512.FusedMultiplyAdd(hn, Vector512.Create(ow[2 * p + q]), o2);
                    o3 = Vector512.FusedMultiplyAdd(hn, Vector512.Create(ow[3 * p + q]), o3);
                    hOut[q] = hn;
                }
                // The new state out: transposed back into rows, stored in order (each row's 6 extra lanes land on the
                // next row's start, which the next store overwrites; the last row masked).
                Transpose16(hOut, rows);
                for (int l = 0; l < W - 1; l++)
                    Vector512.Store(rows[l], ph + l * p);
                Avx512F.MaskStore(ph + (W - 1) * p, lastRow, rows[W - 1]);
                for (int i = 0; i < ix; i++)
                    accX[i] += xh[i];
                var delta = o0;
                for (int j = 0; j < k; j++)
                    delta = Vector512.FusedMultiplyAdd(xh[j], Vector512.Create(sc[j]), delta);
                accD = Vector512.FusedMultiplyAdd(delta, delta, accD);
                var stepLr = Vector512.Clamp(logLr + o3, Vector512.Create(-(float)HierarchicalRnnUpdate.MaxLogLearningRate), Vector512.Create(maxLr));
                Vector512.Store(Sigmoid(o1), d.ScaleDecay + start);
                Vector512.Store(Sigmoid(o2), d.InputDecay + start);
                Vector512.Store(Vector512.FusedMultiplyAdd(stepLr - logLr, Vector512.Create(1f - w.LrMomentum), logLr), d.LogLr + start);
                Vector512.Store(Exp(stepLr + Vector512.Create(w.StepSizeOffset)) * delta, update + start);
            }
        }
        for (int j = 0; j < p; j++)
            sumH[j] = Sum(accH[j]);
        for (int j = 0; j < ix; j++)
            sumX[j] = Sum(accX[j]);
        sumD2 = Sum(accD);
    }

    /// <summary>
    /// Writes four column vectors c[j] (16 parameters each) as the row-major [16, 4] block at dst (four 64-byte stores
    /// instead of 64 scalar ones): two rounds of two-source permutes (vpermt2ps).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store16x4(Vector512<float>* c, float* dst, Vector512<int> pairLo, Vector512<int> pairHi, Vector512<int> quad0, Vector512<int> quad1)
    {
        var t0 = Avx512F.PermuteVar16x32x2(c[0], pairLo, c[1]); // t0[2a + s] = c_s[a], a < 8
        var t1 = Avx512F.PermuteVar16x32x2(c[0], pairHi, c[1]); // t1[2a + s] = c_s[8 + a]
        var u0 = Avx512F.PermuteVar16x32x2(c[2], pairLo, c[3]);
        var u1 = Avx512F.PermuteVar16x32x2(c[2], pairHi, c[3]);
        Vector512.Store(Avx512F.PermuteVar16x32x2(t0, quad0, u0), dst);
        Vector512.Store(Avx512F.PermuteVar16x32x2(t0, quad1, u0), dst + 16);
        Vector512.Store(Avx512F.PermuteVar16x32x2(t1, quad0, u1), dst + 32);
        Vector512.Store(Avx512F.PermuteVar16x32x2(t1, quad1, u1), dst + 48);
    }

    /// <summary>
    /// Reads the row-major [16, 4] block at src as four column vectors c[j] (16 parameters each): four 64-byte loads and
    /// two rounds of two-source permutes (the inverse of <see cref="Store16x4"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load16x4(float* src, Vector512<float>* c, Vector512<int> splitLo, Vector512<int> splitHi, Vector512<int> joinLo, Vector512<int> joinHi)
    {
        Vector512<float> r0 = Vector512.Load(src), r1 = Vector512.Load(src + 16), r2 = Vector512.Load(src + 32), r3 = Vector512.Load(src + 48);
        var a0 = Avx512F.PermuteVar16x32x2(r0, splitLo, r1); // c0[0..7], c1[0..7]
        var a1 = Avx512F.PermuteVar16x32x2(r0, splitHi, r1); // c2[0..7], c3[0..7]
        var a2 = Avx512F.PermuteVar16x32x2(r2, splitLo, r3); // c0[8..15], c1[8..15]
        var a3 = Avx512F.PermuteVar16x32x2(r2, splitHi, r3);
        c[0] = Avx512F.PermuteVar16x32x2(a0, joinLo, a2);
        c[1] = Avx512F.PermuteVar16x32x2(a0, joinHi, a2);
        c[2] = Avx512F.PermuteVar16x32x2(a1, joinLo, a3);
        c[3] = Avx512F.PermuteVar16x32x2(a1, joinHi, a3);
    }

    /// <summary>
    /// dst[j][i] = src[i][j] for a 16 × 16 float32 matrix held as 16 vectors: the usual four rounds of in-lane unpacks,
    /// in-lane shuffles and two rounds of 128-bit block shuffles (64 shuffles; exact: values are only moved).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose16(Vector512<float>* src, Vector512<float>* dst)
    {
        // Written out (no loops, no stack arrays): the JIT keeps the 16 intermediates in registers.
        var t0 = Avx512F.UnpackLow(src[0], src[1]);
        var t1 = Avx512F.UnpackHigh(src[0], src[1]);
        var t2 = Avx512F.UnpackLow(src[2], src[3]);
        var t3 = Avx512F.UnpackHigh(src[2], src[3]);
        var t4 = Avx512F.UnpackLow(src[4], src[5]);
        var t5 = Avx512F.UnpackHigh(src[4], src[5]);
        var t6 = Avx512F.UnpackLow(src[6], src[7]);
        var t7 = Avx512F.UnpackHigh(src[6], src[7]);
        var t8 = Avx512F.UnpackLow(src[8], src[9]);
        var t9 = Avx512F.UnpackHigh(src[8], src[9]);
        var t10 = Avx512F.UnpackLow(src[10], src[11]);
        var t11 = Avx512F.UnpackHigh(src[10], src[11]);
        var t12 = Avx512F.UnpackLow(src[12], src[13]);
        var t13 = Avx512F.UnpackHigh(src[12], src[13]);
        var t14 = Avx512F.UnpackLow(src[14], src[15]);
        var t15 = Avx512F.UnpackHigh(src[14], src[15]);
        var u0 = Avx512F.Shuffle(t0, t2, 0x44);
        var u1 = Avx512F.Shuffle(t0, t2, 0xEE);
        var u2 = Avx512F.Shuffle(t1, t3, 0x44);
        var u3 = Avx512F.Shuffle(t1, t3, 0xEE);
        var u4 = Avx512F.Shuffle(t4, t6, 0x44);
        var u5 = Avx512F.Shuffle(t4, t6, 0xEE);
        var u6 = Avx512F.Shuffle(t5, t7, 0x44);
        var u7 = Avx512F.Shuffle(t5, t7, 0xEE);
        var u8 = Avx512F.Shuffle(t8, t10, 0x44);
        var u9 = Avx512F.Shuffle(t8, t10, 0xEE);
        var u10 = Avx512F.Shuffle(t9, t11, 0x44);
        var u11 = Avx512F.Shuffle(t9, t11, 0xEE);
        var u12 = Avx512F.Shuffle(t12, t14, 0x44);
        var u13 = Avx512F.Shuffle(t12, t14, 0xEE);
        var u14 = Avx512F.Shuffle(t13, t15, 0x44);
        var u15 = Avx512F.Shuffle(t13, t15, 0xEE);
        t0 = Avx512F.Shuffle4x128(u0, u4, 0x88);
        t4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        t1 = Avx512F.Shuffle4x128(u1, u5, 0x88);
        t5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        t2 = Avx512F.Shuffle4x128(u2, u6, 0x88);
        t6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        t3 = Avx512F.Shuffle4x128(u3, u7, 0x88);
        t7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        t8 = Avx512F.Shuffle4x128(u8, u12, 0x88);
        t12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        t9 = Avx512F.Shuffle4x128(u9, u13, 0x88);
        t13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        t10 = Avx512F.Shuffle4x128(u10, u14, 0x88);
        t14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        t11 = Avx512F.Shuffle4x128(u11, u15, 0x88);
        t15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);
        dst[0] = Avx512F.Shuffle4x128(t0, t8, 0x88);
        dst[8] = Avx512F.Shuffle4x128(t0, t8, 0xDD);
        dst[1] = Avx512F.Shuffle4x128(t1, t9, 0x88);
        dst[9] = Avx512F.Shuffle4x128(t1, t9, 0xDD);
        dst[2] = Avx512F.Shuffle4x128(t2, t10, 0x88);
        dst[10] = Avx512F.Shuffle4x128(t2, t10, 0xDD);
        dst[3] = Avx512F.Shuffle4x128(t3, t11, 0x88);
        dst[11] = Avx512F.Shuffle4x128(t3, t11, 0xDD);
        dst[4] = Avx512F.Shuffle4x128(t4, t12, 0x88);
        dst[12] = Avx512F.Shuffle4x128(t4, t12, 0xDD);
        dst[5] = Avx512F.Shuffle4x128(t5, t13, 0x88);
        dst[13] = Avx512F.Shuffle4x128(t5, t13, 0xDD);
        dst[6] = Avx512F.Shuffle4x128(t6, t14, 0x88);
        dst[14] = Avx512F.Shuffle4x128(t6, t14, 0xDD);
        dst[7] = Avx512F.Shuffle4x128(t7, t15, 0x88);
        dst[15] = Avx512F.Shuffle4x128(t7, t15, 0xDD);
    }

    /// <summary>out[j] = b[j] + Σ_i in[i]·wg[i, j] for ten columns j, the accumulators in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gate10(Vector512<float>* inp, int nIn, float* wg, float* b, Vector512<float>* outp)
    {
        Vector512<float> a0 = Vector512.Create(b[0]), a1 = Vector512.Create(b[1]), a2 = Vector512.Create(b[2]), a3 = Vector512.Create(b[3]),
            a4 = Vector512.Create(b[4]), a5 = Vector512.Create(b[5]), a6 = Vector512.Create(b[6]), a7 = Vector512.Create(b[7]),
            a8 = Vector512.Create(b[8]), a9 = Vector512.Create(b[9]);
        for (int i = 0; i < nIn; i++, wg += DefaultP)
        {
            var x = inp[i];
            a0 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[0]), a0);
            a1 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[1]), a1);
            a2 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[2]), a2);
            a3 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[3]), a3);
            a4 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[4]), a4);
            a5 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[5]), a5);
            a6 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[6]), a6);
            a7 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[7]), a7);
            a8 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[8]), a8);
            a9 = Vector512.FusedMultiplyAdd(x, Vector512.Create(wg[9]), a9);
        }
        outp[0] = a0; outp[1] = a1; outp[2] = a2; outp[3] = a3; outp[4] = a4;
        outp[5] = a5; outp[6] = a6; outp[7] = a7; outp[8] = a8; outp[9] = a9;
    }

    /// <summary>Pass 2: θ ← θ − scale·update.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pass2(float* theta, float* update, long n, float scale)
    {
        var s = Vector512.Create(scale);
        long i = 0;
        for (; i + W <= n; i += W)
            Vector512.Store(Vector512.Load(theta + i) - Vector512.Load(update + i) * s, theta + i);
        for (; i < n; i++)
            theta[i] -= update[i] * scale;
    }

    /// <summary>
    /// e^x in float32 (Cephes expf: x = n·ln 2 + r, |r| ≤ ln 2 / 2, degree-5 polynomial; relative error ~1e-7). x is
    /// clamped to [−87.3, 88]: below, the result is ~1e-38 instead of smaller; above, e^88 ≈ 1.7e38 instead of ∞
    /// (callers only divide by 1 + e^x or use x ≤ 33 + |offset|).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Clamp(x, Vector512.Create(-87.3f), Vector512.Create(88f));
        var shifter = Vector512.Create(12582912f); // 1.5·2^23: adding it rounds to an integer in the low mantissa bits
        var t = Vector512.FusedMultiplyAdd(x, Vector512.Create(1.44269504088896341f), shifter);
        var n = t - shifter;
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500E-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507E-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073E-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894E-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459E-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201E-1f));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        return Avx512F.Scale(p, n); // p·2ⁿ (vscalefps; n is an integer in [−126, 127] after the clamp)
    }

    /// <summary>
    /// ln x in float32 for positive normal x: x = 2^e·m with m ∈ [0.75, 1.5) (vgetmantps; e = vgetexpps(x) −
    /// vgetexpps(m), exact), then ln m = f − f²/2 + f³·Q(f), f = m − 1 ∈ [−0.25, 0.5), Q of degree 6 (a minimax fit
    /// of the relative error, 4.0e-8 on the interval in exact arithmetic). 16 vector instructions (the Cephes form it
    /// replaced: 22). Measured against System.Math (`lopt-step --function-errors 2000000`, 3·10⁶ points, 10⁻³⁰…10³⁰):
    /// maximum relative error 1.5e-7 (the Cephes form: 8.0e-8).
    /// The kernel calls it on v + ε ≥ 1e-16 and on values ≥ 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log(Vector512<float> x)
    {
        var m = Avx512F.GetMantissa(x, 0x03);                      // [0.75, 1.5) (interval p75_1p5, sign of x)
        var e = Avx512F.GetExponent(x) - Avx512F.GetExponent(m);  // ⌊log₂ x⌋ + (m < 1 ? 1 : 0)
        var f = m - Vector512<float>.One;
        var z = f * f;
        var q = Vector512.Create(0.05559784546494484f);
        q = Vector512.FusedMultiplyAdd(q, f, Vector512.Create(-0.12114255875349045f));
        q = Vector512.FusedMultiplyAdd(q, f, Vector512.Create(0.14904502034187317f));
        q = Vector512.FusedMultiplyAdd(q, f, Vector512.Create(-0.16788819432258606f));
        q = Vector512.FusedMultiplyAdd(q, f, Vector512.Create(0.19982315599918365f));
        q = Vector512.FusedMultiplyAdd(q, f, Vector512.Create(-0.24996359646320343f));
        q = Vector512.FusedMultiplyAdd(q, f, Vector512.Create(0.33333471417427063f));
        var y = Vector512.FusedMultiplyAdd(z * f, q, Vector512.FusedMultiplyAdd(z, Vector512.Create(-0.5f), f));
        return Vector512.FusedMultiplyAdd(e, Vector512.Create(0.693147180559945f), y);
    }

    /// <summary>
    /// 2^(x·c) without rounding x·c first: n = round(x·c), f = x·c − n ∈ [−½, ½] by one FMA, 2^f by a degree-5 minimax
    /// polynomial (relative error 7.5e-8 in exact arithmetic), 2ⁿ by vscalefps. 10 vector instructions (the Cephes exp
    /// with its clamp and Cody–Waite reduction: 15). The caller keeps |x·c| ≤ 126 (beyond ~2^23 the reduction's f is no
    /// longer small and the polynomial overflows).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pow2Of(Vector512<float> x, Vector512<float> c)
    {
        var n = Avx512F.RoundScale(x * c, 0x08);          // nearest integer (vrndscaleps, exceptions suppressed)
        var f = Avx512F.FusedMultiplySubtract(x, c, n);  // x·c − n, one rounding
        var p = Vector512.Create(0.0013276487588882446f);
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(0.009675546549260616f));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(0.05550713092088699f));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(0.24022120237350464f));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(0.6931469440460205f));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(1.0000001192092896f));
        return Avx512F.Scale(p, n);
    }

    /// <summary>
    /// σ(x) = 1 / (1 + e^−x), e^−x = 2^(−x·log₂e) by <see cref="Pow2Of"/> (x clamped below at −87, where σ is 1.6e-38)
    /// and above at 87, and the reciprocal by vrcp14ps and one Newton step. 15 vector instructions (it was 20). Measured
    /// (`lopt-step --function-errors 2000000`, [−40, 40] and ±10⁻³⁰…10³⁰): maximum absolute error 1.4e-7, relative 2.4e-7
    /// where σ ≥ 0.01; in the far negative tail the relative error grows with |x| (float32 log₂e times x·log₂e):
    /// 1.0e-6 at x = −67, where σ ≈ 1e-29 (the Cephes-exp form: 2.0e-7).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) =>
        Reciprocal(Vector512<float>.One + Pow2Of(Avx512F.Min(Avx512F.Max(x, Vector512.Create(-87f)), Vector512.Create(87f)), Vector512.Create(-1.44269504088896341f)));

    /// <summary>
    /// tanh(x) = 1 − 2 / (e^{2x} + 1), e^{2x} by <see cref="Pow2Of"/> (x clamped to ±44, where tanh is ±1 in float32).
    /// 16 vector instructions (it was 21). Measured (`lopt-step --function-errors 2000000`): maximum absolute error
    /// 2.8e-7 (the previous form: 2.7e-7); near 0 the error is absolute, not relative (1.8e-5 relative at |tanh| = 0.01,
    /// the previous form 1.3e-5), as before.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x) =>
        Avx512F.FusedMultiplyAddNegated(Vector512.Create(2f),
            Reciprocal(Pow2Of(Avx512F.Min(Avx512F.Max(x, Vector512.Create(-44f)), Vector512.Create(44f)), Vector512.Create(2.88539008177792682f)) + Vector512<float>.One),
            Vector512<float>.One);

    /// <summary>
    /// 1/x for 1 ≤ x ≤ 2^127: vrcp14ps (relative error ≤ 2^-14) and one Newton step (≤ ~2^-23, about an ulp), several
    /// times the throughput of vdivps on 512-bit vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Reciprocal(Vector512<float> x)
    {
        var r = Avx512F.Reciprocal14(x);
        return r * Avx512F.FusedMultiplyAddNegated(x, r, Vector512.Create(2f)); // r·(2 − x·r)
    }

    /// <summary>1/√x for 1e-16 ≤ x (normal): vrsqrt14ps and one Newton step (relative error about an ulp).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ReciprocalSqrt(Vector512<float> x)
    {
        var r = Avx512F.ReciprocalSqrt14(x);
        var hx = x * Vector512.Create(0.5f);
        return r * Avx512F.FusedMultiplyAddNegated(hx * r, r, Vector512.Create(1.5f)); // r·(1.5 − x/2·r²)
    }

    /// <summary>asinh(z) = sign(z)·log(|z| + √(z² + 1)), as the libtorch path computes it; log(2|z|) above 1e10 (z² would overflow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Asinh(Vector512<float> z)
    {
        var a = Vector512.Abs(z);
        var t = Vector512.ConditionalSelect(Vector512.GreaterThan(a, Vector512.Create(1e10f)), a + a,
            a + Vector512.Sqrt(Vector512.FusedMultiplyAdd(a, a, Vector512<float>.One)));
        var r = Log(t);
        return Vector512.CopySign(r, z);
    }

    /// <summary>The vectorised functions on a span (tests and the benchmark; the last block padded with its last value).</summary>
    internal static void Evaluate(HierarchicalRnnFusedCpuStep.Function f, ReadOnlySpan<float> x, Span<float> y)
    {
        var lanes = stackalloc float[W];
        for (int b = 0; b < x.Length; b += W)
        {
            for (int j = 0; j < W; j++)
                lanes[j] = x[Math.Min(b + j, x.Length - 1)];
            var v = Vector512.Load(lanes);
            var r = f switch
            {
                HierarchicalRnnFusedCpuStep.Function.Sigmoid => Sigmoid(v),
                HierarchicalRnnFusedCpuStep.Function.Tanh => Tanh(v),
                HierarchicalRnnFusedCpuStep.Function.Asinh => Asinh(v),
                HierarchicalRnnFusedCpuStep.Function.Log => Log(v),
                HierarchicalRnnFusedCpuStep.Function.Exp => Exp(v),
                _ => throw new ArgumentOutOfRangeException(nameof(f)),
            };
            Vector512.Store(r, lanes);
            for (int j = 0; j < W && b + j < x.Length; j++)
                y[b + j] = lanes[j];
        }
    }

    private static Vector512<float> LaneMask(int cnt)
    {
        var idx = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        return Vector512.LessThan(idx, Vector512.Create((float)cnt));
    }

    private static double Sum(Vector512<float> v)
    {
        double s = 0;
        for (int i = 0; i < W; i++)
            s += v.GetElement(i);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load(float* src, int cnt, float* lane)
    {
        if (cnt == W)
            return Vector512.Load(src);
        for (int i = 0; i < W; i++)
            lane[i] = i < cnt ? src[i] : 0f;
        return Vector512.Load(lane);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> v, float* dst, int cnt, float* lane)
    {
        if (cnt == W)
        {
            Vector512.Store(v, dst);
            return;
        }
        Vector512.Store(v, lane);
        for (int i = 0; i < cnt; i++)
            dst[i] = lane[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Gather(float* src, int stride, int cnt, float* lane)
    {
        if (cnt == W)
        {
            for (int i = 0; i < W; i++)
                lane[i] = src[(long)i * stride];
            return Vector512.Load(lane);
        }
        for (int i = 0; i < W; i++)
            lane[i] = i < cnt ? src[(long)i * stride] : 0f;
        return Vector512.Load(lane);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scatter(Vector512<float> v, float* dst, int stride, int cnt, float* lane)
    {
        Vector512.Store(v, lane);
        for (int i = 0; i < cnt; i++)
            dst[(long)i * stride] = lane[i];
    }
}
