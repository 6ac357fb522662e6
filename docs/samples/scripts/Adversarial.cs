#:project ../../../src/Transforms/Components.Transforms.csproj
#:package TorchSharp-cpu@0.107.0
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false

// Adversarial examples that transfer (Elsayed et al., NeurIPS 2018): a targeted L∞ attack on an ensemble of CNNs with
// a retina layer, with random shifts and noise (expectation over transformations), and its transfer to a held-out CNN.
// Run from the repository root:  dotnet run docs/samples/scripts/Adversarial.cs
// Uses the embedded Fashion-MNIST subset (2,000 train / 1,000 test rows), so the output is the same everywhere.
using Components.Core;
using Components.Core.Data;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Adversarial;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

torch.set_num_threads(1);
var ml = new MLContext(seed: 0);
var data = FashionMnist.LoadEmbeddedSubset(ml, testRows: 100);

NeuralNetworkMulticlassModel Cnn(int seed, RetinaSettings? retina) => ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
{
    Architecture = NeuralNetworkArchitectureKind.Cnn, ConvolutionChannels = [8, 16], HiddenLayerWidths = [64], NumberOfEpochs = 4, Retina = retina, Seed = seed,
}).Fit(data.Train);

// Two source CNNs with the retina layer (σ = 0.08 px per px of distance from the centre), one held-out CNN without.
var sources = new[] { Cnn(1, new RetinaSettings()), Cnn(2, new RetinaSettings()) };
var heldOut = Cnn(3, null);

// Target: the next class (T-shirt/top → Trouser, …, Ankle boot → T-shirt/top), as a key column over the class names.
var classes = FashionMnist.ClassNames;
var features = data.Test.GetColumn<float[]>("Features").ToArray();
var labels = data.Test.GetColumn<uint>("Label").ToArray(); // key values 1..10
var rows = ml.Data.LoadFromEnumerable(features.Select((f, i) => new Row { Features = f, TargetName = classes[(int)(labels[i] % 10)] }));
var keyed = ml.Transforms.Conversion.MapValueToKey("Target", "TargetName", keyData: ml.Data.LoadFromEnumerable(classes.Select(c => new { TargetName = c })))
    .Fit(rows).Transform(rows);
var images = ImageShape.Annotate(keyed, "Features", new ImageShape(1, 28, 28));

foreach (int m in new[] { 1, 2 })
{
    using var attack = ml.Transforms.AdversarialPerturbation(sources.Take(m).ToArray(), new AdversarialPerturbationEstimator.Options
    {
        Epsilon = 16.0 / 255, StepSize = 4.0 / 255, Iterations = 10, Seed = 1,
    }).Fit(images);
    var output = attack.Transform(images);
    using var scope = torch.NewDisposeScope();
    using var noGrad = torch.no_grad();
    var adv = DataLoading.LoadFeatures(output, "Adversarial");
    var delta = DataLoading.LoadFeatures(output, "Perturbation");
    var target = output.GetColumn<uint>("Target").Select(t => (long)t - 1).ToArray();
    double Rate(NeuralNetworkMulticlassModel model) => model.Module.forward(adv).argmax(1).data<long>().ToArray().Zip(target).Count(p => p.First == p.Second) / (double)target.Length;
    Console.WriteLine($"ensemble of {m}: max |δ| = {delta.abs().max().item<float>() * 255:F1}/255; targeted success on the attacked CNN 1 {Rate(sources[0]):P0}, on the held-out CNN {Rate(heldOut):P0}");
}

// Save and load the transformer like any ML.NET model (the networks travel inside it).
var path = Path.Combine(Path.GetTempPath(), "adversarial-sample.zip");
using (var t = ml.Transforms.AdversarialPerturbation(sources, epsilon: 8.0 / 255).Fit(images))
    ml.Model.Save(t, images.Schema, path);
var loaded = new MLContext().RegisterComponents().Model.Load(path, out _);
var first = loaded.Transform(images).GetColumn<float[]>("Perturbation").First();
Console.WriteLine($"reloaded transformer: image 0 perturbation max |δ| = {first.Max(Math.Abs) * 255:F1}/255");
File.Delete(path);
foreach (var s in sources)
    s.Dispose();
heldOut.Dispose();

sealed class Row
{
    [VectorType(784)]
    public float[] Features { get; set; } = [];

    public string TargetName { get; set; } = "";
}
