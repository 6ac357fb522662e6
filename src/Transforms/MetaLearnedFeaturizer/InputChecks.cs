using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>Clear exceptions for bad batches (before any native call can crash or propagate NaN).</summary>
internal static class InputChecks
{
    public static void Batch(Tensor x, long width, string name)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (x.dim() != 2)
            throw new ArgumentException($"'{name}' must be a batch × features matrix, got shape [{string.Join(", ", x.shape)}].", name);
        if (x.shape[0] == 0)
            throw new ArgumentException($"'{name}' is an empty batch (0 rows).", name);
        if (x.shape[1] != width)
            throw new ArgumentException($"'{name}' has {x.shape[1]} features per row; expected {width}.", name);
        if (!x.isfinite().all().item<bool>())
            throw new ArgumentException($"'{name}' contains NaN or infinite values.", name);
    }
}
