using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>
/// The inner loop: unsupervised steps of the base network with the <see cref="LocalUpdateRule"/> on unlabelled batches,
/// W ← W + lr·ΔW, b ← b + lr·Δb, and the backward weights receive the same ΔW (the reference's identical_updates).
/// Differentiable end to end with respect to the rule's parameters; the caller truncates backpropagation with
/// <see cref="BaseNetworkState.Detach"/> between unroll segments.
/// </summary>
public static class InnerLoop
{
    /// <summary>Default inner learning rate (ΔW columns have RMS ≈ 1, so this moves each weight by about 1% of its scale per step).</summary>
    public const double DefaultLearningRate = 1e-2;

    /// <summary>One step: the rule's update applied to a new state (the input state is left as it is).</summary>
    public static BaseNetworkState Step(LocalUpdateRule rule, BaseNetworkState net, Tensor batch, double learningRate = DefaultLearningRate)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(net);
        if (!(learningRate > 0) || !double.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The inner learning rate must be positive and finite.");
        var u = rule.ComputeUpdate(net, batch);
        var w = new Tensor[net.Depth]; var b = new Tensor[net.Depth]; var back = new Tensor[net.Depth];
        for (int l = 0; l < net.Depth; l++)
        {
            w[l] = net.W[l] + learningRate * u.DeltaW[l];
            b[l] = net.Bias[l] + learningRate * u.DeltaBias[l];
            back[l] = net.Backward[l] + learningRate * u.DeltaW[l];
        }
        return new BaseNetworkState([.. net.Widths], net.Activation, w, b, back);
    }

    /// <summary>
    /// Unrolls <paramref name="batches"/> steps from <paramref name="net"/>, keeping the graph through every step (one
    /// truncation segment). Run it inside a dispose scope; intermediate states belong to that scope.
    /// </summary>
    public static BaseNetworkState Unroll(LocalUpdateRule rule, BaseNetworkState net, IEnumerable<Tensor> batches, double learningRate = DefaultLearningRate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batches);
        var state = net;
        foreach (var batch in batches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            state = Step(rule, state, batch, learningRate);
        }
        return state;
    }
}
