#:project ../../../src/Transforms/Components.Transforms.csproj
#:package TorchSharp-cpu@0.107.0
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false

// Meta-learned featurizer sample: learn features from unlabelled Fashion-MNIST images with the shipped update rule,
// then compare 10-shot linear-probe accuracy (10 labelled images per class) on them with raw pixels and with the same
// network left at its random initialisation.
// Run from the repository root: dotnet run docs/samples/scripts/MetaLearnedFeaturizer.cs
using Components.Core;
using Components.Core.Data;
using Components.Transforms.MetaLearnedFeaturizer;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

torch.set_num_threads(1);
var ml = new MLContext(seed: 0);
var data = FashionMnist.Load(ml, trainRows: 10000, testRows: 2000);
var train = ml.Data.Cache(data.Train);
var test = ml.Data.Cache(data.Test);
Console.WriteLine($"Fashion-MNIST from {data.Source}: {train.GetRowCount()} unlabelled rows to learn from, {test.GetRowCount()} test rows.");

// 1. Unsupervised: train the base network (784-64-32) with the rule; no labels are read.
var featurizer = ml.Transforms.MetaLearnedFeaturizer(outputColumnName: "MetaLearnedFeatures", inputColumnName: "Features");
var clock = System.Diagnostics.Stopwatch.StartNew();
using var model = featurizer.Fit(train);
Console.WriteLine($"Fit: {MetaLearnedFeaturizerEstimator.Defaults.InnerSteps} inner steps in {clock.Elapsed.TotalSeconds:F1} s; {model.FeatureCount} features per row (rule: {model.RuleSource}).");
using var random = ml.Transforms.MetaLearnedFeaturizer(new MetaLearnedFeaturizerEstimator.Options { InnerSteps = 0, OutputColumnName = "RandomFeatures", Seed = 0 }).Fit(train);

// 2. 10-shot linear probes: 10 labelled training images per class, five draws; accuracy on the test rows.
var trainRows = ml.Data.CreateEnumerable<Image>(train, reuseRowObject: false).Select(Shot.Of).ToList();
var testRows = ml.Data.LoadFromEnumerable(ml.Data.CreateEnumerable<Image>(test, reuseRowObject: false).Select(Shot.Of).ToList());
var toKey = ml.Transforms.Conversion.MapValueToKey("Label", "Class", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(testRows);
var featurizedTest = ml.Data.Cache(random.Transform(model.Transform(toKey.Transform(testRows))));
foreach (var (name, column) in new[] { ("raw pixels (784)", "Features"), ($"meta-learned features ({model.FeatureCount})", "MetaLearnedFeatures"), ($"random-init network ({model.FeatureCount})", "RandomFeatures") })
{
    var accuracies = Enumerable.Range(0, 5).Select(draw =>
    {
        var shots = toKey.Transform(ml.Data.LoadFromEnumerable(TenPerClass(trainRows, draw)));
        var probe = ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(labelColumnName: "Label", featureColumnName: column)
            .Fit(random.Transform(model.Transform(shots)));
        return ml.MulticlassClassification.Evaluate(probe.Transform(featurizedTest)).MicroAccuracy;
    }).ToArray();
    double mean = accuracies.Average(), sd = Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / (accuracies.Length - 1));
    Console.WriteLine($"10-shot accuracy, {name}: {mean:P1} ± {sd:P1}");
}

// 3. Save and load like any ML.NET model.
var path = Path.Combine(Path.GetTempPath(), "meta-learned-featurizer-sample.zip");
ml.Model.Save(model, train.Schema, path);
using var loaded = (MetaLearnedFeaturizerTransformer)new MLContext().RegisterComponents().Model.Load(path, out _);
var a = ml.Data.CreateEnumerable<Featurized>(model.Transform(test), reuseRowObject: false).First().MetaLearnedFeatures;
var b = ml.Data.CreateEnumerable<Featurized>(loaded.Transform(test), reuseRowObject: false).First().MetaLearnedFeatures;
Console.WriteLine($"reloaded model, test row 0: [{string.Join(", ", b.Take(4).Select(x => x.ToString("F3")))}, …], identical: {a.SequenceEqual(b)}");
File.Delete(path);

static IEnumerable<Shot> TenPerClass(List<Shot> rows, int seed)
{
    var rng = new Random(seed);
    return rows.GroupBy(r => r.Class).OrderBy(g => g.Key).SelectMany(g => g.OrderBy(_ => rng.Next()).Take(10));
}

sealed class Image
{
    [KeyType(10)]
    public uint Label { get; set; }

    [VectorType(784)]
    public float[] Features { get; set; } = [];
}

// The class as a plain number (0-9), turned into a key by one MapValueToKey for training and test rows alike.
sealed class Shot
{
    public uint Class { get; set; }

    [VectorType(784)]
    public float[] Features { get; set; } = [];

    public static Shot Of(Image image) => new() { Class = image.Label - 1, Features = image.Features };
}

sealed class Featurized
{
    public float[] MetaLearnedFeatures { get; set; } = [];
}
