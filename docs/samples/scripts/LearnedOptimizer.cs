#:project ../../../src/Trainers/Components.Trainers.csproj
#:package TorchSharp-cpu@0.107.0
#:property PublishAot=false

// The learned optimizer (Wichrowska et al. 2017, hierarchical RNN) against Adam: an MLP on Fashion-MNIST through
// ml.MulticlassClassification.Trainers.NeuralNetwork, then the optimizer on its own in a plain TorchSharp loop.
// Run from the repository root:  dotnet run docs/samples/scripts/LearnedOptimizer.cs
// Uses the embedded Fashion-MNIST subset (2,000 train / 1,000 test rows), so the output is the same everywhere.

using System.Globalization;
using Components.Core.Data;
using Components.Trainers.LearnedOptimizer;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
torch.set_num_threads(1);
var ml = new MLContext(seed: 0);
var data = FashionMnist.LoadEmbeddedSubset(ml);

// 1. The same MLP (784-64-10, ReLU, batch 64, 5 epochs, seed 1) with Adam and with the learned optimizer.
Console.WriteLine("1. MLP 784-64-10 on 2,000 Fashion-MNIST images, 5 epochs: Adam (lr 0.001) vs the learned optimizer (shipped weights)");
foreach (var optimizer in new[] { NeuralNetworkOptimizerKind.Adam, NeuralNetworkOptimizerKind.LearnedHierarchicalRnn })
{
    var options = new NeuralNetworkMulticlassTrainer.Options
    {
        HiddenLayerWidths = [64],
        NumberOfEpochs = 5,
        Seed = 1,
        Optimizer = optimizer,
        // The learned optimizer's own options (used only with LearnedHierarchicalRnn; these are the defaults):
        LearnedOptimizerWeightsPath = null,               // null: the weights shipped with the library; else a .hrnn file
        LearnedOptimizerMinInitialLearningRate = 1e-6,    // initial per-parameter learning rates, log-uniform in [min, max]
        LearnedOptimizerMaxInitialLearningRate = 1e-2,
        LearnedOptimizerMaxLearningRate = 1e-3,           // bound on each tensor's update RMS per step (the trainers' default)
    };
    using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(data.Train);
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data.Test));
    Console.WriteLine($"   {optimizer,-22} training loss by epoch {string.Join(" ", model.TrainingHistory.Select(e => e.TrainingLoss.ToString("F3")))}; " +
        $"test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");
}

// 2. The optimizer on its own: any TorchSharp model, the usual zero_grad / backward / step loop.
Console.WriteLine();
Console.WriteLine("2. Plain TorchSharp: least squares ‖Xw − y‖²/n in 20 dimensions, 200 steps");
var gen = new Generator(3);
var x = randn([256, 20], generator: gen);
var y = x.mv(randn([20], generator: gen));
foreach (var name in new[] { "Adam", "learned" })
{
    var w = new TorchSharp.Modules.Parameter(zeros(20), requires_grad: true);
    using optim.Optimizer opt = name == "Adam" ? optim.Adam([w], 0.01) : HierarchicalRnnOptimizer.WithShippedWeights([w]);
    double first = 0, last = 0;
    for (int t = 0; t < 200; t++)
    {
        using var scope = NewDisposeScope();
        opt.zero_grad();
        var loss = (x.mv(w) - y).square().mean();
        loss.backward();
        opt.step();
        if (t == 0) first = loss.item<float>();
        last = loss.item<float>();
    }
    Console.WriteLine($"   {name,-8} loss {first:F4} → {last:F6}");
}
