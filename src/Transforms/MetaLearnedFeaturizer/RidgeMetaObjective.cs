using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>
/// The few-shot meta-objective: closed-form ridge regression from features (with an unpenalised bias column) onto
/// centred one-hot labels of a few labelled examples per class, evaluated as the mean squared error on a second batch.
/// Differentiable with respect to both feature matrices (so the meta-gradient flows back through the inner loop).
/// </summary>
/// <remarks>The reference also L2-normalises the logits and adds the ridge term; see the docs page.</remarks>
public static class RidgeMetaObjective
{
    /// <summary>The reference's ridge strength.</summary>
    public const double DefaultRidge = 0.1;

    /// <summary>Solves min ‖[F 1]β − Y‖² + λ‖β without its last (bias) row‖²: β = (AᵀA + λD)⁻¹AᵀY, A = [F 1], D = diag(1, …, 1, 0).</summary>
    /// <param name="features">n × k features.</param>
    /// <param name="targets">n × c targets.</param>
    /// <param name="ridge">λ &gt; 0.</param>
    /// <returns>(k + 1) × c coefficients, the bias in the last row.</returns>
    public static Tensor Solve(Tensor features, Tensor targets, double ridge = DefaultRidge)
    {
        ArgumentNullException.ThrowIfNull(features);
        InputChecks.Batch(features, features.dim() == 2 ? features.shape[1] : -1, nameof(features));
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.dim() != 2 || targets.shape[0] != features.shape[0])
            throw new ArgumentException($"'targets' must have {features.shape[0]} rows (one per feature row), got shape [{string.Join(", ", targets.shape)}].", nameof(targets));
        if (!(ridge > 0) || !double.IsFinite(ridge))
            throw new ArgumentOutOfRangeException(nameof(ridge), ridge, "The ridge strength must be positive and finite.");
        var a = WithBias(features);
        long k1 = a.shape[1];
        var penalty = ones(k1, dtype: a.dtype, device: a.device);
        penalty[k1 - 1] = 0;
        var gram = a.t().matmul(a) + ridge * diag(penalty);
        return linalg.solve(gram, a.t().matmul(targets.to(a.dtype)));
    }

    /// <summary>Centred one-hot targets (each column minus its mean over the classes, scaled to unit norm per row).</summary>
    public static Tensor Targets(Tensor labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "Need at least two classes.");
        if (labels.dim() != 1 || labels.shape[0] == 0)
            throw new ArgumentException($"'labels' must be a non-empty vector, got shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        var l = labels.to(ScalarType.Int64);
        long min = l.min().item<long>(), max = l.max().item<long>();
        if (min < 0 || max >= classes)
            throw new ArgumentException($"Labels must lie in [0, {classes - 1}], found {(min < 0 ? min : max)}.", nameof(labels));
        var y = nn.functional.one_hot(l, classes).to(ScalarType.Float64) - 1.0 / classes;
        return y / Math.Sqrt((classes - 1) / (double)classes);
    }

    /// <summary>Fits ridge on (<paramref name="trainFeatures"/>, <paramref name="trainLabels"/>) and returns the MSE on the test batch.</summary>
    public static Tensor Loss(Tensor trainFeatures, Tensor trainLabels, Tensor testFeatures, Tensor testLabels, int classes, double ridge = DefaultRidge)
    {
        ArgumentNullException.ThrowIfNull(trainFeatures);
        InputChecks.Batch(testFeatures, trainFeatures.dim() == 2 ? trainFeatures.shape[1] : -1, nameof(testFeatures));
        if (trainLabels is null || trainLabels.dim() != 1 || trainLabels.shape[0] != trainFeatures.shape[0])
            throw new ArgumentException($"'trainLabels' must hold one label per row of 'trainFeatures' ({trainFeatures.shape[0]}).", nameof(trainLabels));
        if (testLabels is null || testLabels.dim() != 1 || testLabels.shape[0] != testFeatures.shape[0])
            throw new ArgumentException($"'testLabels' must hold one label per row of 'testFeatures' ({testFeatures.shape[0]}).", nameof(testLabels));
        var dtype = trainFeatures.dtype;
        var beta = Solve(trainFeatures, Targets(trainLabels, classes).to(dtype), ridge);
        var predicted = WithBias(testFeatures).matmul(beta);
        return (predicted - Targets(testLabels, classes).to(dtype)).pow(2).sum(1).mean();
    }

    private static Tensor WithBias(Tensor f) => cat([f, ones(f.shape[0], 1, dtype: f.dtype, device: f.device)], 1);
}
