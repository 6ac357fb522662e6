using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Components.Trainers.LearnedOptimizer.Fused;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer;

/// <summary>
/// The optimizer's fast path: the same math as <see cref="HierarchicalRnnUpdate.Step"/> under no_grad, written for
/// speed. It updates the state tensors and the parameters in place; the per-parameter GRU's input and state matmuls are
/// one GEMM over [x, h] (the candidate's (r⊙h)·Wh a second), computed transposed so that the gate, candidate and output
/// rows are contiguous and every element-wise kernel vectorises (strided views ran 3–10× slower); the four per-parameter
/// outputs (direction, two decays, log-lr change) are one GEMM; the features are written into one preallocated tensor
/// instead of concatenated; asinh is computed from log and sqrt (libtorch's asinh did not vectorise: 30 ns per element). <see cref="HierarchicalRnnUpdate.Step"/> stays the definition (meta-training differentiates it); a test
/// checks that both give the same trajectory and state.
/// </summary>
internal static class HierarchicalRnnInPlaceStep
{

    /// <summary>
    /// One step on <paramref name="parameters"/> (θ ← θ − update for each tensor with a gradient), updating
    /// <paramref name="state"/> in place. Call under no_grad inside a dispose scope. <paramref name="fusedKernel"/>: the
    /// fused kernel variant for float32 CPU tensors (<see cref="FusedCpuKernel.None"/>: the libtorch path for all).
    /// </summary>
    public static void Apply(HierarchicalRnnMetaParameters meta, IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor?> gradients, HierarchicalRnnState state, FusedCpuKernel fusedKernel,
        double maxLogLearningRate = HierarchicalRnnUpdate.MaxLogLearningRate, Scratch? scratch = null)
    {
        var a = meta.Architecture;
        int k = a.GradientScales;
        long p = a.ParameterCellSize;
        var dtype = meta.ParameterInit.dtype;
        var device = state.GlobalHidden.device;

        // Problem-wide mean log learning rate (old values), and the biases fed down from the old global state.
        Tensor sumLogLr = zeros(1, dtype, device);
        long total = 0;
        foreach (var s in state.Tensors)
        {
            sumLogLr.add_(s.LogLearningRate.sum());
            total += s.LogLearningRate.numel();
        }
        var meanLogLr = sumLogLr.div_(Math.Max(1, total));
        var global = state.GlobalHidden;
        var (pgW, pgB) = meta.ParameterBiasFromGlobal;
        var (tgW, tgB) = meta.TensorBiasFromGlobal;
        var (ptW, ptB) = meta.ParameterBiasFromTensor;
        var (gWx, gWh, gB) = meta.ParameterGru;
        var paramBiasFromGlobal = AddMm(pgB, global, pgW).add_(gB).add_(ptB); // [1, 3P]: every per-tensor-independent bias
        var tensorBiasFromGlobal = AddMm(tgB, global, tgW);
        var lrMomentum = meta.LearningRateMomentumLogit.sigmoid();
        var oneMinusLrMomentum = 1 - lrMomentum;
        // One GEMM for the GRU's input and state: [x, h]·[[Wx_gates, Wx_c], [Wh_gates, 0]], computed transposed ([3P, n],
        // feature-major) so that every gate, candidate and output row below is contiguous and the element-wise kernels vectorise.
        long ix = a.InputSize;
        // (Built on first use: a step whose tensors all take the fused kernel needs none of them.)
        Tensor? wCatT = null, whCandidateT = null;
        // The four per-parameter output projections as one [4, P] matrix: direction, scale decay, input decay, log-lr change.
        var outWT = stack([meta.UpdateWeights, meta.ScaleDecay.W, meta.InputDecay.W, meta.LearningRateChange.W], 0);
        var outB = cat([zeros(1, dtype, device), meta.ScaleDecay.B, meta.InputDecay.B, meta.LearningRateChange.B]).unsqueeze(1);
        var shortcut = meta.ShortcutWeights;
        void BuildLibtorchMatrices()
        {
            if (wCatT is not null)
                return;
            wCatT = cat([gWx, cat([gWh.narrow(1, 0, 2 * p), zeros(p, p, dtype, device)], 1)], 0).t().contiguous().MoveToOuterDisposeScope(); // [3P, I + P]
            whCandidateT = gWh.narrow(1, 2 * p, p).t().contiguous().MoveToOuterDisposeScope(); // [P, P]
        }
        bool fusedDtype = fusedKernel != FusedCpuKernel.None && dtype == ScalarType.Float32 && device.type == DeviceType.CPU;
        FusedWeights? fusedWeights = null;

        for (int i = 0; i < state.Tensors.Length; i++)
        {
            if (gradients[i] is not { } gradient)
                continue;
            var s = state.Tensors[i];
            using var scope = NewDisposeScope();
            if (fusedDtype && FusedApplies(parameters[i], s))
            {
                fusedWeights ??= new FusedWeights
                {
                    K = k, P = (int)p,
                    WxT = Floats(gWx.t()), WhT = Floats(gWh.t()), OutW = Floats(outWT), OutB = Floats(outB), Shortcut = Floats(shortcut),
                    StepSizeOffset = meta.StepSizeOffset.item<float>(), LrMomentum = lrMomentum.item<float>(), MeanLogLr = meanLogLr.item<float>(),
                    MaxLogLr = (float)maxLogLearningRate,
                };
                ApplyFused(meta, fusedKernel, fusedWeights, parameters[i], gradient, s, AddMm(paramBiasFromGlobal, s.TensorHidden, ptW), tensorBiasFromGlobal, scratch);
                continue;
            }
            long n = s.LogLearningRate.numel();
            BuildLibtorchMatrices();

            // Everything per parameter runs feature-major ([features, n]): the state's [n, K] and [n, P] layouts (inner
            // size 4 or 10) keep libtorch's element-wise kernels from vectorising, so they are transposed once in and out.
            var g = gradient.reshape(1, -1).to(dtype);
            var m = empty(k, n, dtype, device).copy_(s.GradientAccumulators.t()); // a copy: for n = 1, t().contiguous() would alias the state
            var v = empty(k, n, dtype, device).copy_(s.MeanSquares.t());

            // Momentum at K timescales (β_{j+1} = √β_j), then the mean squares (the first step sets v = m²).
            var betaRows = new Tensor[k];
            betaRows[0] = s.InputDecay;
            for (int j = 1; j < k; j++)
                betaRows[j] = betaRows[j - 1].sqrt();
            var beta = stack(betaRows, 0);
            m.sub_(g).mul_(beta).add_(g); // (1 − β)·g + β·m
            var mSquared = m.square();
            if (s.Steps == 0)
                v.copy_(mSquared);
            else
                v.sub_(mSquared).mul_(s.ScaleDecay.unsqueeze(0)).add_(mSquared); // σ·v + (1 − σ)·m²
            s.GradientAccumulators.copy_(m.t());
            s.MeanSquares.copy_(v.t());

            // Features into xh = [x; h] ([I + P, n]): scaled gradients, adjacent products, relative log mean squares,
            // relative log learning rate, then the GRU state. asinh(z) = sign(z)·log(|z| + √(z² + 1)) (libtorch's asinh
            // does not vectorise).
            var h = s.ParameterHidden;
            var xh = empty(ix + p, n, dtype, device);
            var rms = v.add_(HierarchicalRnnUpdate.Epsilon).sqrt_();
            var z = m.div_(rms);
            var absZ = z.abs();
            var scaled = xh.narrow(0, 0, k);
            scaled.copy_(absZ).mul_(absZ).add_(1).sqrt_().add_(absZ).log_().mul_(z.sign_());
            xh.narrow(0, k, k - 1).copy_(scaled.narrow(0, 0, k - 1)).mul_(scaled.narrow(0, 1, k - 1));
            var logMs = xh.narrow(0, 2 * k - 1, k);
            logMs.copy_(rms).log_().mul_(2); // log(v + ε) = 2·log √(v + ε)
            logMs.sub_(logMs.mean([0], keepdim: true));
            xh[3 * k - 1].copy_(s.LogLearningRate).sub_(meanLogLr);
            var hT = xh.narrow(0, ix, p);
            hT.copy_(h.t());
            var x = xh.narrow(0, 0, ix);

            // Per-parameter GRU, feature-major: pre = Wcatᵀ·[x, h]ᵀ + bias ([3P, n]).
            var bias = AddMm(paramBiasFromGlobal, s.TensorHidden, ptW).t(); // [3P, 1]
            var pre = wCatT!.mm(xh).add_(bias);
            var gates = pre.narrow(0, 0, 2 * p).sigmoid_();
            var reset = gates.narrow(0, 0, p);
            var keep = gates.narrow(0, p, p);
            var candidate = pre.narrow(0, 2 * p, p).add_(whCandidateT!.mm(reset.mul(hT))).tanh_();
            hT.sub_(candidate).mul_(keep).add_(candidate); // h' = u⊙h + (1 − u)⊙c
            h.copy_(hT.t());

            // Per-tensor GRU on the mean of [h', x] (old tensor state), before the tensor state changes.
            var tensorInput = xh.mean([1]).unsqueeze(0); // [h', x] order: the GRU state's rows come first below
            tensorInput = cat([tensorInput.narrow(1, ix, p), tensorInput.narrow(1, 0, ix)], 1);
            var tensorHidden = Gru(tensorInput, s.TensorHidden, meta.TensorGru, tensorBiasFromGlobal);

            // Outputs ([4, n]): one GEMM for the four projections, plus the gradient shortcut on the direction.
            var outputs = outWT.mm(hT).add_(outB);
            var direction = outputs[0].add_(shortcut.matmul(scaled));
            var inverseRms = direction.square().mean().add_(HierarchicalRnnUpdate.Epsilon).rsqrt_();
            s.ScaleDecay.copy_(outputs[1]).sigmoid_();
            s.InputDecay.copy_(outputs[2]).sigmoid_();
            var stepLogLr = outputs[3].add_(s.LogLearningRate)
                .clamp_(-HierarchicalRnnUpdate.MaxLogLearningRate, maxLogLearningRate);
            s.LogLearningRate.lerp_(stepLogLr, oneMinusLrMomentum);
            var update = stepLogLr.add_(meta.StepSizeOffset).exp_().mul_(direction).mul_(inverseRms);
            var parameter = parameters[i];
            parameter.sub_(update.view(parameter.shape).to(parameter.dtype));
            s.TensorHidden.copy_(tensorHidden);
            s.Steps++;
        }

        // Global GRU on the mean of the (new) tensor states.
        using (var scope = NewDisposeScope())
        {
            var globalInput = cat([.. state.Tensors.Select(t => t.TensorHidden)], 0).mean([0], keepdim: true);
            global.copy_(Gru(globalInput, global, meta.GlobalGru, null));
        }
    }

    /// <summary>Whether the fused CPU kernel can step this tensor: float32, contiguous parameter and state.</summary>
    private static bool FusedApplies(Parameter parameter, HierarchicalRnnTensorState s) =>
        parameter.dtype == ScalarType.Float32 && parameter.device_type == DeviceType.CPU && parameter.is_contiguous()
        && s.ParameterHidden.is_contiguous() && s.GradientAccumulators.is_contiguous() && s.MeanSquares.is_contiguous()
        && s.InputDecay.is_contiguous() && s.ScaleDecay.is_contiguous() && s.LogLearningRate.is_contiguous();

    private static float[] Floats(Tensor t) => t.detach().contiguous().data<float>().ToArray();

    /// <summary>One tensor's step with <see cref="HierarchicalRnnFusedCpuStep"/>: pass 1, the tensor GRU on the sums, pass 2.</summary>
    private static unsafe void ApplyFused(HierarchicalRnnMetaParameters meta, FusedCpuKernel kernel, FusedWeights w, Parameter parameter, Tensor gradient,
        HierarchicalRnnTensorState s, Tensor bias, Tensor tensorBiasFromGlobal, Scratch? scratch)
    {
        long n = s.LogLearningRate.numel();
        int ix = 3 * w.K;
        var g = gradient.reshape(-1).to(ScalarType.Float32).contiguous();
        // The update buffer between the passes: the caller's reused one (a fresh 4n bytes every step costs page faults), else a tensor.
        float* updatePointer = scratch is not null ? scratch.Get(n) : HierarchicalRnnFusedCpuStep.Pointer(empty(n, ScalarType.Float32));
        var d = new FusedTensorData
        {
            N = n,
            Gradient = HierarchicalRnnFusedCpuStep.Pointer(g),
            Theta = HierarchicalRnnFusedCpuStep.Pointer(parameter),
            M = HierarchicalRnnFusedCpuStep.Pointer(s.GradientAccumulators),
            V = HierarchicalRnnFusedCpuStep.Pointer(s.MeanSquares),
            H = HierarchicalRnnFusedCpuStep.Pointer(s.ParameterHidden),
            InputDecay = HierarchicalRnnFusedCpuStep.Pointer(s.InputDecay),
            ScaleDecay = HierarchicalRnnFusedCpuStep.Pointer(s.ScaleDecay),
            LogLr = HierarchicalRnnFusedCpuStep.Pointer(s.LogLearningRate),
            FirstStep = s.Steps == 0,
        };
        var sums = new double[w.P + ix];
        HierarchicalRnnFusedCpuStep.Pass1(kernel, w, Floats(bias), d, updatePointer, sums.AsSpan(0, w.P), sums.AsSpan(w.P), out double sumD2);
        // Per-tensor GRU on the mean of [h', x] (old tensor state): in C# on the weights' memory where they are contiguous
        // (a 20-unit GRU is about 2,600 multiply-adds; its 16 libtorch calls cost more than that), else libtorch's.
        var (tWx, tWh, tB) = meta.TensorGru;
        Tensor? tensorHidden = null;
        var mean = new float[w.P + ix];
        for (int j = 0; j < mean.Length; j++)
            mean[j] = (float)(sums[j] / n);
        if (Contiguous(tWx) && Contiguous(tWh) && Contiguous(tB) && Contiguous(tensorBiasFromGlobal) && Contiguous(s.TensorHidden))
            SmallGru(mean, HierarchicalRnnFusedCpuStep.Pointer(s.TensorHidden), (int)s.TensorHidden.shape[1], HierarchicalRnnFusedCpuStep.Pointer(tWx),
                HierarchicalRnnFusedCpuStep.Pointer(tWh), HierarchicalRnnFusedCpuStep.Pointer(tB), HierarchicalRnnFusedCpuStep.Pointer(tensorBiasFromGlobal));
        else
            tensorHidden = Gru(tensor(mean, [1, w.P + ix], ScalarType.Float32), s.TensorHidden, meta.TensorGru, tensorBiasFromGlobal);
        float inverseRms = (float)(1 / Math.Sqrt((float)(sumD2 / n) + (float)HierarchicalRnnUpdate.Epsilon));
        HierarchicalRnnFusedCpuStep.Pass2(kernel, d.Theta, updatePointer, n, inverseRms);
        if (tensorHidden is not null)
            s.TensorHidden.copy_(tensorHidden);
        s.Steps++;
    }

    /// <summary>
    /// A reusable float32 buffer for the fused kernel's per-tensor update between its two passes (pinned, grown on demand,
    /// never shrunk; one per optimizer, which steps on one thread at a time).
    /// </summary>
    internal sealed unsafe class Scratch
    {
        private float[] _buffer = [];

        /// <summary>A pointer to at least <paramref name="n"/> floats (contents undefined), valid until the next call.</summary>
        public float* Get(long n)
        {
            if (_buffer.Length < n)
                _buffer = GC.AllocateUninitializedArray<float>(checked((int)n), pinned: true);
            return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_buffer));
        }
    }

    private static bool Contiguous(Tensor t) => t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.is_contiguous();

    /// <summary>
    /// <see cref="Gru"/> for one row in C# (double accumulators): h ← GRU(x, h) with weights wx [I, 3H], wh [H, 3H] (row-major),
    /// bias b [3H] and the extra bias [3H]; h is updated in place.
    /// </summary>
    private static unsafe void SmallGru(float[] x, float* h, int size, float* wx, float* wh, float* b, float* extra)
    {
        int h3 = 3 * size;
        var pre = new double[h3];
        for (int c = 0; c < h3; c++)
            pre[c] = (double)b[c] + extra[c];
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i];
            float* row = wx + (long)i * h3;
            for (int c = 0; c < h3; c++)
                pre[c] += xi * row[c];
        }
        for (int q = 0; q < size; q++)
        {
            double hq = h[q];
            float* row = wh + (long)q * h3;
            for (int c = 0; c < 2 * size; c++)
                pre[c] += hq * row[c];
        }
        for (int c = 0; c < 2 * size; c++)
            pre[c] = 1 / (1 + Math.Exp(-pre[c]));
        for (int q = 0; q < size; q++)
        {
            double rh = pre[q] * h[q]; // reset ⊙ h
            float* row = wh + (long)q * h3 + 2 * size;
            for (int j = 0; j < size; j++)
                pre[2 * size + j] += rh * row[j];
        }
        for (int j = 0; j < size; j++)
        {
            double keep = pre[size + j], candidate = Math.Tanh(pre[2 * size + j]);
            h[j] = (float)(keep * h[j] + (1 - keep) * candidate);
        }
    }

    /// <summary><c>bias + x·w</c> (bias broadcast over the rows), one fused BLAS call.</summary>
    private static Tensor AddMm(Tensor bias, Tensor x, Tensor w) => torch.addmm(bias, x, w, 1, 1);

    /// <summary>The small (per-tensor and global) GRUs: as <see cref="HierarchicalRnnUpdate"/>'s.</summary>
    private static Tensor Gru(Tensor x, Tensor h, (Tensor Wx, Tensor Wh, Tensor B) w, Tensor? extraBias)
    {
        long size = h.shape[1];
        var fromInput = AddMm(w.B, x, w.Wx);
        if (extraBias is not null)
            fromInput.add_(extraBias);
        var gates = fromInput.narrow(1, 0, 2 * size).add_(h.mm(w.Wh.narrow(1, 0, 2 * size))).sigmoid_();
        var reset = gates.narrow(1, 0, size);
        var keep = gates.narrow(1, size, size);
        var candidate = fromInput.narrow(1, 2 * size, size).add_(reset.mul(h).mm(w.Wh.narrow(1, 2 * size, size))).tanh_();
        return h.sub(candidate).mul_(keep).add_(candidate);
    }
}
