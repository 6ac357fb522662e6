using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Components.Trainers.LearnedOptimizer.Fused;

/// <summary>
/// The Vector256 variant of the fused kernel for CPUs with AVX2 and FMA but no (or no fast) AVX-512: AMD before Zen 4,
/// most Intel client CPUs (<see cref="HierarchicalRnnFusedCpuStep"/> dispatches to it; see there for what the passes
/// compute). The same math as <see cref="HierarchicalRnnFusedKernel512"/> on eight parameters at a time, one lane each,
/// with what AVX2 has in place of the AVX-512 instructions: 8 × 8 transposes by unpack / shuffle / permute2f128 instead
/// of 16 × 16 ones and two-source permutes; 2ⁿ by integer exponent arithmetic instead of vscalef; exponent and mantissa
/// by bit manipulation instead of vgetexp / vgetmant; masked tails by vmaskmovps (<see cref="Avx.MaskLoad(float*, Vector256{float})"/>)
/// and strided reads by vgatherdps; exact division and square root where the 512-bit kernel uses the 14-bit reciprocal
/// estimates (AVX2's rcpps / rsqrtps have 12 bits: one Newton step would leave ~2e-7, above tanh's tolerance near 0).
/// The functions give the same values as the 512-bit kernel's up to rounding (the polynomials are the same).
/// </summary>
internal static unsafe class HierarchicalRnnFusedKernel256
{
    private const int W = 8; // lanes of Vector256<float>
    private const int DefaultK = HierarchicalRnnFusedCpuStep.DefaultK, DefaultP = HierarchicalRnnFusedCpuStep.DefaultP, DefaultI = HierarchicalRnnFusedCpuStep.DefaultI;

    /// <summary>Parameters per pass.</summary>
    public const int Lanes = W;

    /// <summary>Whether this variant runs on this CPU (AVX2 and FMA; every AVX-512 CPU has both).</summary>
    public static bool IsSupported => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// Pass 1 (<see cref="HierarchicalRnnFusedCpuStep.Pass1"/>) for any shape and any n (the last block masked); the
    /// driver uses it for shapes other than the default one and for the default shape's last partial block. The block's
    /// [8, K] and [8, P] state is read by vgatherdps (masked on the last block) and written back lane by lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // called a few times per step: tier-0 code would run the whole tensor unoptimised
    internal static void Pass1Generic(FusedWeights w, ReadOnlySpan<float> bias, FusedTensorData d, float* update, Span<double> sumH, Span<double> sumX, out double sumD2)
    {
        int k = w.K, p = w.P, ix = 3 * k, p3 = 3 * p;
        // Per-block SoA buffers: m, v [K], h [P] transposed in; x [I], pre [3P], r⊙h [P] are working registers/L1.
        var mb = stackalloc Vector256<float>[k];
        var vb = stackalloc Vector256<float>[k];
        var hb = stackalloc Vector256<float>[p];
        var xb = stackalloc Vector256<float>[ix];
        var pre = stackalloc Vector256<float>[p3];
        var rh = stackalloc Vector256<float>[p];
        var accH = stackalloc Vector256<float>[p];
        var accX = stackalloc Vector256<float>[ix];
        var accD = Vector256<float>.Zero;
        for (int j = 0; j < p; j++) accH[j] = Vector256<float>.Zero;
        for (int j = 0; j < ix; j++) accX[j] = Vector256<float>.Zero;
        var lane = stackalloc float[W];
        var eps = Vector256.Create((float)HierarchicalRnnUpdate.Epsilon);
        float maxLr = w.MaxLogLr;
        var invK = Vector256.Create(1f / k);
        var laneIndex = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var strideK = laneIndex * k; // gather offsets of one column of [8, K] and [8, P] blocks
        var strideP = laneIndex * p;
        long n = d.N;
        fixed (float* wx = w.WxT, wh = w.WhT, ow = w.OutW, ob = w.OutB, sc = w.Shortcut)
        fixed (float* bb = bias)
        {
            for (long start = 0; start < n; start += W)
            {
                int cnt = (int)Math.Min(W, n - start);
                bool full = cnt == W;
                var mask = full ? Vector256<float>.AllBitsSet : LaneMask(cnt);
                // Transpose the block in (padding lanes read as 0: every function below is finite there).
                for (int j = 0; j < k; j++)
                {
                    mb[j] = Gather(d.M + start * k + j, strideK, full, mask);
                    vb[j] = Gather(d.V + start * k + j, strideK, full, mask);
                }
                for (int j = 0; j < p; j++)
                    hb[j] = Gather(d.H + start * p + j, strideP, full, mask);
                var g = Load(d.Gradient + start, full, mask);
                var beta = Load(d.InputDecay + start, full, mask);
                var sigma = Load(d.ScaleDecay + start, full, mask);
                var logLr = Load(d.LogLr + start, full, mask);

                // Momentum at K timescales (β_{j+1} = √β_j), mean squares, asinh-scaled inputs, log mean squares.
                var lmsMean = Vector256<float>.Zero;
                for (int j = 0; j < k; j++)
                {
                    if (j > 0)
                        beta = Vector256.Sqrt(beta);
                    var m = Vector256.FusedMultiplyAdd(mb[j] - g, beta, g); // (m − g)·β + g = (1 − β)·g + β·m
                    var sq = m * m;
                    var v = d.FirstStep ? sq : Vector256.FusedMultiplyAdd(vb[j] - sq, sigma, sq); // σ·v + (1 − σ)·m²
                    mb[j] = m;
                    vb[j] = v;
                    var ve = v + eps;
                    xb[j] = Asinh(m / Vector256.Sqrt(ve));
                    var lms = Log(ve);
                    xb[2 * k - 1 + j] = lms;
                    lmsMean += lms;
                }
                lmsMean *= invK;
                for (int j = 0; j < k; j++)
                    xb[2 * k - 1 + j] -= lmsMean;
                for (int j = 0; j < k - 1; j++)
                    xb[k + j] = xb[j] * xb[j + 1];
                xb[3 * k - 1] = logLr - Vector256.Create(w.MeanLogLr);

                // Per-parameter GRU: pre = b + x·Wx (+ h·Wh for the gates). Column-outer, so that each accumulator stays in
                // a register and the weights are read as broadcast operands (transposed: [3P, I] and [3P, P]).
                for (int c = 0; c < p3; c++)
                {
                    var acc = Vector256.Create(bb[c]);
                    float* col = wx + c * ix;
                    for (int i = 0; i < ix; i++)
                        acc = Vector256.FusedMultiplyAdd(xb[i], Vector256.Create(col[i]), acc);
                    if (c < 2 * p)
                    {
                        float* hcol = wh + c * p;
                        for (int q = 0; q < p; q++)
                            acc = Vector256.FusedMultiplyAdd(hb[q], Vector256.Create(hcol[q]), acc);
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
                        acc = Vector256.FusedMultiplyAdd(rh[q], Vector256.Create(hcol[q]), acc);
                    pre[c] = acc;
                }
                var o0 = Vector256.Create(ob[0]);
                var o1 = Vector256.Create(ob[1]);
                var o2 = Vector256.Create(ob[2]);
                var o3 = Vector256.Create(ob[3]);
                for (int q = 0; q < p; q++)
                {
                    var cand = Tanh(pre[2 * p + q]);
                    var hn = Vector256.FusedMultiplyAdd(hb[q] - cand, pre[p + q], cand); // u⊙h + (1 − u)⊙c
                    hb[q] = hn;
                    accH[q] += full ? hn : hn & mask;
                    o0 = Vector256.FusedMultiplyAdd(hn, Vector256.Create(ow[q]), o0);
                    o1 = Vector256.FusedMultiplyAdd(hn, Vector256.Create(ow[p + q]), o1);
                    o2 = Vector256.FusedMultiplyAdd(hn, Vector256.Create(ow[2 * p + q]), o2);
                    o3 = Vector256.FusedMultiplyAdd(hn, Vector256.Create(ow[3 * p + q]), o3);
                }
                for (int i = 0; i < ix; i++)
                    accX[i] += full ? xb[i] : xb[i] & mask;
                var delta = o0;
                for (int j = 0; j < k; j++)
                    delta = Vector256.FusedMultiplyAdd(xb[j], Vector256.Create(sc[j]), delta);
                accD += full ? delta * delta : (delta * delta) & mask;
                var newSigma = Sigmoid(o1);
                var newBeta = Sigmoid(o2);
                var stepLr = Clamp(logLr + o3, Vector256.Create(-(float)HierarchicalRnnUpdate.MaxLogLearningRate), Vector256.Create(maxLr));
                var newLogLr = Vector256.FusedMultiplyAdd(stepLr - logLr, Vector256.Create(1f - w.LrMomentum), logLr);
                var u = Exp(stepLr + Vector256.Create(w.StepSizeOffset)) * delta;

                // Transpose the block out.
                for (int j = 0; j < k; j++)
                {
                    Scatter(mb[j], d.M + start * k + j, k, cnt, lane);
                    Scatter(vb[j], d.V + start * k + j, k, cnt, lane);
                }
                for (int j = 0; j < p; j++)
                    Scatter(hb[j], d.H + start * p + j, p, cnt, lane);
                Store(newSigma, d.ScaleDecay + start, full, mask);
                Store(newBeta, d.InputDecay + start, full, mask);
                Store(newLogLr, d.LogLr + start, full, mask);
                Store(u, update + start, full, mask);
            }
        }
        for (int j = 0; j < p; j++)
            sumH[j] = Sum(accH[j]);
        for (int j = 0; j < ix; j++)
            sumX[j] = Sum(accX[j]);
        sumD2 = Sum(accD);
    }

    /// <summary>
    /// Pass 1 for the default architecture (K = 4, P = 10, 12 inputs) on full 8-parameter blocks (n a multiple of 8; the
    /// driver runs the rest by <see cref="Pass1Generic"/>): the GRU's three 10-column matvecs run input-outer with ten
    /// accumulators in registers (independent FMA chains instead of one 22-long chain per column; ten of AVX2's sixteen
    /// registers); the block's [8, 10] GRU state is read and written as eight 8-value rows through an 8 × 8 transpose in
    /// registers (<see cref="Transpose8"/>) plus eight 2-value pairs through two shuffles (<see cref="Load8x10"/>,
    /// <see cref="Store8x10"/>), its [8, 4] momentum and mean squares as four 32-byte rows with 12 shuffles each way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Pass1Default(FusedWeights w, ReadOnlySpan<float> bias, FusedTensorData d, float* update, Span<double> sumH, Span<double> sumX, out double sumD2)
    {
        const int k = DefaultK, p = DefaultP, ix = DefaultI, ni = ix + p;
        var xh = stackalloc Vector256<float>[ni]; // x, then h (r⊙h for the candidate)
        var hb = stackalloc Vector256<float>[p];
        var pre = stackalloc Vector256<float>[3 * p];
        var accH = stackalloc Vector256<float>[p];
        var accX = stackalloc Vector256<float>[ix];
        for (int j = 0; j < p; j++) accH[j] = Vector256<float>.Zero;
        for (int j = 0; j < ix; j++) accX[j] = Vector256<float>.Zero;
        var accD = Vector256<float>.Zero;
        var hOut = stackalloc Vector256<float>[p]; // the new state (its first 8 overwritten by the rows on the way out)
        var mIn = stackalloc Vector256<float>[k];
        var vIn = stackalloc Vector256<float>[k];
        var mOut = stackalloc Vector256<float>[k];
        var vOut = stackalloc Vector256<float>[k];
        var eps = Vector256.Create((float)HierarchicalRnnUpdate.Epsilon);
        float maxLr = w.MaxLogLr;
        var invK = Vector256.Create(1f / k);
        long full = d.N / W * W; // = n (the driver passes full blocks only)
        bool first = d.FirstStep;
        fixed (float* gw = w.DefaultGates, ow = w.OutW, ob = w.OutB, sc = w.Shortcut)
        fixed (float* bb = bias)
        {
            for (long start = 0; start < full; start += W)
            {
                float* pm = d.M + start * k, pv = d.V + start * k, ph = d.H + start * p;
                var g = Vector256.Load(d.Gradient + start);
                var beta = Vector256.Load(d.InputDecay + start);
                var sigma = Vector256.Load(d.ScaleDecay + start);
                var logLr = Vector256.Load(d.LogLr + start);
                Load8x10(ph, hb);
                for (int j = 0; j < p; j++)
                    xh[ix + j] = hb[j];
                Load8x4(pm, mIn);
                if (!first)
                    Load8x4(pv, vIn);

                var lmsMean = Vector256<float>.Zero;
                for (int j = 0; j < k; j++)
                {
                    if (j > 0)
                        beta = Vector256.Sqrt(beta);
                    var m = Vector256.FusedMultiplyAdd(mIn[j] - g, beta, g);
                    var sq = m * m;
                    var v = first ? sq : Vector256.FusedMultiplyAdd(vIn[j] - sq, sigma, sq);
                    mOut[j] = m;
                    vOut[j] = v;
                    var ve = v + eps;
                    xh[j] = Asinh(m / Vector256.Sqrt(ve));
                    var lms = Log(ve);
                    xh[2 * k - 1 + j] = lms;
                    lmsMean += lms;
                }
                Store8x4(mOut, pm);
                Store8x4(vOut, pv);
                lmsMean *= invK;
                for (int j = 0; j < k; j++)
                    xh[2 * k - 1 + j] -= lmsMean;
                for (int j = 0; j < k - 1; j++)
                    xh[k + j] = xh[j] * xh[j + 1];
                xh[3 * k - 1] = logLr - Vector256.Create(w.MeanLogLr);

                Gate10(xh, ni, gw, bb, pre);                       // reset
                Gate10(xh, ni, gw + ni * p, bb + p, pre + p);      // update
                for (int q = 0; q < 2 * p; q++)
                    pre[q] = Sigmoid(pre[q]);
                for (int q = 0; q < p; q++)
                    xh[ix + q] = pre[q] * hb[q];
                Gate10(xh, ni, gw + 2 * ni * p, bb + 2 * p, pre + 2 * p); // candidate: x·Wx + (r⊙h)·Wh

                var o0 = Vector256.Create(ob[0]);
                var o1 = Vector256.Create(ob[1]);
                var o2 = Vector256.Create(ob[2]);
                var o3 = Vector256.Create(ob[3]);
                for (int q = 0; q < p; q++)
                {
                    var cand = Tanh(pre[2 * p + q]);
                    var hn = Vector256.FusedMultiplyAdd(hb[q] - cand, pre[p + q], cand);
                    accH[q] += hn;
                    o0 = Vector256.FusedMultiplyAdd(hn, Vector256.Create(ow[q]), o0);
                    o1 = Vector256.FusedMultiplyAdd(hn, Vector256.Create(ow[p + q]), o1);
                    o2 = Vector256.FusedMultiplyAdd(hn, Vector256.Create(ow[2 * p + q]), o2);
                    o3 = Vector256.FusedMultiplyAdd(hn, Vector256.Create(ow[3 * p + q]), o3);
                    hOut[q] = hn;
                }
                Store8x10(hOut, ph);
                for (int i = 0; i < ix; i++)
                    accX[i] += xh[i];
                var delta = o0;
                for (int j = 0; j < k; j++)
                    delta = Vector256.FusedMultiplyAdd(xh[j], Vector256.Create(sc[j]), delta);
                accD = Vector256.FusedMultiplyAdd(delta, delta, accD);
                var stepLr = Clamp(logLr + o3, Vector256.Create(-(float)HierarchicalRnnUpdate.MaxLogLearningRate), Vector256.Create(maxLr));
                Vector256.Store(Sigmoid(o1), d.ScaleDecay + start);
                Vector256.Store(Sigmoid(o2), d.InputDecay + start);
                Vector256.Store(Vector256.FusedMultiplyAdd(stepLr - logLr, Vector256.Create(1f - w.LrMomentum), logLr), d.LogLr + start);
                Vector256.Store(Exp(stepLr + Vector256.Create(w.StepSizeOffset)) * delta, update + start);
            }
        }
        for (int j = 0; j < p; j++)
            sumH[j] = Sum(accH[j]);
        for (int j = 0; j < ix; j++)
            sumX[j] = Sum(accX[j]);
        sumD2 = Sum(accD);
    }

    /// <summary>
    /// Reads the row-major [8, 10] block at src as ten column vectors c[q] (8 parameters each): columns 0–7 by eight
    /// 32-byte row loads and an 8 × 8 transpose; columns 8–9 by eight 8-byte pair loads (two rows per 128-bit half, joined
    /// by vinsertf128) and two shuffles. Reads exactly the block's 80 floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load8x10(float* src, Vector256<float>* c)
    {
        const int p = DefaultP;
        Transpose8(Vector256.Load(src), Vector256.Load(src + p), Vector256.Load(src + 2 * p), Vector256.Load(src + 3 * p),
            Vector256.Load(src + 4 * p), Vector256.Load(src + 5 * p), Vector256.Load(src + 6 * p), Vector256.Load(src + 7 * p), c);
        var ab = Sse2.LoadHigh(Sse2.LoadScalarVector128((double*)(src + 8)), (double*)(src + p + 8)).AsSingle();              // a8 a9 b8 b9
        var cd = Sse2.LoadHigh(Sse2.LoadScalarVector128((double*)(src + 2 * p + 8)), (double*)(src + 3 * p + 8)).AsSingle();
        var ef = Sse2.LoadHigh(Sse2.LoadScalarVector128((double*)(src + 4 * p + 8)), (double*)(src + 5 * p + 8)).AsSingle();
        var gh = Sse2.LoadHigh(Sse2.LoadScalarVector128((double*)(src + 6 * p + 8)), (double*)(src + 7 * p + 8)).AsSingle();
        var abef = Vector256.Create(ab, ef); // a8 a9 b8 b9 | e8 e9 f8 f9
        var cdgh = Vector256.Create(cd, gh);
        c[8] = Avx.Shuffle(abef, cdgh, 0x88); // a8 b8 c8 d8 | e8 f8 g8 h8
        c[9] = Avx.Shuffle(abef, cdgh, 0xDD); // a9 b9 c9 d9 | e9 f9 g9 h9
    }

    /// <summary>
    /// Writes ten column vectors c[q] (8 parameters each) as the row-major [8, 10] block at dst: the inverse of
    /// <see cref="Load8x10"/> (an 8 × 8 transpose and eight 32-byte row stores; two unpacks and eight 8-byte pair stores).
    /// Writes exactly the block's 80 floats; overwrites c[0..7] with the rows (no stack buffer, so that it inlines).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store8x10(Vector256<float>* c, float* dst)
    {
        const int p = DefaultP;
        Transpose8(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c);
        for (int l = 0; l < W; l++)
            Vector256.Store(c[l], dst + l * p);
        var lo = Avx.UnpackLow(c[8], c[9]).AsDouble();  // a8 a9 b8 b9 | e8 e9 f8 f9
        var hi = Avx.UnpackHigh(c[8], c[9]).AsDouble(); // c8 c9 d8 d9 | g8 g9 h8 h9
        Sse2.StoreLow((double*)(dst + 8), lo.GetLower());
        Sse2.StoreHigh((double*)(dst + p + 8), lo.GetLower());
        Sse2.StoreLow((double*)(dst + 2 * p + 8), hi.GetLower());
        Sse2.StoreHigh((double*)(dst + 3 * p + 8), hi.GetLower());
        Sse2.StoreLow((double*)(dst + 4 * p + 8), lo.GetUpper());
        Sse2.StoreHigh((double*)(dst + 5 * p + 8), lo.GetUpper());
        Sse2.StoreLow((double*)(dst + 6 * p + 8), hi.GetUpper());
        Sse2.StoreHigh((double*)(dst + 7 * p + 8), hi.GetUpper());
    }

    /// <summary>
    /// Reads the row-major [8, 4] block at src (four 32-byte rows of two parameters each) as four column vectors c[j]:
    /// 128-bit block permutes pair parameter a with a + 4, then an in-lane 4 × 4 transpose (unpacks and shuffles).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load8x4(float* src, Vector256<float>* c)
    {
        Vector256<float> r0 = Vector256.Load(src), r1 = Vector256.Load(src + 8), r2 = Vector256.Load(src + 16), r3 = Vector256.Load(src + 24);
        var t0 = Avx.Permute2x128(r0, r2, 0x20); // p0 | p4
        var t1 = Avx.Permute2x128(r0, r2, 0x31); // p1 | p5
        var t2 = Avx.Permute2x128(r1, r3, 0x20); // p2 | p6
        var t3 = Avx.Permute2x128(r1, r3, 0x31); // p3 | p7
        var u0 = Avx.UnpackLow(t0, t1);  // p0c0 p1c0 p0c1 p1c1 | p4c0 p5c0 p4c1 p5c1
        var u1 = Avx.UnpackHigh(t0, t1); // p0c2 p1c2 p0c3 p1c3 | …
        var u2 = Avx.UnpackLow(t2, t3);  // p2c0 p3c0 p2c1 p3c1 | …
        var u3 = Avx.UnpackHigh(t2, t3);
        c[0] = Avx.Shuffle(u0, u2, 0x44); // p0c0 p1c0 p2c0 p3c0 | p4c0 … p7c0
        c[1] = Avx.Shuffle(u0, u2, 0xEE);
        c[2] = Avx.Shuffle(u1, u3, 0x44);
        c[3] = Avx.Shuffle(u1, u3, 0xEE);
    }

    /// <summary>Writes four column vectors c[j] as the row-major [8, 4] block at dst: the inverse of <see cref="Load8x4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store8x4(Vector256<float>* c, float* dst)
    {
        var u0 = Avx.UnpackLow(c[0], c[1]);  // p0c0 p0c1 p1c0 p1c1 | p4 p5
        var u1 = Avx.UnpackHigh(c[0], c[1]); // p2c0 p2c1 p3c0 p3c1 | p6 p7
        var u2 = Avx.UnpackLow(c[2], c[3]);  // p0c2 p0c3 p1c2 p1c3 | p4 p5
        var u3 = Avx.UnpackHigh(c[2], c[3]);
        var t0 = Avx.Shuffle(u0, u2, 0x44); // p0 | p4
        var t1 = Avx.Shuffle(u0, u2, 0xEE); // p1 | p5
        var t2 = Avx.Shuffle(u1, u3, 0x44); // p2 | p6
        var t3 = Avx.Shuffle(u1, u3, 0xEE); // p3 | p7
        Vector256.Store(Avx.Permute2x128(t0, t1, 0x20), dst);
        Vector256.Store(Avx.Permute2x128(t2, t3, 0x20), dst + 8);
        Vector256.Store(Avx.Permute2x128(t0, t1, 0x31), dst + 16);
        Vector256.Store(Avx.Permute2x128(t2, t3, 0x31), dst + 24);
    }

    /// <summary>
    /// dst[j][i] = r_i[j] for an 8 × 8 float32 matrix given as 8 row vectors: in-lane unpacks, in-lane shuffles, then
    /// 128-bit block permutes (24 shuffles; exact: values are only moved).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, Vector256<float>* dst)
    {
        var t0 = Avx.UnpackLow(r0, r1);  // r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]
        var t1 = Avx.UnpackHigh(r0, r1); // r0[2] r1[2] r0[3] r1[3] | r0[6] …
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); // column 0 | column 4 of rows 0–3
        var u1 = Avx.Shuffle(t0, t2, 0xEE); // column 1 | 5
        var u2 = Avx.Shuffle(t1, t3, 0x44); // column 2 | 6
        var u3 = Avx.Shuffle(t1, t3, 0xEE); // column 3 | 7
        var u4 = Avx.Shuffle(t4, t6, 0x44); // the same of rows 4–7
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        dst[0] = Avx.Permute2x128(u0, u4, 0x20);
        dst[4] = Avx.Permute2x128(u0, u4, 0x31);
        dst[1] = Avx.Permute2x128(u1, u5, 0x20);
        dst[5] = Avx.Permute2x128(u1, u5, 0x31);
        dst[2] = Avx.Permute2x128(u2, u6, 0x20);
        dst[6] = Avx.Permute2x128(u2, u6, 0x31);
        dst[3] = Avx.Permute2x128(u3, u7, 0x20);
        dst[7] = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>
    /// out[j] = b[j] + Σ_i in[i]·wg[i, j] for ten columns j, the accumulators in registers (each weight a vbroadcastss).
    /// Not inlined, on purpose: inlined into <see cref="Pass1Default"/>, the third call (the candidate) kept six of its
    /// ten accumulators on the stack (AVX2 has 16 vector registers and the outer loop's invariants held the rest), a load
    /// and store per FMA; as a call it has all 16 (`--fused-only 100000`, alternated: 7.7–10.4 ms against 11.1–12.3 ms).
    /// Pre-broadcast weights (an FMA memory operand instead of vbroadcastss) were not faster.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Gate10(Vector256<float>* inp, int nIn, float* wg, float* b, Vector256<float>* outp)
    {
        Vector256<float> a0 = Vector256.Create(b[0]), a1 = Vector256.Create(b[1]), a2 = Vector256.Create(b[2]), a3 = Vector256.Create(b[3]),
            a4 = Vector256.Create(b[4]), a5 = Vector256.Create(b[5]), a6 = Vector256.Create(b[6]), a7 = Vector256.Create(b[7]),
            a8 = Vector256.Create(b[8]), a9 = Vector256.Create(b[9]);
        for (int i = 0; i < nIn; i++, wg += DefaultP)
        {
            var x = inp[i];
            a0 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[0]), a0);
            a1 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[1]), a1);
            a2 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[2]), a2);
            a3 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[3]), a3);
            a4 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[4]), a4);
            a5 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[5]), a5);
            a6 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[6]), a6);
            a7 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[7]), a7);
            a8 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[8]), a8);
            a9 = Vector256.FusedMultiplyAdd(x, Vector256.Create(wg[9]), a9);
        }
        outp[0] = a0; outp[1] = a1; outp[2] = a2; outp[3] = a3; outp[4] = a4;
        outp[5] = a5; outp[6] = a6; outp[7] = a7; outp[8] = a8; outp[9] = a9;
    }

    /// <summary>Pass 2: θ ← θ − scale·update.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Pass2(float* theta, float* update, long n, float scale)
    {
        var s = Vector256.Create(scale);
        long i = 0;
        for (; i + W <= n; i += W)
            Vector256.Store(Vector256.Load(theta + i) - Vector256.Load(update + i) * s, theta + i);
        for (; i < n; i++)
            theta[i] -= update[i] * scale;
    }

    /// <summary>
    /// e^x in float32: the Cephes expf of <see cref="HierarchicalRnnFusedKernel512.Exp"/> (x = n·ln 2 + r, |r| ≤ ln 2 / 2,
    /// degree-5 polynomial; relative error ~1e-7; x clamped to [−87.3, 88]), with 2ⁿ built from the integer n the
    /// rounding shifter leaves in the low mantissa bits (<see cref="Pow2FromShifted"/>) instead of vscalefps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        x = Clamp(x, Vector256.Create(-87.3f), Vector256.Create(88f));
        var shifter = Vector256.Create(Shifter); // 1.5·2^23: adding it rounds to an integer in the low mantissa bits
        var t = Vector256.FusedMultiplyAdd(x, Vector256.Create(1.44269504088896341f), shifter);
        var n = t - shifter;
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500E-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507E-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073E-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894E-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459E-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201E-1f));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        return p * Pow2FromShifted(t); // p·2ⁿ, n ∈ [−126, 127] after the clamp
    }

    private const float Shifter = 12582912f; // 1.5·2^23 (bits 0x4B400000)

    /// <summary>
    /// 2ⁿ for t = n + 1.5·2^23 (|n| &lt; 2^22, so n sits in t's low mantissa bits): the float with biased exponent n + 127,
    /// i.e. (bits(t) − bits(1.5·2^23) + 127) &lt;&lt; 23 (two integer instructions; exact for n ∈ [−126, 127], 0 for n = −127).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pow2FromShifted(Vector256<float> t) =>
        Avx2.ShiftLeftLogical(t.AsInt32() + Vector256.Create(127 - 0x4B400000), 23).AsSingle();

    /// <summary>
    /// ln x in float32 for positive normal x: the form of <see cref="HierarchicalRnnFusedKernel512.Log"/> (x = 2^e·m with
    /// m ∈ [0.75, 1.5), ln m = f − f²/2 + f³·Q(f), f = m − 1, Q the same degree-6 minimax fit), with e and m from the bits
    /// instead of vgetexp / vgetmant: b = bits(x) − bits(0.75), e = b &gt;&gt; 23 (arithmetic), m = the float with mantissa
    /// b's and exponent 0.75's (the same e and m as vgetmantps' [0.75, 1.5) interval, so the same values).
    /// The kernel calls it on v + ε ≥ 1e-16 and on values ≥ 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        var b = x.AsInt32() - Vector256.Create(0x3F400000);
        var e = Avx.ConvertToVector256Single(Avx2.ShiftRightArithmetic(b, 23));           // ⌊log₂ x⌋ + (mantissa ≥ 1.5 ? 1 : 0)
        var m = ((b & Vector256.Create(0x007FFFFF)) + Vector256.Create(0x3F400000)).AsSingle(); // [0.75, 1.5)
        var f = m - Vector256<float>.One;
        var z = f * f;
        var q = Vector256.Create(0.05559784546494484f);
        q = Vector256.FusedMultiplyAdd(q, f, Vector256.Create(-0.12114255875349045f));
        q = Vector256.FusedMultiplyAdd(q, f, Vector256.Create(0.14904502034187317f));
        q = Vector256.FusedMultiplyAdd(q, f, Vector256.Create(-0.16788819432258606f));
        q = Vector256.FusedMultiplyAdd(q, f, Vector256.Create(0.19982315599918365f));
        q = Vector256.FusedMultiplyAdd(q, f, Vector256.Create(-0.24996359646320343f));
        q = Vector256.FusedMultiplyAdd(q, f, Vector256.Create(0.33333471417427063f));
        var y = Vector256.FusedMultiplyAdd(z * f, q, Vector256.FusedMultiplyAdd(z, Vector256.Create(-0.5f), f));
        return Vector256.FusedMultiplyAdd(e, Vector256.Create(0.693147180559945f), y);
    }

    /// <summary>
    /// 2^(x·c) without rounding x·c first, as <see cref="HierarchicalRnnFusedKernel512"/>'s Pow2Of: n = round(x·c) by the
    /// shifter (one FMA: x·c + 1.5·2^23 rounds the exact product to the nearest integer), f = x·c − n ∈ [−½, ½] by one
    /// FMA, 2^f by the same degree-5 minimax polynomial, 2ⁿ by <see cref="Pow2FromShifted"/>. The caller keeps |x·c| ≤ 127.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pow2Of(Vector256<float> x, Vector256<float> c)
    {
        var shifter = Vector256.Create(Shifter);
        var t = Vector256.FusedMultiplyAdd(x, c, shifter);
        var n = t - shifter;
        var f = Fma.MultiplySubtract(x, c, n); // x·c − n, one rounding
        var p = Vector256.Create(0.0013276487588882446f);
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(0.009675546549260616f));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(0.05550713092088699f));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(0.24022120237350464f));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(0.6931469440460205f));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(1.0000001192092896f));
        return p * Pow2FromShifted(t);
    }

    /// <summary>
    /// σ(x) = 1 / (1 + e^−x), e^−x = 2^(−x·log₂e) by <see cref="Pow2Of"/> (x clamped to ±87, where σ is 1.6e-38 or 1),
    /// the reciprocal by vdivps (correctly rounded).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) =>
        Vector256<float>.One / (Vector256<float>.One + Pow2Of(Clamp(x, Vector256.Create(-87f), Vector256.Create(87f)), Vector256.Create(-1.44269504088896341f)));

    /// <summary>
    /// tanh(x) = 1 − 2 / (e^{2x} + 1), e^{2x} by <see cref="Pow2Of"/> (x clamped to ±44, where tanh is ±1 in float32), the
    /// quotient by vdivps. Near 0 the error is absolute (~1e-7), not relative, as in the 512-bit kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x) =>
        Vector256<float>.One - Vector256.Create(2f)
            / (Pow2Of(Clamp(x, Vector256.Create(-44f), Vector256.Create(44f)), Vector256.Create(2.88539008177792682f)) + Vector256<float>.One);

    /// <summary>asinh(z) = sign(z)·log(|z| + √(z² + 1)), as the libtorch path computes it; log(2|z|) above 1e10 (z² would overflow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Asinh(Vector256<float> z)
    {
        var a = Vector256.Abs(z);
        var t = Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256.Create(1e10f)), a + a,
            a + Vector256.Sqrt(Vector256.FusedMultiplyAdd(a, a, Vector256<float>.One)));
        var r = Log(t);
        return Vector256.CopySign(r, z);
    }

    /// <summary>min(max(x, lo), hi) by vmaxps / vminps (no NaN handling: the kernel's values are finite).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Clamp(Vector256<float> x, Vector256<float> lo, Vector256<float> hi) => Avx.Min(Avx.Max(x, lo), hi);

    /// <summary>The vectorised functions on a span (tests and the benchmark; the last block padded with its last value).</summary>
    internal static void Evaluate(HierarchicalRnnFusedCpuStep.Function f, ReadOnlySpan<float> x, Span<float> y)
    {
        var lanes = stackalloc float[W];
        for (int b = 0; b < x.Length; b += W)
        {
            for (int j = 0; j < W; j++)
                lanes[j] = x[Math.Min(b + j, x.Length - 1)];
            var v = Vector256.Load(lanes);
            var r = f switch
            {
                HierarchicalRnnFusedCpuStep.Function.Sigmoid => Sigmoid(v),
                HierarchicalRnnFusedCpuStep.Function.Tanh => Tanh(v),
                HierarchicalRnnFusedCpuStep.Function.Asinh => Asinh(v),
                HierarchicalRnnFusedCpuStep.Function.Log => Log(v),
                HierarchicalRnnFusedCpuStep.Function.Exp => Exp(v),
                _ => throw new ArgumentOutOfRangeException(nameof(f)),
            };
            Vector256.Store(r, lanes);
            for (int j = 0; j < W && b + j < x.Length; j++)
                y[b + j] = lanes[j];
        }
    }

    /// <summary>All bits set in lanes [0, cnt) (vmaskmovps and vgatherdps read the sign bit).</summary>
    private static Vector256<float> LaneMask(int cnt) =>
        Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(cnt)).AsSingle();

    private static double Sum(Vector256<float> v)
    {
        double s = 0;
        for (int i = 0; i < W; i++)
            s += v.GetElement(i);
        return s;
    }

    /// <summary>8 contiguous floats, or the first cnt of them (masked: the others read as 0, no access past the tensor).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load(float* src, bool full, Vector256<float> mask) =>
        full ? Vector256.Load(src) : Avx.MaskLoad(src, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> v, float* dst, bool full, Vector256<float> mask)
    {
        if (full)
            Vector256.Store(v, dst);
        else
            Avx.MaskStore(dst, mask, v);
    }

    /// <summary>src[offsets[i]] for the lanes in the mask (vgatherdps; the others 0, not read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Gather(float* src, Vector256<int> offsets, bool full, Vector256<float> mask) =>
        full ? Avx2.GatherVector256(src, offsets, 4) : Avx2.GatherMaskVector256(Vector256<float>.Zero, src, offsets, mask, 4);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scatter(Vector256<float> v, float* dst, int stride, int cnt, float* lane)
    {
        Vector256.Store(v, lane);
        for (int i = 0; i < cnt; i++)
            dst[(long)i * stride] = lane[i];
    }
}
