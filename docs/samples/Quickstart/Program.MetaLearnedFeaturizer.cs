using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Transforms.MetaLearnedFeaturizer;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Quickstart;

internal static partial class Program
{
    /// <summary>
    /// The meta-learned featurizer: a base network trained on unlabelled images with the shipped update rule, then a
    /// 10-shot linear probe (10 labelled images per class) on its features against the same probe on raw pixels.
    /// </summary>
    private static bool MetaLearnedFeaturizer(MLContext ml, FashionMnistData data, List<MetricsRow> results)
    {
        const int unlabelled = 5000, testRows = 2000, draws = 3;
        Console.WriteLine();
        Console.WriteLine($"== MetaLearnedFeaturizer: 784-{MetaLearnedFeaturizerEstimator.Defaults.HiddenWidth}-{MetaLearnedFeaturizerEstimator.Defaults.EmbeddingWidth} network trained by the shipped rule on {unlabelled:N0} unlabelled images, then 10-shot linear probes (LbfgsMaximumEntropy, {draws} draws)");
        var train = ml.Data.TakeRows(data.Train, unlabelled);
        var watch = Stopwatch.StartNew();
        using var featurizer = ml.Transforms.MetaLearnedFeaturizer(new MetaLearnedFeaturizerEstimator.Options { Seed = 1 }).Fit(train);
        watch.Stop();

        // The class as a number 0-9, made a key by one MapValueToKey for the labelled shots and the test rows alike.
        var pool = ml.Data.CreateEnumerable<FewShotImage>(train, reuseRowObject: false).Select(FewShotRow.Of).ToList();
        var test = ml.Data.LoadFromEnumerable(ml.Data.CreateEnumerable<FewShotImage>(ml.Data.TakeRows(data.Test, testRows), reuseRowObject: false).Select(FewShotRow.Of).ToList());
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label", "Class", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(test);
        var testFeatures = ml.Data.Cache(featurizer.Transform(toKey.Transform(test)));
        foreach (var (name, column) in new[] { ("raw pixels (784)", "Features"), ($"meta-learned features ({featurizer.FeatureCount})", "MetaLearnedFeatures") })
        {
            var accuracy = Enumerable.Range(0, draws).Select(draw =>
            {
                var rng = new Random(draw);
                var shots = toKey.Transform(ml.Data.LoadFromEnumerable(pool.GroupBy(r => r.Class).OrderBy(g => g.Key).SelectMany(g => g.OrderBy(_ => rng.Next()).Take(10)).ToList()));
                var probe = ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(labelColumnName: "Label", featureColumnName: column).Fit(featurizer.Transform(shots));
                return ml.MulticlassClassification.Evaluate(probe.Transform(testFeatures)).MicroAccuracy;
            }).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   10-shot accuracy on {testRows:N0} test images, {name}: {accuracy.Average():F3} (draws: {string.Join(", ", accuracy.Select(a => a.ToString("F3", CultureInfo.InvariantCulture)))})"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   Featurizer Fit: {watch.Elapsed.TotalSeconds:F1} s ({MetaLearnedFeaturizerEstimator.Defaults.InnerSteps} inner steps, no labels read)."));
        return true;
    }

    private sealed class FewShotImage
    {
        [KeyType(10)]
        public uint Label { get; set; }

        [VectorType(784)]
        public float[] Features { get; set; } = [];
    }

    private sealed class FewShotRow
    {
        public uint Class { get; set; }

        [VectorType(784)]
        public float[] Features { get; set; } = [];

        public static FewShotRow Of(FewShotImage image) => new() { Class = image.Label - 1, Features = image.Features };
    }
}
