#:project ../../../src/Trainers/Components.Trainers.csproj
#:package TorchSharp-cpu@0.107.0
#:property PublishAot=false

// The NeuralNetwork trainers and the LayerActivations transform, end to end.
// Run from the repository root:  dotnet run docs/samples/scripts/NeuralNetwork.cs
// Uses the embedded Fashion-MNIST subset (2,000 train / 1,000 test rows), so the output is the same everywhere.

using System.Globalization;
using Components.Core;
using Components.Core.Data;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var ml = new MLContext(seed: 0);
bool showProgress = true;
ml.Log += (_, e) =>
{
    // Per-epoch progress (Info) of the neural-network trainers; the Source starts with the trainer's name.
    if (showProgress && e.Kind == ChannelMessageKind.Info && e.Source.StartsWith("NeuralNetwork", StringComparison.Ordinal))
        Console.WriteLine("  " + e.RawMessage);
};
var data = FashionMnist.LoadEmbeddedSubset(ml);

// 1. Multiclass MLP with a validation split and early stopping.
Console.WriteLine("1. MLP classifier, 10% held out for validation, early stopping with patience 2");
var options = new NeuralNetworkMulticlassTrainer.Options
{
    HiddenLayerWidths = [256, 64],
    Activation = NeuralNetworkActivation.Relu,
    WeightVariance = 2.0,          // weights ~ N(0, σw²/fan_in)
    BiasVariance = 0.0,            // biases  ~ N(0, σb²)
    Optimizer = NeuralNetworkOptimizerKind.Adam,
    LearningRate = 1e-3,
    BatchSize = 64,
    NumberOfEpochs = 12,
    ValidationFraction = 0.1,
    EarlyStoppingPatience = 2,
    Seed = 1,
};
var pipeline = ml.MulticlassClassification.Trainers.NeuralNetwork(options)
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
var model = pipeline.Fit(data.Train);
showProgress = false;
var network = (NeuralNetworkMulticlassModel)model.First(); // the chain: [network, MapKeyToValue]
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data.Test));
Console.WriteLine($"  kept the weights of epoch {network.BestEpoch} of {network.TrainingHistory.Count}; architecture {network.Architecture}");
Console.WriteLine($"  test: micro-accuracy {metrics.MicroAccuracy:F4}, macro-accuracy {metrics.MacroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");

// 2. Prediction engine, then save → load in a new MLContext.
var engine = ml.Model.CreatePredictionEngine<ImageRow, Prediction>(model);
var firstImage = ml.Data.CreateEnumerable<ImageRow>(data.Test, reuseRowObject: false).First();
var p = engine.Predict(firstImage);
Console.WriteLine($"2. First test image: '{p.PredictedLabelValue}' (p = {p.Score.Max():F3})");
using (var stream = new MemoryStream())
{
    ml.Model.Save(model, data.Train.Schema, stream);
    stream.Position = 0;
    var ml2 = new MLContext().RegisterComponents();
    var reloaded = ml2.Model.Load(stream, out _);
    var p2 = ml2.Model.CreatePredictionEngine<ImageRow, Prediction>(reloaded).Predict(firstImage);
    Console.WriteLine($"   after save/load ({stream.Length / 1024} KiB): '{p2.PredictedLabelValue}' (p = {p2.Score.Max():F3}), identical scores: {p.Score.SequenceEqual(p2.Score)}");
}

// 3. Activations of the hidden layers as columns (input for SVCCA or a sensitivity study).
var activations = ml.Transforms.LayerActivations(network, 1, 2).Fit(data.Test).Transform(data.Test);
var layer2 = activations.GetColumn<float[]>("Layer2").First();
Console.WriteLine($"3. LayerActivations: Layer1 has {((VectorDataViewType)activations.Schema["Layer1"].Type).Size} values, " +
    $"Layer2 {layer2.Length}; first image, Layer2: {layer2.Count(v => v > 0)} active ReLU units, mean {layer2.Average():F3}");

// 4. A small CNN on the same data (two 5×5 convolution + 2×2 max-pool blocks).
Console.WriteLine("4. CNN classifier: conv 8 → conv 16 → dense 64, SGD with momentum, 3 epochs");
using var cnn = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
{
    Architecture = NeuralNetworkArchitectureKind.Cnn,
    ConvolutionChannels = [8, 16],
    HiddenLayerWidths = [64],
    Optimizer = NeuralNetworkOptimizerKind.Momentum,
    LearningRate = 0.02,
    NumberOfEpochs = 3,
    Seed = 1,
}).Fit(data.Train);
var cnnMetrics = ml.MulticlassClassification.Evaluate(cnn.Transform(data.Test));
Console.WriteLine($"  layer sizes {string.Join(", ", cnn.Architecture.LayerSizes)}; test macro-accuracy {cnnMetrics.MacroAccuracy:F4}");

// 5. Regression on synthetic data (target = cluster index + first feature), against the mean predictor.
Console.WriteLine("5. MLP regressor on Gaussian blobs");
var split = ml.Data.TrainTestSplit(SyntheticData.GaussianBlobs(ml, rows: 600, dimension: 6, classes: 4, seed: 3), testFraction: 0.3, seed: 1);
using var regressor = ml.Regression.Trainers.NeuralNetwork(labelColumnName: "Target", hiddenLayerWidths: [32],
    numberOfEpochs: 40, batchSize: 32, learningRate: 0.01, seed: 1).Fit(split.TrainSet);
var rmse = ml.Regression.Evaluate(regressor.Transform(split.TestSet), labelColumnName: "Target").RootMeanSquaredError;
var targets = split.TestSet.GetColumn<float>("Target").ToArray();
double mean = split.TrainSet.GetColumn<float>("Target").Average(v => (double)v);
double meanRmse = Math.Sqrt(targets.Average(v => (v - mean) * (v - mean)));
Console.WriteLine($"  test RMSE {rmse:F4} (predicting the training mean: {meanRmse:F4})");

internal sealed class ImageRow
{
    [VectorType(784)]
    public float[] Features { get; set; } = [];
}

internal sealed class Prediction
{
    public string PredictedLabelValue { get; set; } = "";

    public float[] Score { get; set; } = [];
}
