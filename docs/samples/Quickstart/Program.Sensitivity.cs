using System.Globalization;
using Components.Core.Data;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Sensitivity;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Quickstart;

internal static partial class Program
{
    /// <summary>
    /// Input sensitivity (Novak et al., 2018): the Jacobian norm ‖∂softmax/∂x‖_F of a trained MLP per test image, how
    /// well it flags misclassified images, and ReLU transitions along an ellipse through three training images.
    /// </summary>
    private static bool Sensitivity(MLContext ml, FashionMnistData data)
    {
        const int n = 5000;
        Console.WriteLine();
        Console.WriteLine($"== Sensitivity: ‖∂softmax/∂x‖_F of an MLP 784-128-10 (ReLU) trained on the first {n:N0} training images (3 epochs)");
        var train = ml.Data.TakeRows(data.Train, n);
        var test = ml.Data.TakeRows(data.Test, 2000);
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [128], numberOfEpochs: 3, seed: 1).Fit(train);
        using var sensitivity = ml.Transforms.InputSensitivity(model).Fit(test);
        var scored = model.Transform(sensitivity.Transform(test));
        var norms = scored.GetColumn<float>("JacobianNorm").Select(v => (double)v).ToArray();
        var wrong = scored.GetColumn<uint>("Label").Zip(scored.GetColumn<uint>("PredictedLabel"), (l, p) => l != p).ToArray();
        double MeanNorm(bool misclassified) => norms.Where((_, i) => wrong[i] == misclassified).Average();
        double auroc = RankStatistics.Auroc(norms, wrong);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   mean ‖J‖_F over {norms.Length:N0} test images: correctly classified {MeanNorm(false):F3}, misclassified {MeanNorm(true):F3}; AUROC of ‖J‖_F for predicting an error {auroc:F3}"));
        using var scope = TorchSharp.torch.NewDisposeScope();
        var anchors = DataLoading.LoadFeatures(ml.Data.TakeRows(train, 3), "Features");
        long transitions = TrajectoryTransitions.CountOnClosedTrajectory(model.Module, anchors, points: 256);
        Console.WriteLine($"   ReLU activation-pattern transitions along the ellipse through training images 0, 1, 2 (256 points): {transitions}");
        return auroc > 0.5;
    }
}
