#:project ../../../src/Transforms/Components.Transforms.csproj
#:package TorchSharp-cpu@0.107.0
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false

// Sensitivity (Novak et al., ICLR 2018): the input–output Jacobian norm and trajectory transitions of trained MLPs.
// Run from the repository root:  dotnet run docs/samples/scripts/Sensitivity.cs
// Uses the embedded Fashion-MNIST subset (2,000 train / 1,000 test rows), so the output is the same everywhere.
using Components.Core;
using Components.Core.Data;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Sensitivity;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

TorchSharp.torch.set_num_threads(1);
var ml = new MLContext(seed: 0);
var data = FashionMnist.LoadEmbeddedSubset(ml);

// Two MLPs 784-256-10 (ReLU, Adam, 20 epochs): one on the true labels, one with half the training labels random.
var clean = Train(data.Train);
var noisy = Train(WithRandomLabels(ml, data.Train, fraction: 0.5, seed: 1));

foreach (var (name, model) in new[] { ("true labels", clean), ("50% random labels", noisy) })
{
    // 1. ML.NET: append ‖∂softmax/∂x‖_F (and ‖∂logits/∂x‖_F) per row.
    using var sensitivity = ml.Transforms.InputSensitivity(model, new InputSensitivityEstimator.Options { LogitsOutputColumnName = "LogitNorm" }).Fit(data.Test);
    var rows = ml.Data.CreateEnumerable<Scored>(model.Transform(sensitivity.Transform(data.Test)), reuseRowObject: false).ToList();
    var trainRows = ml.Data.CreateEnumerable<Scored>(model.Transform(sensitivity.Transform(data.Train)), reuseRowObject: false).ToList();
    double accuracy = rows.Average(r => r.Label == r.PredictedLabel ? 1.0 : 0.0);
    // 2. Per point: does a large Jacobian norm flag a misclassified test image? (AUROC, 0.5 = chance)
    double auroc = RankStatistics.Auroc(rows.Select(r => (double)r.JacobianNorm).ToArray(), rows.Select(r => r.Label != r.PredictedLabel).ToArray());
    Console.WriteLine($"{name}: test accuracy {accuracy:F3}; mean ‖J‖_F test {rows.Average(r => r.JacobianNorm):F3}, train {trainRows.Average(r => r.JacobianNorm):F3}; mean ‖∂logits/∂x‖_F test {rows.Average(r => r.LogitNorm):F2}; AUROC(‖J‖ → error) {auroc:F3}");

    // 3. Transitions: ReLU pattern changes along the ellipse through three training images, 512 points.
    using var scope = torch.NewDisposeScope();
    var images = DataLoading.LoadFeatures(data.Train, "Features");
    long count = TrajectoryTransitions.CountOnClosedTrajectory(model.Module, images.narrow(0, 0, 3), points: 512);
    Console.WriteLine($"   transitions along the ellipse through training images 0, 1, 2: {count}");
}

// Save and load the transformer like any ML.NET model.
var path = Path.Combine(Path.GetTempPath(), "sensitivity-sample.zip");
using (var t = ml.Transforms.InputSensitivity(clean).Fit(data.Test))
    ml.Model.Save(t, data.Test.Schema, path);
var loaded = new MLContext().RegisterComponents().Model.Load(path, out _);
float reloaded = loaded.Transform(data.Test).GetColumn<float>("JacobianNorm").First();
Console.WriteLine($"reloaded transformer: test image 0 ‖J‖_F = {reloaded:F4}");
(loaded as IDisposable)?.Dispose();
File.Delete(path);

NeuralNetworkMulticlassModel Train(IDataView train) => ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
{
    HiddenLayerWidths = [256],
    NumberOfEpochs = 20,
    Seed = 1,
}).Fit(train);

static IDataView WithRandomLabels(MLContext ml, IDataView train, double fraction, int seed)
{
    var rng = new Random(seed);
    var rows = ml.Data.CreateEnumerable<NamedRow>(ml.Transforms.Conversion.MapKeyToValue("Label").Fit(train).Transform(train), reuseRowObject: false).ToList();
    foreach (var r in rows)
    {
        if (rng.NextDouble() < fraction)
            r.Label = FashionMnist.ClassNames[rng.Next(10)];
    }
    var view = ml.Data.LoadFromEnumerable(rows);
    var keys = ml.Data.LoadFromEnumerable(FashionMnist.ClassNames.Select(c => new { Label = c }));
    return ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(view).Transform(view);
}

internal sealed class NamedRow
{
    [VectorType(784)]
    public float[] Features { get; set; } = [];

    public string Label { get; set; } = "";
}

internal sealed class Scored
{
    public uint Label { get; set; }

    public uint PredictedLabel { get; set; }

    public float JacobianNorm { get; set; }

    public float LogitNorm { get; set; }
}
