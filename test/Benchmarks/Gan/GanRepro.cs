using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Trainers;
using Components.Trainers.Gan;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Gan;

/// <summary>
/// Reproduction of Poole et al. (arXiv:1612.02780) on the CPU: per generator objective, an MLP GAN on the 8-Gaussian
/// ring and the 25-Gaussian grid (modes covered, high-quality fraction, KDE forward/reverse KL, scatter PNGs) and a
/// DCGAN on Fashion-MNIST (classifier coverage and confidence, inception score, Fréchet distance on classifier
/// features, sample-grid PNG).
/// Options: --steps N (toy generator steps, 1500), --image-steps N (300), --image-rows N (20000),
/// --image-objectives a,b (indices into the objective list, 0,1,2,3), --skip-images, --skip-toy, --out DIR (docs/images).
/// </summary>
internal static class GanRepro
{
    public static int Run(string[] args)
    {
        torch.set_num_threads(1);
        int steps = int.Parse(GanRuns.Arg(args, "--steps", "1500"), CultureInfo.InvariantCulture);
        int imageSteps = int.Parse(GanRuns.Arg(args, "--image-steps", "300"), CultureInfo.InvariantCulture);
        int imageRows = int.Parse(GanRuns.Arg(args, "--image-rows", "20000"), CultureInfo.InvariantCulture);
        var imageObjectives = GanRuns.Arg(args, "--image-objectives", "0,1,2,3").Split(',').Select(int.Parse).ToArray();
        string output = GanRuns.Arg(args, "--out", "docs/images");
        Directory.CreateDirectory(output);
        Console.WriteLine($"gan-repro: toy steps {steps}, image steps {imageSteps} on {imageRows} rows; loadavg {GanRuns.LoadAverage()}");
        var clock = Stopwatch.StartNew();
        if (!args.Contains("--skip-toy"))
        {
            Toy("ring", GanToyData.RingCenters(), 0.02, steps, output);
            Toy("grid", GanToyData.GridCenters(), 0.05, steps, output);
        }
        if (!args.Contains("--skip-images"))
            Images(imageSteps, imageRows, imageObjectives, output);
        Console.WriteLine($"total {clock.Elapsed.TotalMinutes:F1} min; loadavg {GanRuns.LoadAverage()}");
        return 0;
    }

    private static void Toy(string name, float[,] centers, double sigma, int steps, string output)
    {
        var ml = new MLContext(seed: 1);
        var data = GanRuns.Rows(ml, GanToyData.Sample(centers, sigma, 20000, seed: 2));
        var panels = new List<(string Label, float[] Points, MixtureQuality Quality)>();
        Console.WriteLine($"\n{name}: {centers.GetLength(0)} modes, σ = {sigma}, MLP 16 → [128, 128] → 2, batch 128, Adam 1e-3 (β₁ 0.5), {steps} generator steps, seed 3");
        Console.WriteLine("| objective | modes covered | high-quality fraction | KL(p‖q) KDE | KL(q‖p) KDE | final D loss | fit s |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var setting in GanRuns.All)
        {
            var o = new GanEstimator.Options { LatentSize = 16, HiddenUnits = [128, 128], Steps = steps, BatchSize = 128, Seed = 3, LogInterval = steps };
            setting.Apply(o);
            var clock = Stopwatch.StartNew();
            using var model = ml.Generative.Gan(o).Fit(data);
            double seconds = clock.Elapsed.TotalSeconds;
            using var scope = NewDisposeScope();
            var (_, generated) = model.SampleArrays(2500, seed: 4);
            var q = tensor(generated, [2500, 2]);
            var p = GanToyData.ToTensor(GanToyData.Sample(centers, sigma, 2500, seed: 5));
            var quality = GanMetrics.EvaluateMixture(q, GanToyData.ToTensor(centers), sigma, p);
            panels.Add((setting.Label, generated, quality));
            Console.WriteLine(FormattableString.Invariant(
                $"| {setting.Label} | {quality.ModesCovered}/{quality.Modes} | {quality.HighQualityFraction:F3} | {quality.ForwardKl:F2} | {quality.ReverseKl:F2} | {model.TrainingHistory[^1].DiscriminatorLoss:F3} | {seconds:F0} |"));
        }
        GanPlots.Scatter(Path.Combine(output, $"gan-{name}.png"), $"{name}: 2500 samples per objective ({steps} generator steps)", centers, panels);
    }

    private static void Images(int steps, int rows, int[] objectives, string output)
    {
        var ml = new MLContext(seed: 1);
        var fashion = FashionMnist.Load(ml, trainRows: rows, testRows: 5000);
        Console.WriteLine($"\nFashion-MNIST ({fashion.Source}): {rows} training rows");
        // The judge: a NeuralNetwork MLP classifier (784 → 256 → 10, 3 epochs); its hidden layer gives the Fréchet features.
        var clock = Stopwatch.StartNew();
        using var classifier = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [256], NumberOfEpochs = 3, Seed = 1,
        }).Fit(fashion.Train);
        var metrics = ml.MulticlassClassification.Evaluate(classifier.Transform(fashion.Test));
        Console.WriteLine(FormattableString.Invariant($"classifier: test accuracy {metrics.MicroAccuracy:F3} ({clock.Elapsed.TotalSeconds:F0} s)"));
        using var features = ml.Transforms.LayerActivations(classifier, 1).Fit(fashion.Test);
        var testFeatures = Column(features.Transform(fashion.Test), "Layer1");
        var testQuality = Judge(ml, classifier, fashion.Test, "Features");
        Console.WriteLine(FormattableString.Invariant(
            $"test images themselves: classes {testQuality.ClassesCovered}/10, confidence {testQuality.MeanConfidence:F3}, inception score {testQuality.InceptionScore:F2}, Fréchet distance to a second half {HalfFrechet(testFeatures):F2}"));
        Console.WriteLine($"\nDCGAN (latent 64, base channels 32), batch 64, Adam 2e-4 (β₁ 0.5), {steps} generator steps, seed 3; 2000 samples");
        Console.WriteLine("| objective | classes covered | mean confidence | inception score | Fréchet distance (classifier features) | fit s |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var grids = new List<(string Label, float[] Images)>();
        foreach (int index in objectives)
        {
            var setting = GanRuns.All[index];
            var o = new GanEstimator.Options
            {
                Network = GanNetworkKind.Dcgan, LatentSize = 64, Channels = 32, Steps = steps, BatchSize = 64, Seed = 3,
                GeneratorLearningRate = 2e-4, DiscriminatorLearningRate = 2e-4, LogInterval = steps,
            };
            setting.Apply(o);
            clock.Restart();
            using var model = ml.Generative.Gan(o).Fit(fashion.Train);
            double seconds = clock.Elapsed.TotalSeconds;
            var sample = ml.Transforms.CopyColumns("Features", "Generated").Fit(model.Sample(2000, seed: 4)).Transform(model.Sample(2000, seed: 4));
            var quality = Judge(ml, classifier, sample, "Features");
            var genFeatures = Column(features.Transform(sample), "Layer1");
            using var scope = NewDisposeScope();
            double fd = GanMetrics.FrechetDistance(testFeatures, genFeatures);
            Console.WriteLine(FormattableString.Invariant(
                $"| {setting.Label} | {quality.ClassesCovered}/10 | {quality.MeanConfidence:F3} | {quality.InceptionScore:F2} | {fd:F2} | {seconds:F0} |"));
            grids.Add((setting.Label, model.SampleArrays(64, seed: 5).Generated));
        }
        GanPlots.ImageGrids(Path.Combine(output, "gan-fashion-mnist.png"), grids);
    }

    private static ClassifierQuality Judge(MLContext ml, ITransformer classifier, IDataView images, string column)
    {
        var scored = classifier.Transform(images);
        using var scope = NewDisposeScope();
        return GanMetrics.ClassifierScore(Column(scored, "Score"));
    }

    private static Tensor Column(IDataView data, string name)
    {
        var rows = data.GetColumn<float[]>(name).ToArray();
        return tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
    }

    private static double HalfFrechet(Tensor features)
    {
        long n = features.shape[0] / 2;
        return GanMetrics.FrechetDistance(features.narrow(0, 0, n), features.narrow(0, n, n));
    }
}
