using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Kernels.SignalPropagation;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using ScottPlot;
using TorchSharp;

namespace Components.Benchmarks.SignalPropagation;

/// <summary>
/// Trainability check: deep tanh MLPs on a Fashion-MNIST subset, trained by the NeuralNetwork trainer with plain SGD
/// from initialisations across the phase diagram; the depth scale ξ_c predicts which train (depth ≲ 6ξ_c).
/// <c>sigprop-trainability [--quick] [--rows 3000] [--epochs 3] [--out docs/images]</c>.
/// </summary>
internal static class SignalPropagationTrainability
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int rows = Arg(args, "--rows", quick ? 2000 : 3000), epochs = Arg(args, "--epochs", quick ? 2 : 3);
        int outAt = Array.IndexOf(args, "--out");
        string folder = outAt >= 0 && outAt + 1 < args.Length ? args[outAt + 1] : Path.Combine("docs", "images");
        Directory.CreateDirectory(folder);
        torch.set_num_threads(1);
        const double sb = 0.05;
        const int width = 128;
        var depths = quick ? new[] { 50 } : new[] { 20, 50, 100 };
        double crit = MeanField.CriticalWeightVariance(Kernels.Nngp.NngpNonlinearity.Tanh, sb);
        var sws = new[] { 0.25, 0.6, 1.0, crit, 3.0, 6.0, 12.0 };
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.Load(ml, trainRows: rows, testRows: 1000);
        Console.WriteLine($"sigprop-trainability: tanh MLPs width {width}, σ_b² = {sb}, SGD lr 0.01 batch 64, {epochs} epochs, {rows} train / 1000 test rows of {data.Source}; load {SignalPropagationRepro.Load()}");
        Console.WriteLine();
        Console.WriteLine("| depth | σ_w² | phase | χ₁ | ξ_c | depth / ξ_c | test accuracy | seconds |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        var results = new List<(int Depth, double Sw, double Accuracy)>();
        foreach (int depth in depths)
        {
            foreach (double sw in sws)
            {
                var fp = MeanField.Analyze(Kernels.Nngp.NngpNonlinearity.Tanh, sw, sb);
                var clock = Stopwatch.StartNew();
                double accuracy;
                try
                {
                    using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
                    {
                        HiddenLayerWidths = Enumerable.Repeat(width, depth).ToArray(),
                        Activation = NeuralNetworkActivation.Tanh,
                        WeightVariance = sw,
                        BiasVariance = sb,
                        Optimizer = NeuralNetworkOptimizerKind.Sgd,
                        LearningRate = 0.01,
                        NumberOfEpochs = epochs,
                        Seed = 1,
                    }).Fit(data.Train);
                    accuracy = ml.MulticlassClassification.Evaluate(model.Transform(data.Test)).MicroAccuracy;
                }
                catch (InvalidOperationException)
                {
                    accuracy = double.NaN; // diverged
                }
                results.Add((depth, sw, accuracy));
                Console.WriteLine(string.Create(Ci,
                    $"| {depth} | {sw:F3}{(sw == crit ? " (critical)" : "")} | {fp.Phase} | {fp.Chi1:F3} | {(fp.CorrelationDepthScale > 1e6 ? "∞" : fp.CorrelationDepthScale.ToString("F1", Ci))} | {depth / fp.CorrelationDepthScale:F1} | {accuracy:F3} | {clock.Elapsed.TotalSeconds:F0} |"));
            }
        }
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int d = 0; d < depths.Length; d++)
        {
            var r = results.Where(x => x.Depth == depths[d]).ToArray();
            var s = plt.Add.Scatter(r.Select(x => Math.Log10(x.Sw)).ToArray(), r.Select(x => double.IsNaN(x.Accuracy) ? 0.1 : x.Accuracy).ToArray());
            s.Color = palette.GetColor(d);
            s.LegendText = $"depth {depths[d]}";
        }
        var line = plt.Add.VerticalLine(Math.Log10(crit));
        line.LegendText = "critical σ_w²";
        var chance = plt.Add.HorizontalLine(0.1);
        chance.LegendText = "chance";
        plt.Title($"Deep tanh MLPs on Fashion-MNIST ({rows} rows, {epochs} epochs SGD): test accuracy vs initial σ_w²");
        plt.XLabel("log₁₀ σ_w²");
        plt.YLabel("test accuracy");
        plt.ShowLegend(Alignment.UpperRight);
        plt.SavePng(Path.Combine(folder, "signal-propagation-trainability.png"), 800, 560);
        return 0;
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], Ci) : fallback;
    }
}
