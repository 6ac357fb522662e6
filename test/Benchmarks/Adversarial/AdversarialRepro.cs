using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Adversarial;
using Microsoft.ML;
using Microsoft.ML.Data;
using ScottPlot;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Adversarial;

/// <summary>
/// Reproduction of the transfer claim of Elsayed et al. (2018): adversarial images made against larger ensembles, and
/// against models with a retina layer, transfer better to held-out models. Fashion-MNIST, small CNNs trained here:
/// two source pools of 4 CNNs (seeds 1–4; without and with the retina layer) and 3 held-out models (a CNN of another
/// seed, a wider CNN, an MLP; no retina). For every pool, ensemble size m ∈ {1, 2, 4} and ε ∈ {4, 8, 16, 32}/255, the
/// targeted attack (target = true class + 1 mod 10) runs through <c>ml.Transforms.AdversarialPerturbation</c>, and the
/// success rate (the model predicts the target) is measured on the attacked ensemble (white box) and on each held-out
/// model (transfer). Writes a PNG of transfer vs ε and an image grid into docs/images.
/// Options: --train N (training rows, default 6000), --test M (attacked test images, default 200), --epochs E (3),
/// --iterations T (10).
/// </summary>
internal static class AdversarialRepro
{
    private static readonly double[] Epsilons = [4 / 255.0, 8 / 255.0, 16 / 255.0, 32 / 255.0];
    private static readonly int[] Sizes = [1, 2, 4];

    public static int Run(string[] args)
    {
        var a = Enumerable.Range(0, args.Length / 2).ToDictionary(i => args[2 * i].TrimStart('-'), i => int.Parse(args[(2 * i) + 1], CultureInfo.InvariantCulture));
        int trainRows = a.GetValueOrDefault("train", 6000), testRows = a.GetValueOrDefault("test", 200), epochs = a.GetValueOrDefault("epochs", 3),
            iterations = a.GetValueOrDefault("iterations", 10);
        torch.set_num_threads(1);
        var total = Stopwatch.StartNew();
        var ml = new MLContext(seed: 0);
        var fashion = FashionMnist.Load(ml, trainRows: trainRows, testRows: testRows);
        Console.WriteLine($"# adversarial-repro: train {trainRows} rows ({fashion.Source}), {epochs} epochs; attack {testRows} test images, {iterations} steps of ε/4, EOT 2 samples (shift ±2 px, noise σ 0.02); torch threads 1; load {AdversarialBenchmark.Load()}");

        var retina = new RetinaSettings();
        NeuralNetworkMulticlassModel Train(string name, int seed, int[] channels, int[] hidden, RetinaSettings? r, bool mlp = false)
        {
            var sw = Stopwatch.StartNew();
            var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
            {
                Architecture = mlp ? NeuralNetworkArchitectureKind.Mlp : NeuralNetworkArchitectureKind.Cnn,
                ConvolutionChannels = channels, HiddenLayerWidths = hidden, NumberOfEpochs = epochs, Retina = r, Seed = seed,
            }).Fit(fashion.Train);
            Console.WriteLine(F($"#   trained {name,-22} {model.Architecture}: clean test accuracy {Accuracy(model, fashion.Test):P1} ({sw.Elapsed.TotalSeconds:F0} s)"));
            return model;
        }
        var plain = Enumerable.Range(1, 4).Select(s => Train($"source CNN seed {s}", s, [8, 16], [64], null)).ToArray();
        var withRetina = Enumerable.Range(1, 4).Select(s => Train($"source retina CNN {s}", s, [8, 16], [64], retina)).ToArray();
        var heldOut = new[]
        {
            ("CNN seed 101", Train("held-out CNN seed 101", 101, [8, 16], [64], null)),
            ("wide CNN", Train("held-out wide CNN", 102, [16, 32], [128], null)),
            ("MLP", Train("held-out MLP", 103, [], [256], null, mlp: true)),
        };

        // The attacked images with their target (true class + 1 mod 10) as a key over the class names.
        var classes = FashionMnist.ClassNames;
        var (x, y, _) = DataLoading.LoadFeaturesAndKeyLabels(fashion.Test, "Features", "Label");
        var labels = y.data<long>().ToArray();
        var rows = labels.Select((l, i) => new Row { Features = x[i].data<float>().ToArray(), TargetName = classes[(int)((l + 1) % 10)] }).ToArray();
        var view = ml.Data.LoadFromEnumerable(rows);
        var attacked = ml.Transforms.Conversion.MapValueToKey("Target", "TargetName", keyData: ml.Data.LoadFromEnumerable(classes.Select(c => new { TargetName = c })))
            .Fit(view).Transform(view);
        attacked = ImageShape.Annotate(attacked, "Features", new ImageShape(1, 28, 28));
        var targets = labels.Select(l => (l + 1) % 10).ToArray();

        var results = new List<(bool Retina, int Size, double Eps, double WhiteBox, double[] Transfer, double[] Error)>();
        Tensor? gridAdv = null;
        foreach (bool r in new[] { false, true })
        {
            foreach (int m in Sizes)
            {
                foreach (double eps in Epsilons)
                {
                    var sw = Stopwatch.StartNew();
                    var pool = (r ? withRetina : plain).Take(m).ToArray();
                    using var t = ml.Transforms.AdversarialPerturbation(pool, new AdversarialPerturbationEstimator.Options
                    {
                        Epsilon = eps, StepSize = eps / 4, Iterations = iterations, Seed = 1,
                    }).Fit(attacked);
                    var adv = DataLoading.LoadFeatures(t.Transform(attacked), "Adversarial");
                    double white = Success(pool, adv, targets);
                    var transfer = heldOut.Select(h => Success([h.Item2], adv, targets)).ToArray();
                    var error = heldOut.Select(h => 1 - Agreement(h.Item2, adv, labels)).ToArray();
                    results.Add((r, m, eps, white, transfer, error));
                    Console.WriteLine(F($"#   retina {(r ? "yes" : "no "),-3} m={m} ε={eps * 255:F0}/255: white-box {white:P1}, transfer {string.Join(" / ", transfer.Select(v => v.ToString("P1", CultureInfo.InvariantCulture)))} ({sw.Elapsed.TotalSeconds:F0} s)"));
                    if (r && m == 4 && eps == Epsilons[^1])
                        gridAdv = adv.DetachFromDisposeScope();
                    else
                        adv.Dispose();
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"Targeted success (the model predicts the target class), {testRows} Fashion-MNIST test images, ε in 0–255 pixel units:");
        Console.WriteLine();
        Console.WriteLine("| retina | ensemble | ε | white box | held-out CNN seed 101 | held-out wide CNN | held-out MLP | mean transfer | held-out error rate (mean) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var q in results)
        {
            Console.WriteLine(F($"| {(q.Retina ? "yes" : "no")} | {q.Size} | {q.Eps * 255:F0} | {q.WhiteBox:P1} | {q.Transfer[0]:P1} | {q.Transfer[1]:P1} | {q.Transfer[2]:P1} | {q.Transfer.Average():P1} | {q.Error.Average():P1} |"));
        }
        string images = Path.Combine(Svcca.SvccaReproduction.FindRepoRoot(), "docs", "images");
        Directory.CreateDirectory(images);
        PlotTransfer(results.Select(q => (q.Retina, q.Size, q.Eps, q.Transfer.Average())).ToList(), Path.Combine(images, "adversarial-transfer.png"), testRows);
        PlotGrid(x, gridAdv!, labels, targets, heldOut[0].Item2, Path.Combine(images, "adversarial-grid.png"));
        Console.WriteLine();
        Console.WriteLine(F($"# total {total.Elapsed.TotalMinutes:F1} min; load {AdversarialBenchmark.Load()}; wrote docs/images/adversarial-transfer.png, docs/images/adversarial-grid.png"));
        foreach (var mdl in plain.Concat(withRetina).Concat(heldOut.Select(h => h.Item2)))
            mdl.Dispose();
        return 0;
    }

    private sealed class Row
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];

        public string TargetName { get; set; } = "";
    }

    private static long[] Predict(IReadOnlyList<NeuralNetworkMulticlassModel> models, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return EnsembleAttack.LogProbabilities(models.Select(m => (Func<Tensor, Tensor>)m.Module.forward).ToArray(), x).argmax(1).data<long>().ToArray();
    }

    private static double Success(IReadOnlyList<NeuralNetworkMulticlassModel> models, Tensor adv, long[] targets)
        => Predict(models, adv).Zip(targets).Count(p => p.First == p.Second) / (double)targets.Length;

    private static double Agreement(NeuralNetworkMulticlassModel model, Tensor x, long[] labels)
        => Predict([model], x).Zip(labels).Count(p => p.First == p.Second) / (double)labels.Length;

    private static double Accuracy(NeuralNetworkMulticlassModel model, IDataView test)
    {
        using var scope = NewDisposeScope();
        var (x, y, _) = DataLoading.LoadFeaturesAndKeyLabels(test, "Features", "Label");
        return Agreement(model, x, y.data<long>().ToArray());
    }

    private static void PlotTransfer(List<(bool Retina, int Size, double Eps, double Transfer)> rows, string path, int n)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int k = 0;
        foreach (bool r in new[] { false, true })
        {
            foreach (int m in Sizes)
            {
                var line = rows.Where(q => q.Retina == r && q.Size == m).OrderBy(q => q.Eps).ToArray();
                var s = plt.Add.Scatter(line.Select(q => q.Eps * 255).ToArray(), line.Select(q => 100 * q.Transfer).ToArray());
                s.Color = palette.GetColor(Array.IndexOf(Sizes, m));
                s.LinePattern = r ? LinePattern.Solid : LinePattern.Dashed;
                s.MarkerSize = 6;
                s.LegendText = $"{(r ? "retina" : "no retina")}, ensemble of {m}";
                k++;
            }
        }
        plt.XLabel("ε (pixel units of 0–255)");
        plt.YLabel("targeted transfer success on held-out models (%)");
        plt.Title($"Fashion-MNIST, {n} test images: mean over 3 held-out models");
        plt.ShowLegend(Alignment.UpperLeft);
        plt.SavePng(path, 900, 600);
    }

    private static void PlotGrid(Tensor x, Tensor adv, long[] labels, long[] targets, NeuralNetworkMulticlassModel judge, string path)
    {
        const int examples = 6, side = 28, gap = 4;
        var names = FashionMnist.ClassNames;
        var clean = Predict([judge], x[..examples]);
        var fooled = Predict([judge], adv[..examples]);
        int width = (3 * side) + (2 * gap), height = (examples * side) + ((examples - 1) * gap);
        var grid = new double[height, width];
        for (int i = 0; i < height; i++)
            for (int j = 0; j < width; j++)
                grid[i, j] = double.NaN;
        var xs = x[..examples].data<float>().ToArray();
        var advs = adv[..examples].data<float>().ToArray();
        double eps = 32 / 255.0;
        for (int e = 0; e < examples; e++)
        {
            for (int r = 0; r < side; r++)
            {
                for (int c = 0; c < side; c++)
                {
                    int p = (e * side * side) + (r * side) + c;
                    int row = (e * (side + gap)) + r;
                    grid[row, c] = xs[p];
                    grid[row, side + gap + c] = 0.5 + ((advs[p] - xs[p]) / (2 * eps));
                    grid[row, (2 * (side + gap)) + c] = advs[p];
                }
            }
        }
        var plt = new Plot();
        var hm = plt.Add.Heatmap(grid);
        hm.Colormap = new ScottPlot.Colormaps.Grayscale();
        hm.ManualRange = new ScottPlot.Range(0, 1);
        hm.NaNCellColor = Colors.White;
        for (int e = 0; e < examples; e++)
        {
            double yText = height - 1 - ((e * (side + gap)) + (side / 2.0));
            var t = plt.Add.Text($"true {names[(int)labels[e]]}, target {names[(int)targets[e]]}\nheld-out CNN: {names[(int)clean[e]]} → {names[(int)fooled[e]]}", width + 2, yText);
            t.LabelAlignment = Alignment.MiddleLeft;
            t.LabelFontSize = 13;
        }
        foreach (var (title, col) in new[] { ("original", 0), ("perturbation (δ/2ε + ½)", side + gap), ("adversarial", 2 * (side + gap)) })
        {
            var t = plt.Add.Text(title, col + (side / 2.0), height + 2);
            t.LabelAlignment = Alignment.LowerCenter;
            t.LabelFontSize = 13;
        }
        plt.Axes.SetLimits(-2, width + 75, -2, height + 10);
        plt.HideGrid();
        plt.Axes.Frameless();
        plt.Title("Retina ensemble of 4 CNNs, ε = 32/255, targeted; labels by the held-out CNN (seed 101)");
        plt.SavePng(path, 900, 1000);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
