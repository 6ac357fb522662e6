using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer;

/// <summary>
/// The optimizer's fast path: the same math as <see cref="HierarchicalRnnUpdate.Step"/> under no_grad, written for
/// speed. It updates the state tensors and the parameters in place, fuses each GRU's input matmul and all biases into
/// one GEMM (<c>addmm</c> of x·[Wx] + (b + β_tensor + β_global)), its gate part into a second and its candidate into a
/// third, projects the four per-parameter outputs (direction, two decays, log-lr change) with one GEMM, writes the
/// features into one preallocated [n, 3K] tensor instead of concatenating them, and computes the timescales with one
/// <c>pow</c>. <see cref="HierarchicalRnnUpdate.Step"/> stays the definition (meta-training differentiates it); a test
/// checks that both give the same trajectory and state.
/// </summary>
internal static class HierarchicalRnnInPlaceStep
{
    /// <summary>
    /// One step on <paramref name="parameters"/> (θ ← θ − update for each tensor with a gradient), updating
    /// <paramref name="state"/> in place. Call under no_grad inside a dispose scope.
    /// </summary>
    public static void Apply(HierarchicalRnnMetaParameters meta, IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor?> gradients, HierarchicalRnnState state)
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
        var whGates = gWh.narrow(1, 0, 2 * p);
        var whCandidate = gWh.narrow(1, 2 * p, p);
        // The four per-parameter output projections as one [P, 4] matrix: direction, scale decay, input decay, log-lr change.
        var outW = stack([meta.UpdateWeights, meta.ScaleDecay.W, meta.InputDecay.W, meta.LearningRateChange.W], 1);
        var outB = cat([zeros(1, dtype, device), meta.ScaleDecay.B, meta.InputDecay.B, meta.LearningRateChange.B]).unsqueeze(0);
        var shortcut = meta.ShortcutWeights.unsqueeze(1);
        var halvings = tensor(Enumerable.Range(0, k).Select(j => Math.Pow(0.5, j)).ToArray(), dtype, device).unsqueeze(0); // β_j = β₁^(2^−(j−1))

        for (int i = 0; i < state.Tensors.Length; i++)
        {
            if (gradients[i] is not { } gradient)
                continue;
            var s = state.Tensors[i];
            using var scope = NewDisposeScope();
            long n = s.LogLearningRate.numel();
            var g = gradient.reshape(-1, 1).to(dtype);

            // Momentum at K timescales, then the mean squares (the first step sets v = m²).
            var beta = s.InputDecay.unsqueeze(1).pow(halvings);
            var m = s.GradientAccumulators;
            m.lerp_(g.expand(n, k), beta.neg_().add_(1));
            var v = s.MeanSquares;
            if (s.Steps == 0)
                v.copy_(m).mul_(m);
            else
                v.lerp_(m.square(), s.ScaleDecay.unsqueeze(1).neg().add_(1));

            // Features: scaled gradients, adjacent products, relative log mean squares, relative log learning rate.
            var x = empty(n, a.InputSize, dtype, device);
            var rms = v.add(HierarchicalRnnUpdate.Epsilon).sqrt_();
            var scaled = x.narrow(1, 0, k);
            scaled.copy_(m).div_(rms).asinh_();
            x.narrow(1, k, k - 1).copy_(scaled.narrow(1, 0, k - 1)).mul_(scaled.narrow(1, 1, k - 1));
            var logMs = x.narrow(1, 2 * k - 1, k);
            logMs.copy_(rms).log_().mul_(2); // log(v + ε) = 2·log √(v + ε)
            logMs.sub_(logMs.mean([1], keepdim: true));
            x.narrow(1, 3 * k - 1, 1).copy_(s.LogLearningRate.unsqueeze(1)).sub_(meanLogLr);

            // Per-parameter GRU: fromInput = x·Wx + all biases in one GEMM; the gates add h·Wh_gates, the candidate (r⊙h)·Wh_c.
            var h = s.ParameterHidden;
            var bias = AddMm(paramBiasFromGlobal, s.TensorHidden, ptW);
            var fromInput = AddMm(bias, x, gWx);
            var gates = fromInput.narrow(1, 0, 2 * p);
            gates.add_(h.mm(whGates)).sigmoid_();
            var reset = gates.narrow(1, 0, p);
            var keep = gates.narrow(1, p, p);
            var candidate = fromInput.narrow(1, 2 * p, p);
            candidate.add_(reset.mul(h).mm(whCandidate)).tanh_();
            h.sub_(candidate).mul_(keep).add_(candidate); // h' = u⊙h + (1 − u)⊙c

            // Per-tensor GRU on the mean of [h', x] (old tensor state), before the tensor state changes.
            var tensorInput = cat([h.mean([0], keepdim: true), x.mean([0], keepdim: true)], 1);
            var tensorHidden = Gru(tensorInput, s.TensorHidden, meta.TensorGru, tensorBiasFromGlobal);

            // Outputs: one GEMM for the four projections, plus the gradient shortcut on the direction.
            var outputs = AddMm(outB, h, outW);
            var direction = outputs.narrow(1, 0, 1).add_(scaled.mm(shortcut)).select(1, 0);
            var inverseRms = direction.square().mean().add_(HierarchicalRnnUpdate.Epsilon).rsqrt_();
            s.ScaleDecay.copy_(outputs.select(1, 1)).sigmoid_();
            s.InputDecay.copy_(outputs.select(1, 2)).sigmoid_();
            var stepLogLr = outputs.select(1, 3).add(s.LogLearningRate)
                .clamp_(-HierarchicalRnnUpdate.MaxLogLearningRate, HierarchicalRnnUpdate.MaxLogLearningRate);
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
