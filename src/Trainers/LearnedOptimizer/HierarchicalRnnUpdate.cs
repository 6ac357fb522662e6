using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer;

/// <summary>The outcome of one step of the update rule: per tensor the update (θ ← θ − update; null where no gradient), the new state, and the GRU inputs.</summary>
internal sealed record HierarchicalRnnStepResult(Tensor?[] Updates, HierarchicalRnnState Next, Tensor?[] Inputs);

/// <summary>
/// The hierarchical RNN update rule (Wichrowska et al. 2017) as a pure, differentiable function of
/// (meta-parameters, gradients, state): no in-place writes, no no_grad, so a meta-trainer can backpropagate through
/// unrolls of it. <see cref="HierarchicalRnnOptimizer"/> calls it under no_grad. The math is in
/// docs/trainers/learned-optimizer.md; where the paper and the reference code differ, comments say which we follow (the
/// reference code, throughout) and the docs' table lists every such place.
/// </summary>
internal static class HierarchicalRnnUpdate
{
    /// <summary>ε inside the RMS scaling, the log mean squares and the direction normalisation (the reference's 1e-16).</summary>
    public const double Epsilon = 1e-16;

    /// <summary>The step log learning rate is clipped to [−33, 33] (straight-through; the reference's range).</summary>
    public const double MaxLogLearningRate = 33;

    /// <summary>
    /// The state before the first step. Per-parameter log learning rates are drawn as the reference does:
    /// <c>U(log η_min/2, log η_max/2)</c> per element plus one shared <c>U(log η_min/2, log η_max/2)</c> offset per tensor
    /// (so each tensor's mean differs), clipped to [−33, 33]; <c>log η_min</c> exactly when the range is a single value.
    /// Decays start at 0, so the first step's accumulators equal the gradient.
    /// </summary>
    public static HierarchicalRnnState Initial(HierarchicalRnnMetaParameters meta, IReadOnlyList<Tensor> parameters, double minLearningRate, double maxLearningRate, Generator generator)
    {
        var a = meta.Architecture;
        var dtype = meta.ParameterInit.dtype;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tensors = new HierarchicalRnnTensorState[parameters.Count];
        double lo = Math.Log(minLearningRate) / 2, hi = Math.Log(maxLearningRate) / 2;
        for (int i = 0; i < parameters.Count; i++)
        {
            long n = parameters[i].numel();
            var device = parameters[i].device;
            Tensor logLr = minLearningRate == maxLearningRate
                ? full(n, Math.Log(minLearningRate), dtype)
                : rand([n], dtype, generator: generator) * (hi - lo) + lo + (rand([1], dtype, generator: generator) * (hi - lo) + lo);
            tensors[i] = new HierarchicalRnnTensorState
            {
                ParameterHidden = meta.ParameterInit.detach().unsqueeze(0).expand(n, a.ParameterCellSize).to(device).clone().MoveToOuterDisposeScope(),
                InputDecay = zeros(n, dtype, device).MoveToOuterDisposeScope(),
                ScaleDecay = zeros(n, dtype, device).MoveToOuterDisposeScope(),
                LogLearningRate = logLr.clamp(-MaxLogLearningRate, MaxLogLearningRate).to(device).MoveToOuterDisposeScope(),
                GradientAccumulators = zeros(n, a.GradientScales, dtype, device).MoveToOuterDisposeScope(),
                MeanSquares = zeros(n, a.GradientScales, dtype, device).MoveToOuterDisposeScope(),
                TensorHidden = meta.TensorInit.detach().unsqueeze(0).to(device).clone().MoveToOuterDisposeScope(),
                Steps = 0,
            };
        }
        var device0 = parameters.Count > 0 ? parameters[0].device : CPU;
        var global = meta.GlobalInit.detach().unsqueeze(0).to(device0).clone().MoveToOuterDisposeScope();
        return new HierarchicalRnnState { Tensors = tensors, GlobalHidden = global };
    }

    /// <summary>
    /// One step. <paramref name="gradients"/>[i] is the gradient of tensor i (any shape with its element count) or null
    /// (that tensor's state carries over, as aliases). The results belong to the caller's dispose scope.
    /// </summary>
    /// <remarks>
    /// The step log learning rate is clipped to [−<see cref="MaxLogLearningRate"/>, <paramref name="maxLogLearningRate"/>]
    /// (the reference's max_log_lr clip, symmetric at 33, by default; a lower upper bound caps the learning rate,
    /// <see cref="HierarchicalRnnOptimizer.Options.MaxLearningRate"/>).
    /// </remarks>
    public static HierarchicalRnnStepResult Step(HierarchicalRnnMetaParameters meta, IReadOnlyList<Tensor?> gradients, HierarchicalRnnState state, double maxLogLearningRate = MaxLogLearningRate)
    {
        var a = meta.Architecture;
        int k = a.GradientScales;
        var dtype = meta.ParameterInit.dtype;
        int count = state.Tensors.Length;
        if (gradients.Count != count)
            throw new ArgumentException($"{gradients.Count} gradients for {count} parameter tensors.", nameof(gradients));

        // Relative log learning rate: against the mean over the whole problem (the reference's use_problem_lr_mean).
        Tensor sumLogLr = zeros(1, dtype, state.GlobalHidden.device);
        long totalCount = 0;
        foreach (var s in state.Tensors)
        {
            sumLogLr = sumLogLr + s.LogLearningRate.sum();
            totalCount += s.LogLearningRate.numel();
        }
        var meanLogLr = sumLogLr / Math.Max(1, totalCount);

        // The global state feeds down as biases (old global state, as in the reference).
        var global = state.GlobalHidden;
        var paramBiasFromGlobal = global.matmul(meta.ParameterBiasFromGlobal.W) + meta.ParameterBiasFromGlobal.B;
        var tensorBiasFromGlobal = global.matmul(meta.TensorBiasFromGlobal.W) + meta.TensorBiasFromGlobal.B;
        var lrMomentum = meta.LearningRateMomentumLogit.sigmoid();

        var updates = new Tensor?[count];
        var inputs = new Tensor?[count];
        var next = new HierarchicalRnnTensorState[count];
        for (int i = 0; i < count; i++)
        {
            var s = state.Tensors[i];
            if (gradients[i] is not { } gradient)
            {
                next[i] = new HierarchicalRnnTensorState
                {
                    ParameterHidden = s.ParameterHidden.alias(), InputDecay = s.InputDecay.alias(), ScaleDecay = s.ScaleDecay.alias(),
                    LogLearningRate = s.LogLearningRate.alias(), GradientAccumulators = s.GradientAccumulators.alias(),
                    MeanSquares = s.MeanSquares.alias(), TensorHidden = s.TensorHidden.alias(), Steps = s.Steps,
                };
                continue;
            }
            var g = gradient.reshape(-1, 1).to(dtype);

            // Momentum at K timescales: β₁ learned, β_{j+1} = √β_j (each doubles the timescale).
            var betaColumns = new Tensor[k];
            betaColumns[0] = s.InputDecay.unsqueeze(1);
            for (int j = 1; j < k; j++)
                betaColumns[j] = betaColumns[j - 1].sqrt();
            var beta = cat(betaColumns, 1);
            var accumulators = (1 - beta) * g + beta * s.GradientAccumulators;

            // RMS scaling with asinh. Follows the reference's rms_scaling: the first step sets ms = m² (so the first scaled
            // input is asinh(±1)); later ms ← σ·ms + (1 − σ)·m² with one learned decay σ shared by the K timescales
            // (the reference's use_multiple_scale_decays = False). The paper's text does not give the first-step rule.
            var squares = accumulators.square();
            var sigma = s.ScaleDecay.unsqueeze(1);
            var meanSquares = s.Steps == 0 ? squares : sigma * s.MeanSquares + (1 - sigma) * squares;
            var scaled = (accumulators / (meanSquares + Epsilon).sqrt()).asinh();

            // Extra inputs: products of adjacent scales, log mean squares relative to their mean over scales, relative log lr.
            var products = scaled.narrow(1, 0, k - 1) * scaled.narrow(1, 1, k - 1);
            var logMeanSquares = (meanSquares + Epsilon).log();
            var relativeLogMeanSquares = logMeanSquares - logMeanSquares.mean([1], keepdim: true);
            var relativeLogLr = (s.LogLearningRate - meanLogLr).unsqueeze(1);
            var x = cat([scaled, products, relativeLogMeanSquares, relativeLogLr], 1);

            // Per-parameter GRU, biased by the (old) tensor state and the global state.
            var paramBias = s.TensorHidden.matmul(meta.ParameterBiasFromTensor.W) + meta.ParameterBiasFromTensor.B + paramBiasFromGlobal;
            var hidden = Gru(x, s.ParameterHidden, meta.ParameterGru, paramBias);

            // Per-tensor GRU on the mean over the tensor's parameters of [new parameter state, GRU input].
            var tensorInput = cat([hidden, x], 1).mean([0], keepdim: true);
            var tensorHidden = Gru(tensorInput, s.TensorHidden, meta.TensorGru, tensorBiasFromGlobal);

            // Direction: projection of the state plus the gradient shortcut, normalised to unit RMS over the tensor.
            var direction = hidden.matmul(meta.UpdateWeights) + scaled.matmul(meta.ShortcutWeights);
            direction = direction / (direction.square().mean() + Epsilon).sqrt();

            var scaleDecay = (hidden.matmul(meta.ScaleDecay.W) + meta.ScaleDecay.B).sigmoid();
            var inputDecay = (hidden.matmul(meta.InputDecay.W) + meta.InputDecay.B).sigmoid();

            // Log learning rate: step value clipped with a straight-through gradient (the forward value is the clipped
            // one, the gradient that of the unclipped one), then a momentum average for the state.
            var stepLogLr = s.LogLearningRate + hidden.matmul(meta.LearningRateChange.W) + meta.LearningRateChange.B;
            stepLogLr = stepLogLr + (stepLogLr.clamp(-MaxLogLearningRate, maxLogLearningRate) - stepLogLr).detach();
            var newLogLr = lrMomentum * s.LogLearningRate + (1 - lrMomentum) * stepLogLr;

            updates[i] = ((stepLogLr + meta.StepSizeOffset).exp() * direction).reshape(gradient.shape);
            inputs[i] = x;
            next[i] = new HierarchicalRnnTensorState
            {
                ParameterHidden = hidden, InputDecay = inputDecay, ScaleDecay = scaleDecay, LogLearningRate = newLogLr,
                GradientAccumulators = accumulators, MeanSquares = meanSquares, TensorHidden = tensorHidden, Steps = s.Steps + 1,
            };
        }

        // Global GRU on the mean of the tensor states (no bias from above).
        var globalInput = cat([.. next.Select(t => t.TensorHidden)], 0).mean([0], keepdim: true);
        var newGlobal = Gru(globalInput, global, meta.GlobalGru, null);
        return new HierarchicalRnnStepResult(updates, new HierarchicalRnnState { Tensors = next, GlobalHidden = newGlobal }, inputs);
    }

    /// <summary>The reference's BiasGRUCell: <c>h' = u⊙h + (1 − u)⊙tanh(x·Wx_c + (r⊙h)·Wh_c + b_c + β_c)</c>, gates σ(x·Wx + h·Wh + b + β).</summary>
    private static Tensor Gru(Tensor x, Tensor h, (Tensor Wx, Tensor Wh, Tensor B) w, Tensor? extraBias)
    {
        long size = h.shape[1];
        var fromInput = x.matmul(w.Wx) + w.B;
        if (extraBias is not null)
            fromInput = fromInput + extraBias;
        var gates = (fromInput.narrow(1, 0, 2 * size) + h.matmul(w.Wh.narrow(1, 0, 2 * size))).sigmoid();
        var reset = gates.narrow(1, 0, size);
        var keep = gates.narrow(1, size, size);
        var candidate = (fromInput.narrow(1, 2 * size, size) + (reset * h).matmul(w.Wh.narrow(1, 2 * size, size))).tanh();
        return keep * h + (1 - keep) * candidate;
    }
}
