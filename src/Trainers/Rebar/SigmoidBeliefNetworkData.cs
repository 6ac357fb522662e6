using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>Checks on the binary data of a sigmoid belief network.</summary>
internal static class SigmoidBeliefNetworkData
{
    public static void CheckBinary(Tensor x, int width, string name)
    {
        if (x.dim() != 2 || x.shape[1] != width)
            throw new ArgumentException($"'{name}' must be rows × {width} values, got shape [{string.Join(", ", x.shape)}].", name);
        if (x.shape[0] == 0)
            throw new ArgumentException($"'{name}' has no rows.", name);
        using var scope = NewDisposeScope();
        var bad = x.ne(0).logical_and(x.ne(1));
        if (bad.any().item<bool>())
        {
            var first = bad.nonzero()[0];
            long row = first[0].ToInt64(), col = first[1].ToInt64();
            throw new ArgumentException($"'{name}' must be binary (0 or 1): row {row}, slot {col} holds {x[row, col].ToSingle()}. Binarize the data first (or set the estimator's BinarizationThreshold).", name);
        }
    }
}
