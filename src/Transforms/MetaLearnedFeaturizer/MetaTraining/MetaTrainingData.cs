using Components.Core.Tensors;
using Microsoft.ML;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer.MetaTraining;

/// <summary>
/// Labelled images the meta-trainer draws its tasks from: [n, d] float32 pixels on the CPU and int64 class labels, with
/// the row indices of every class. Only the meta-objective reads the labels; the inner loop sees unlabelled batches.
/// </summary>
internal sealed class MetaTrainingData : IDisposable
{
    private MetaTrainingData(Tensor images, Tensor labels, int classes)
    {
        Images = images; Labels = labels; Classes = classes;
        var l = labels.data<long>().ToArray();
        ClassRows = [.. Enumerable.Range(0, classes).Select(c => Enumerable.Range(0, l.Length).Where(i => l[i] == c).Select(i => (long)i).ToArray())];
    }

    /// <summary>Pixels, rows × features.</summary>
    public Tensor Images { get; }

    /// <summary>Class of each row, 0 … <see cref="Classes"/> − 1.</summary>
    public Tensor Labels { get; }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>Row indices per class.</summary>
    public long[][] ClassRows { get; }

    /// <summary>Features per row.</summary>
    public int Width => (int)Images.shape[1];

    /// <summary>Takes over <paramref name="images"/> ([n, d], finite) and <paramref name="labels"/> ([n], 0 … classes − 1).</summary>
    public static MetaTrainingData Create(Tensor images, Tensor labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        InputChecks.Batch(images, images.dim() == 2 ? images.shape[1] : -1, nameof(images));
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"'labels' must hold one label per image ({images.shape[0]}), got shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "Need at least two classes.");
        var l = labels.to(ScalarType.Int64).cpu();
        long min = l.min().item<long>(), max = l.max().item<long>();
        if (min < 0 || max >= classes)
            throw new ArgumentException($"Labels must lie in [0, {classes - 1}], found {(min < 0 ? min : max)}.", nameof(labels));
        var data = new MetaTrainingData(images.to(ScalarType.Float32).cpu().contiguous().DetachFromDisposeScope(), l.contiguous().DetachFromDisposeScope(), classes);
        for (int c = 0; c < classes; c++)
            if (data.ClassRows[c].Length == 0)
                throw new ArgumentException($"Class {c} has no rows.", nameof(labels));
        return data;
    }

    /// <summary>
    /// Reads a Single-vector feature column and a key label column (e.g. <c>FashionMnist.Load(ml).Train</c>), optionally
    /// average-pooling square images of side <paramref name="side"/> by <paramref name="pool"/> (28×28 → 14×14 with 2, the
    /// reference's TinyMnist size).
    /// </summary>
    public static MetaTrainingData FromDataView(IDataView data, string featureColumn = "Features", string labelColumn = "Label", int side = 28, int pool = 1)
    {
        var (features, labels, names) = DataLoading.LoadFeaturesAndKeyLabels(data, featureColumn, labelColumn);
        using var scope = NewDisposeScope();
        var x = pool == 1 ? features : Pool(features, side, pool);
        var result = Create(x, labels, names.Length);
        features.Dispose(); labels.Dispose();
        return result;
    }

    /// <summary>Average-pools rows of square images of side <paramref name="side"/> by <paramref name="pool"/>.</summary>
    public static Tensor Pool(Tensor images, int side, int pool)
    {
        if (pool < 1 || side % pool != 0 || images.shape[1] != (long)side * side)
            throw new ArgumentException($"Cannot pool {images.shape[1]}-pixel rows as {side}×{side} images by {pool}.");
        using var _ = no_grad();
        return nn.functional.avg_pool2d(images.reshape(-1, 1, side, side), pool).reshape(images.shape[0], -1);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
