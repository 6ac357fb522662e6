using System.Diagnostics;
using Components.Core.Data;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Quickstart;

internal static partial class Program
{
    /// <summary>The learned optimizer (hierarchical RNN, shipped weights) beside Adam, on the same MLP and the same rows.</summary>
    private static bool LearnedOptimizer(MLContext ml, FashionMnistData data, List<MetricsRow> results)
    {
        const int rows = 6000, epochs = 2;
        Console.WriteLine();
        Console.WriteLine($"== Learned optimizer: MLP 784-64-10 on the first {rows:N0} training images, {epochs} epochs, seed 1: Adam vs the hierarchical RNN optimizer (shipped weights)");
        var train = ml.Data.TakeRows(data.Train, rows);
        foreach (var optimizer in new[] { NeuralNetworkOptimizerKind.Adam, NeuralNetworkOptimizerKind.LearnedHierarchicalRnn })
        {
            var options = new NeuralNetworkMulticlassTrainer.Options
            {
                HiddenLayerWidths = [64],
                NumberOfEpochs = epochs,
                Seed = 1,
                Optimizer = optimizer, // LearnedHierarchicalRnn: shipped weights, initial learning rates in [1e-6, 1e-2]
            };
            var watch = Stopwatch.StartNew();
            using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(train);
            watch.Stop();
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data.Test));
            Console.WriteLine($"   {optimizer,-22} training loss {model.TrainingHistory[0].TrainingLoss:F3} → {model.TrainingHistory[^1].TrainingLoss:F3}, " +
                $"test accuracy {metrics.MicroAccuracy:F4}, {watch.Elapsed.TotalSeconds:F1} s");
            results.Add(MetricsRow.From(optimizer == NeuralNetworkOptimizerKind.Adam ? "MLP 64, 6k rows, Adam" : "MLP 64, 6k rows, learned", metrics, watch.Elapsed));
        }
        return true;
    }
}
