using Components.Core.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>Small datasets shared by the neural-network tests.</summary>
internal static class NeuralNetworkTestData
{
    /// <summary>A row for PredictionEngine on Fashion-MNIST.</summary>
    public sealed class ImageRow
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>PredictionEngine output.</summary>
    public sealed class ImagePrediction
    {
        public string PredictedLabelValue { get; set; } = "";

        public float[] Score { get; set; } = [];
    }

    /// <summary>A scored row read back from the pipeline.</summary>
    public sealed class ImagePredictionWithFeatures
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];

        public string PredictedLabelValue { get; set; } = "";

        public float[] Score { get; set; } = [];
    }

    /// <summary>A feature row with a class name, mapped to a key by <see cref="Keyed"/> (for hand-made inputs).</summary>
    public sealed class KeyRow
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    /// <summary>A feature row with a Single label.</summary>
    public sealed class RegressionRow
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>Gaussian blobs: Features Single[dim], Label key (c0…), Target Single.</summary>
    public static IDataView Blobs(MLContext ml, int rows = 150, int dim = 6, int classes = 3, int seed = 0, double separation = 3.0)
        => SyntheticData.GaussianBlobs(ml, rows, dim, classes, separation, seed);

    /// <summary>Good rows with labels a, b, c.</summary>
    public static KeyRow[] KeyRows(int n = 12) => Enumerable.Range(0, n)
        .Select(i => new KeyRow { Features = [i % 3, 1f, -i * 0.1f], Label = ClassNames[i % 3] }).ToArray();

    /// <summary>The classes of <see cref="KeyRow"/>.</summary>
    public static readonly string[] ClassNames = ["a", "b", "c"];

    /// <summary>Rows with Label mapped to a key of the three classes a, b, c; any other label becomes the missing key 0.</summary>
    public static IDataView Keyed(MLContext ml, KeyRow[] rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        var keys = ml.Data.LoadFromEnumerable(ClassNames.Select(c => new { Label = c }));
        return ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(data).Transform(data);
    }

    /// <summary>The embedded Fashion-MNIST subset (2,000 train / 1,000 test rows).</summary>
    public static FashionMnistData Fashion(MLContext ml, int? trainRows = null, int? testRows = null)
        => FashionMnist.LoadEmbeddedSubset(ml, trainRows, testRows);
}
