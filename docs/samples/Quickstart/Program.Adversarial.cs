using System.Globalization;
using Components.Core.Data;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Adversarial;
using Microsoft.ML;

namespace Quickstart;

internal static partial class Program
{
    /// <summary>
    /// Adversarial examples (Elsayed et al., 2018): a targeted L∞ attack (ε = 32/255) on a small CNN with a retina layer,
    /// its white-box success, and how often the images also fool a second CNN it never saw.
    /// </summary>
    private static bool Adversarial(MLContext ml, FashionMnistData data)
    {
        const int n = 3000, attacked = 64;
        Console.WriteLine();
        Console.WriteLine($"== Adversarial: targeted L∞ attack (ε = 32/255, 10 steps) on a retina CNN trained on {n:N0} images (2 epochs); transfer to a CNN of another seed");
        var train = ml.Data.TakeRows(data.Train, n);
        var test = ml.Data.TakeRows(data.Test, attacked);
        NeuralNetworkMulticlassModel Cnn(int seed, RetinaSettings? retina) => ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            Architecture = NeuralNetworkArchitectureKind.Cnn, ConvolutionChannels = [8, 16], HiddenLayerWidths = [64], NumberOfEpochs = 2, Retina = retina, Seed = seed,
        }).Fit(train);
        using var source = Cnn(1, new RetinaSettings());
        using var heldOut = Cnn(2, null);
        var classes = FashionMnist.ClassNames;
        // Target: the class after the one the source predicts (T-shirt → Trouser, …, Ankle boot → T-shirt).
        var mapping = classes.Select((c, i) => (c, classes[(i + 1) % classes.Count])).ToDictionary(p => p.c, p => p.Item2);
        using var attack = ml.Transforms.AdversarialPerturbation([source], new AdversarialPerturbationEstimator.Options
        {
            Epsilon = 32.0 / 255, StepSize = 8.0 / 255, Iterations = 10, TargetMapping = mapping, Seed = 1,
        }).Fit(test);
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var noGrad = TorchSharp.torch.no_grad();
        var output = attack.Transform(test);
        var x = DataLoading.LoadFeatures(output, "Features");
        var adv = DataLoading.LoadFeatures(output, "Adversarial");
        var clean = source.Module.forward(x).argmax(1).data<long>().ToArray();
        var target = clean.Select(c => (c + 1) % classes.Count).ToArray();
        double Rate(NeuralNetworkMulticlassModel m) => m.Module.forward(adv).argmax(1).data<long>().ToArray().Zip(target).Count(p => p.First == p.Second) / (double)attacked;
        double maxDelta = DataLoading.LoadFeatures(output, "Perturbation").abs().max().item<float>();
        double white = Rate(source), transfer = Rate(heldOut);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {attacked} test images: max |δ| = {maxDelta * 255:F1}/255; the source CNN predicts the target for {white:P0}, the held-out CNN for {transfer:P0}"));
        return maxDelta <= 32.0 / 255 + 1e-6 && white > transfer;
    }
}
