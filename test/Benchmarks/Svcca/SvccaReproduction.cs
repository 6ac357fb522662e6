using Components.Core.Data;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using System.Diagnostics;
using System.Globalization;
using Components.Transforms.Svcca;
using ScottPlot;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Svcca;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- svcca-repro [epochs] [imagesDir] [threads]</c>: reproduces the
/// SVCCA paper's MLP experiments on Fashion-MNIST with networks trained by the suite's NeuralNetwork trainer
/// (784-200-200-200-10, ReLU, Adam) and read through the LayerActivations transform: (1) layer-by-layer SVCCA between two
/// networks trained from different seeds vs an untrained-network baseline; (2) SVCCA of each layer with its own final
/// state over training, from the trainer's checkpoint callback ("networks converge bottom up"); (3) intrinsic
/// dimensionality: test accuracy when a layer is replaced by its projection onto its top-k SVCCA directions (vs PCA and
/// random directions); (4) freeze training (the trainer's FreezeSchedule): accuracy and backward compute saved.
/// Writes PNG plots to docs/images (or <c>imagesDir</c>) and prints the measured numbers.
/// </summary>
internal static class SvccaReproduction
{
    private const int Hidden = 200;
    private const int Probe = 2000;
    private const int BatchSize = 128;
    private static readonly int[] Layers = [1, 2, 3, 4];
    private static readonly string[] LayerNames = ["h1", "h2", "h3", "logits"];
    private static readonly long[] EarlySteps = [25, 50, 100, 200];
    private static readonly int[] Ks = [1, 2, 3, 5, 10, 15, 20, 30, 50, 75, 100, 150, 200];
    private static readonly SvccaSettings K20 = SvccaSettings.Default with { Dimensions = 20 }; // the reference tutorial's choice
    private static readonly double[][] FreezeSchedules = [[0.2, 0.3, 0.4], [0.5, 0.6, 0.7]];

    public static int Run(string[] args)
    {
        int epochs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        string images = args.Length > 1 ? args[1] : Path.Combine(FindRepoRoot(), "docs", "images");
        // One thread by default: this small MLP gains nothing from two, and OpenMP spinning on a shared machine costs 7×.
        torch.set_num_threads(args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1);
        Directory.CreateDirectory(images);
        var total = Stopwatch.StartNew();
        using var scope = torch.NewDisposeScope();
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.Load(ml);
        var probeView = ml.Data.TakeRows(data.Test, Probe);
        var evalView = ml.Data.SkipRows(data.Test, Probe);
        var probe = DataLoading.LoadFeatures(probeView, "Features");
        var (testX, testY) = (DataLoading.LoadFeatures(data.Test, "Features"), DataLoading.LoadKeyLabels(data.Test, "Label").Labels);
        var evalY = DataLoading.LoadKeyLabels(evalView, "Label").Labels;
        Console.WriteLine($"# SVCCA reproduction: Fashion-MNIST, NeuralNetwork trainer, MLP 784-{Hidden}-{Hidden}-{Hidden}-10 ReLU (He init), Adam 1e-3, batch {BatchSize}, {epochs} epochs; " +
            $"probe = first {Probe} test images, evaluation = the other {testX.shape[0] - Probe}; torch threads {torch.get_num_threads()}; load {File.ReadAllText("/proc/loadavg").Trim()}");

        // Network 1 with activation snapshots over training (the trainer's checkpoint callback); network 2 from another
        // seed; an untrained network of the same architecture and initialisation.
        var checkpoints = new List<(double Epoch, Tensor[] Acts)>();
        long stepsPerEpoch = 0;
        var (net1, time1) = Train(ml, data.Train, 1, epochs, [], c =>
        {
            stepsPerEpoch = c.StepsPerEpoch;
            if (c.Step == 0 || EarlySteps.Contains(c.Step) || c.IsEpochEnd)
                checkpoints.Add((c.EpochsDone, Snapshot(c.Module, probe)));
        });
        var (net2, time2) = Train(ml, data.Train, 2, epochs, [], null);
        using var untrainedGenerator = new Generator(3);
        using var untrained = NeuralNetworkModule.Create(net1.Architecture, untrainedGenerator);
        var acts1 = LayerActivations(ml, net1, probeView);
        var acts2 = LayerActivations(ml, net2, probeView);
        Tensor[] actsRandom;
        using (torch.no_grad())
            actsRandom = untrained.ForwardLayers(probe, Layers);
        double snapshotGap = acts1.Zip(checkpoints[^1].Acts).Max(p => (p.First - p.Second).abs().max().item<float>());
        double acc1 = Accuracy(ml, net1, data.Test), acc2 = Accuracy(ml, net2, data.Test);
        Console.WriteLine($"test accuracy: net 1 {Pct(acc1)}, net 2 {Pct(acc2)}, untrained {Pct(AccuracyFrom(untrained, 0, testX, testY))}; " +
            $"fits {time1:F0} s and {time2:F0} s of user CPU; last checkpoint vs LayerActivations max |Δ| {snapshotGap:G3}");

        // (1) Layer-by-layer similarity across seeds vs baselines.
        using var gen = new Generator(4);
        var gaussian = acts1.Select(a => torch.randn(a.shape, ScalarType.Float32, generator: gen)).ToArray();
        Console.WriteLine();
        Console.WriteLine("| layer | kept dims (99% var) net 1 / net 2 | SVCCA net 1 vs net 2 | PWCCA net 1 vs net 2 | SVCCA net 1 vs untrained net | SVCCA net 1 vs iid Gaussian | SVCCA k=20 net 1 vs net 2 | SVCCA k=20 net 1 vs untrained | linear CKA net 1 vs net 2 | linear CKA net 1 vs untrained |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        var seeds = new double[4];
        var randomNet = new double[4];
        var noise = new double[4];
        for (int l = 0; l < 4; l++)
        {
            var r12 = SvccaAnalysis.Compute(acts1[l], acts2[l]);
            var r1r = SvccaAnalysis.Compute(acts1[l], actsRandom[l]);
            var r1g = SvccaAnalysis.Compute(acts1[l], gaussian[l]);
            seeds[l] = r12.Mean;
            randomNet[l] = r1r.Mean;
            noise[l] = r1g.Mean;
            Console.WriteLine($"| {LayerNames[l]} | {r12.KeptA} / {r12.KeptB} | {r12.Mean:F3} | {r12.Pwcca:F3} | {r1r.Mean:F3} | {r1g.Mean:F3} | {SvccaAnalysis.Compute(acts1[l], acts2[l], K20).Mean:F3} | {SvccaAnalysis.Compute(acts1[l], actsRandom[l], K20).Mean:F3} | {Cka.Linear(acts1[l], acts2[l]):F3} | {Cka.Linear(acts1[l], actsRandom[l]):F3} |");
        }
        var matrix = RepresentationComparison.Compare(acts1, acts2, SimilarityMeasure.Svcca, names1: LayerNames.Select(n => "net1 " + n).ToArray(), names2: LayerNames.Select(n => "net2 " + n).ToArray());
        Console.WriteLine();
        Console.WriteLine("SVCCA similarity matrix, net 1 (rows) × net 2 (columns):");
        Console.Write(matrix.ToCsv());
        SvccaHeatmap.Save(matrix, Path.Combine(images, "svcca-seeds-heatmap.png"), "SVCCA: net 1 (rows) vs net 2 (columns), Fashion-MNIST MLP");
        BarPlot(seeds, randomNet, noise, Path.Combine(images, "svcca-layers-seeds.png"));

        // (2) Convergence: each layer vs its own final state (99% variance, and the tutorial's fixed k = 20).
        foreach (var (settings, label, file) in new[] { (SvccaSettings.Default, "99% variance", "svcca-convergence.png"), (K20, "k = 20", "svcca-convergence-k20.png") })
        {
            Console.WriteLine();
            Console.WriteLine($"SVCCA ({label}) of each layer of net 1 with its final state:");
            Console.WriteLine();
            Console.WriteLine("| epoch | " + string.Join(" | ", LayerNames) + " |");
            Console.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---|", 4)));
            var curves = new double[4][];
            for (int l = 0; l < 4; l++)
                curves[l] = new double[checkpoints.Count];
            for (int c = 0; c < checkpoints.Count; c++)
            {
                for (int l = 0; l < 4; l++)
                    curves[l][c] = SvccaAnalysis.Compute(checkpoints[c].Acts[l], acts1[l], settings).Mean;
                Console.WriteLine($"| {checkpoints[c].Epoch.ToString("0.###", CultureInfo.InvariantCulture)} | " + string.Join(" | ", curves.Select(cu => cu[c].ToString("F3", CultureInfo.InvariantCulture))) + " |");
            }
            ConvergencePlot(checkpoints.Select(c => c.Epoch).ToArray(), curves, Path.Combine(images, file), label);
        }

        // (3) Intrinsic dimensionality: replace a hidden layer of net 1 by its projection onto k directions fitted on the probe.
        IntrinsicDimensionality(ml, net1, net2, acts1, acts2, probeView, evalView, evalY, images);

        // (4) Freeze training: the same seeds with lower layers frozen bottom-up early in training.
        FreezeTraining(ml, data, epochs, epochs * stepsPerEpoch, [(net1, time1), (net2, time2)]);

        net1.Dispose();
        net2.Dispose();
        Console.WriteLine();
        Console.WriteLine($"total {total.Elapsed.TotalSeconds:F0} s; load {File.ReadAllText("/proc/loadavg").Trim()}; plots in {images}");
        return 0;
    }

    private static (NeuralNetworkMulticlassModel Model, double Seconds) Train(MLContext ml, IDataView train, int seed, int epochs, double[] freeze,
        Action<NeuralNetworkCheckpoint>? checkpoint)
    {
        // User CPU time of the process rather than wall time (or system time, which memory pressure inflates): on a shared machine the wall time of a fit follows the load.
        var cpu = Process.GetCurrentProcess().UserProcessorTime;
        var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [Hidden, Hidden, Hidden],
            LearningRate = 1e-3,
            BatchSize = BatchSize,
            NumberOfEpochs = epochs,
            FreezeSchedule = freeze,
            CheckpointCallback = checkpoint,
            Seed = seed,
        }).Fit(train);
        return (model, (Process.GetCurrentProcess().UserProcessorTime - cpu).TotalSeconds);
    }

    /// <summary>Activations of every layer of the network being trained on the probe (a checkpoint), kept past the step.</summary>
    private static Tensor[] Snapshot(NeuralNetworkModule module, Tensor probe)
    {
        using var noGrad = torch.no_grad();
        return module.ForwardLayers(probe, Layers).Select(t => t.DetachFromDisposeScope()).ToArray();
    }

    /// <summary>Every layer's activations (h1, h2, h3 post-ReLU; logits) on <paramref name="view"/>, through <c>ml.Transforms.LayerActivations</c>.</summary>
    private static Tensor[] LayerActivations(MLContext ml, NeuralNetworkMulticlassModel model, IDataView view)
    {
        using var transformer = ml.Transforms.LayerActivations(model, Layers).Fit(view);
        return DataLoading.LoadVectors(transformer.Transform(view), Layers.Select(l => "Layer" + l).ToArray(), "activation");
    }

    private static string Pct(double x, string format = "F2") => (100 * x).ToString(format, CultureInfo.InvariantCulture) + "%";

    private static double Accuracy(MLContext ml, NeuralNetworkMulticlassModel model, IDataView test)
        => ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;

    /// <summary>
    /// Accuracy on labels <paramref name="y"/> of the rest of the MLP fed with <paramref name="h"/> as layer
    /// <paramref name="layer"/>'s output (0: <paramref name="h"/> is the input), using the network's own weights.
    /// </summary>
    private static double AccuracyFrom(NeuralNetworkModule module, int layer, Tensor h, Tensor y)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var p = module.named_parameters().ToDictionary(t => t.name, t => t.parameter);
        int count = module.Architecture.LayerCount;
        var x = h.to(ScalarType.Float32);
        for (int i = layer; i < count; i++)
        {
            x = nn.functional.linear(x, p[$"layers.{i}.weight"], p[$"layers.{i}.bias"]);
            if (i < count - 1)
                x = nn.functional.relu(x);
        }
        return x.argmax(1).eq(y).to(ScalarType.Float64).mean().item<double>();
    }

    private static void IntrinsicDimensionality(MLContext ml, NeuralNetworkMulticlassModel net1, NeuralNetworkMulticlassModel net2, Tensor[] probe1, Tensor[] probe2,
        IDataView probeView, IDataView evalView, Tensor evalY, string images)
    {
        var eval1 = LayerActivations(ml, net1, evalView);
        double full = AccuracyFrom(net1.Module, 4, eval1[3], evalY);
        Console.WriteLine();
        Console.WriteLine($"Intrinsic dimensionality: accuracy of net 1 on the {evalY.shape[0]} evaluation images with one hidden layer replaced by " +
            $"mean + its rank-k reconstruction from k directions fitted on the {Probe} probe images (unprojected: {Pct(full)}):");
        Console.WriteLine();
        Console.WriteLine("| layer | directions | " + string.Join(" | ", Ks.Select(k => "k=" + k)) + " |");
        Console.WriteLine("|---|---|" + string.Concat(Enumerable.Repeat("---|", Ks.Length)));
        using var gen = new Generator(5);
        var curves = new List<(string Label, int Layer, int Style, double[] K, double[] Acc)>();
        for (int l = 0; l < 3; l++)
        {
            using var scope = torch.NewDisposeScope();
            var a = probe1[l].to(ScalarType.Float64);
            var mean = a.mean([0], keepdim: true);
            var centred = a - mean;
            var evalCentred = eval1[l].to(ScalarType.Float64) - mean;
            // SVCCA directions of net 1's layer against the same layer of net 2 (99% variance SVD step), best ρ first.
            var svcca = SvccaAnalysis.Compute(probe1[l], probe2[l]);
            var zProbe = svcca.Project(probe1[l], SvccaSide.A);
            var zEval = svcca.Project(eval1[l], SvccaSide.A);
            // PCA directions of the layer itself (its SVCCA with itself keeps exactly its SVD subspace).
            var (_, _, vh) = torch.linalg.svd(centred, fullMatrices: false);
            var directions = new (string Name, Func<int, Tensor?> Project)[]
            {
                ($"SVCCA vs net 2 ({svcca.Components} dirs)", k =>
                {
                    if (k > svcca.Components)
                        return null;
                    var z = zProbe.narrow(1, 0, k);
                    var r = torch.linalg.solve(z.t().matmul(z), z.t().matmul(centred)); // least-squares map variates → neurons
                    return zEval.narrow(1, 0, k).matmul(r);
                }),
                ("PCA (itself)", k =>
                {
                    var v = vh.narrow(0, 0, k);
                    return evalCentred.matmul(v.t()).matmul(v);
                }),
                ("random", k =>
                {
                    var (q, _) = torch.linalg.qr(torch.randn([Hidden, k], ScalarType.Float64, generator: gen));
                    return evalCentred.matmul(q).matmul(q.t());
                }),
            };
            for (int s = 0; s < directions.Length; s++)
            {
                var ks = new List<double>();
                var accs = new List<double>();
                var cells = new List<string>();
                foreach (var k in Ks)
                {
                    using var kScope = torch.NewDisposeScope();
                    var projected = directions[s].Project(k);
                    if (projected is null)
                    {
                        cells.Add("–");
                        continue;
                    }
                    double acc = AccuracyFrom(net1.Module, l + 1, projected + mean, evalY);
                    ks.Add(k);
                    accs.Add(acc);
                    cells.Add(acc.ToString("F3", CultureInfo.InvariantCulture));
                }
                Console.WriteLine($"| {LayerNames[l]} | {directions[s].Name} | " + string.Join(" | ", cells) + " |");
                curves.Add(($"{LayerNames[l]} {directions[s].Name}", l, s, [.. ks], [.. accs]));
            }
        }
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        foreach (var (label, layer, style, ks, accs) in curves)
        {
            var sc = plt.Add.Scatter(ks.Select(Math.Log10).ToArray(), accs);
            sc.LegendText = label;
            sc.Color = palette.GetColor(layer);
            sc.LinePattern = style switch { 0 => LinePattern.Solid, 1 => LinePattern.Dashed, _ => LinePattern.Dotted };
        }
        var line = plt.Add.HorizontalLine(full);
        line.LinePattern = LinePattern.DenselyDashed;
        line.Color = Colors.Gray;
        line.LegendText = "unprojected";
        plt.Axes.Bottom.SetTicks(Ks.Select(k => Math.Log10(k)).ToArray(), Ks.Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray());
        plt.Axes.SetLimitsY(0, 1);
        plt.XLabel("k (directions kept, log scale)");
        plt.YLabel("test accuracy with the layer projected");
        plt.Title("Intrinsic dimensionality: Fashion-MNIST MLP, net 1");
        plt.ShowLegend(Alignment.UpperLeft);
        plt.SavePng(Path.Combine(images, "svcca-intrinsic-dimensionality.png"), 900, 560);
    }

    private static void FreezeTraining(MLContext ml, FashionMnistData data, int epochs, long steps, (NeuralNetworkMulticlassModel Model, double Seconds)[] normal)
    {
        int[] dims = [784, Hidden, Hidden, Hidden, 10];
        var (normalForward, normalBackward) = Flops(dims, [], steps);
        Console.WriteLine();
        Console.WriteLine($"Freeze training: layer i frozen before step round(fraction_i × {steps}); the same seeds (1, 2) as nets 1 and 2 " +
            "(net 1's fit also took its checkpoints). " +
            "FLOPs: multiply-adds × 2 of the dense layers' forward and backward GEMMs (weight and input gradients; none below the lowest trainable layer), biases ignored.");
        Console.WriteLine();
        Console.WriteLine("| schedule (h1, h2, h3) | test accuracy seed 1 / 2 | final-epoch train accuracy seed 1 / 2 | backward FLOPs vs normal | training FLOPs vs normal | Fit user CPU time seed 1 / 2 (s) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        void Row(string name, (NeuralNetworkMulticlassModel Model, double Seconds)[] runs, double[] schedule)
        {
            var (f, b) = Flops(dims, schedule, steps);
            Console.WriteLine($"| {name} | {string.Join(" / ", runs.Select(r => Pct(Accuracy(ml, r.Model, data.Test))))} | " +
                $"{string.Join(" / ", runs.Select(r => Pct(r.Model.TrainingHistory[^1].TrainingMetric)))} | " +
                $"{Pct(b / normalBackward, "F1")} | {Pct((f + b) / (normalForward + normalBackward), "F1")} | {string.Join(" / ", runs.Select(r => r.Seconds.ToString("F0", CultureInfo.InvariantCulture)))} |");
        }
        Row("none (normal training)", normal, []);
        foreach (var schedule in FreezeSchedules)
        {
            var runs = new[] { 1, 2 }.Select(seed => Train(ml, data.Train, seed, epochs, schedule, null)).ToArray();
            Row($"{string.Join(", ", schedule.Select(s => s.ToString("0.##", CultureInfo.InvariantCulture)))}", runs, schedule);
            foreach (var r in runs)
                r.Model.Dispose();
        }
    }

    /// <summary>Forward and backward FLOPs of a run of <paramref name="steps"/> steps of an MLP with layer widths <paramref name="dims"/>, per example.</summary>
    private static (double Forward, double Backward) Flops(int[] dims, double[] schedule, long steps)
    {
        var freezeAt = schedule.Select(f => (long)Math.Round(f * steps)).ToArray();
        double forward = 0, backward = 0;
        for (long s = 0; s < steps; s++)
        {
            int frozen = freezeAt.Count(at => s >= at);
            for (int i = 0; i < dims.Length - 1; i++)
            {
                double gemm = 2.0 * dims[i] * dims[i + 1];
                forward += gemm;
                if (i >= frozen)
                    backward += gemm + (i > frozen ? gemm : 0); // weight gradient; input gradient unless it is the lowest trainable layer
            }
        }
        return (forward, backward);
    }

    private static void BarPlot(double[] seeds, double[] randomNet, double[] noise, string path)
    {
        var plt = new Plot();
        var series = new[] { ("net 1 vs net 2 (other seed)", seeds), ("net 1 vs untrained net", randomNet), ("net 1 vs iid Gaussian", noise) };
        var palette = new ScottPlot.Palettes.Category10();
        for (int s = 0; s < series.Length; s++)
        {
            var bars = series[s].Item2.Select((v, l) => new Bar { Position = l * 4 + s, Value = v, FillColor = palette.GetColor(s) }).ToArray();
            plt.Add.Bars(bars);
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = series[s].Item1, FillColor = palette.GetColor(s) });
        }
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, 4).Select(l => l * 4 + 1.0).ToArray(), LayerNames);
        plt.Axes.SetLimitsY(0, 1.3);
        plt.YLabel("SVCCA mean ρ (99% variance)");
        plt.Title("Fashion-MNIST MLP: layer-by-layer SVCCA");
        plt.ShowLegend(Alignment.UpperCenter);
        plt.SavePng(path, 800, 500);
    }

    private static void ConvergencePlot(double[] epochs, double[][] curves, string path, string label)
    {
        var plt = new Plot();
        for (int l = 0; l < curves.Length; l++)
        {
            var sc = plt.Add.Scatter(epochs, curves[l]);
            sc.LegendText = LayerNames[l];
        }
        plt.Axes.SetLimitsY(0, 1.05);
        plt.XLabel("epoch (first points: 25, 50, 100, 200 steps)");
        plt.YLabel($"SVCCA ({label}) with the layer's final state");
        plt.Title("Convergence over training (net 1)");
        plt.ShowLegend(Alignment.LowerRight);
        plt.SavePng(path, 800, 500);
    }

    internal static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(Directory.GetCurrentDirectory());
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Components.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}
