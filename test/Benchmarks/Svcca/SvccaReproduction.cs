using Components.Core.Data;
using Components.Core.Tensors;
using Microsoft.ML;
using System.Diagnostics;
using System.Globalization;
using Components.Transforms.Svcca;
using ScottPlot;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Svcca;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- svcca-repro [epochs] [imagesDir]</c>: reproduces the SVCCA
/// paper's two MLP observations on Fashion-MNIST with a small TorchSharp MLP trained here (784-200-200-200-10, ReLU,
/// Adam): (1) layer-by-layer SVCCA between two networks trained from different seeds vs a random-network baseline;
/// (2) SVCCA of each layer with its own final state over training ("networks converge bottom up").
/// Writes PNG plots to docs/images (or <c>imagesDir</c>) and prints the measured numbers.
/// </summary>
internal static class SvccaReproduction
{
    private const int Hidden = 200;
    private const int Probe = 2000;
    private const int BatchSize = 128;
    private static readonly string[] LayerNames = ["h1", "h2", "h3", "logits"];
    private static readonly SvccaSettings K20 = SvccaSettings.Default with { Dimensions = 20 }; // the reference tutorial's choice

    public static int Run(string[] args)
    {
        int epochs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        string images = args.Length > 1 ? args[1] : Path.Combine(FindRepoRoot(), "docs", "images");
        // One thread by default: this small MLP gains nothing from two, and OpenMP spinning on a shared machine costs 7×.
        torch.set_num_threads(args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1);
        Directory.CreateDirectory(images);
        var total = Stopwatch.StartNew();
        using var scope = torch.NewDisposeScope();
        var data = FashionMnist.Load(new MLContext(seed: 0));
        var (trainX, trainY) = (DataLoading.LoadFeatures(data.Train, "Features"), DataLoading.LoadKeyLabels(data.Train, "Label").Labels);
        var (testX, testY) = (DataLoading.LoadFeatures(data.Test, "Features"), DataLoading.LoadKeyLabels(data.Test, "Label").Labels);
        var probe = testX.narrow(0, 0, Probe);
        Console.WriteLine($"# SVCCA reproduction: Fashion-MNIST, train {trainX.shape[0]}, probe = first {Probe} test images, MLP 784-{Hidden}-{Hidden}-{Hidden}-10 ReLU, Adam 1e-3, batch {BatchSize}, {epochs} epochs, torch threads {torch.get_num_threads()}");

        // Network 1 with activation snapshots over training; network 2 from another seed; an untrained network.
        var checkpoints = new List<(double Epoch, Tensor[] Acts)>();
        var net1 = Mlp(seed: 1);
        checkpoints.Add((0, Activations(net1, probe)));
        Train(net1, trainX, trainY, epochs, seed: 1, (epoch, acts) => checkpoints.Add((epoch, acts)), probe, earlySteps: [25, 50, 100, 200]);
        var net2 = Mlp(seed: 2);
        Train(net2, trainX, trainY, epochs, seed: 2, null, probe, []);
        var random = Mlp(seed: 3);
        var acts1 = checkpoints[^1].Acts;
        var acts2 = Activations(net2, probe);
        var actsRandom = Activations(random, probe);
        Console.WriteLine($"test accuracy: net 1 {Accuracy(net1, testX, testY):P2}, net 2 {Accuracy(net2, testX, testY):P2}, untrained {Accuracy(random, testX, testY):P2} (training took {total.Elapsed.TotalSeconds:F0} s)");

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
        Console.WriteLine();
        Console.WriteLine($"total {total.Elapsed.TotalSeconds:F0} s; plots in {images}");
        return 0;
    }

    private static nn.Module<Tensor, Tensor> Mlp(int seed)
    {
        var net = nn.Sequential(
            ("fc1", nn.Linear(784, Hidden)), ("relu1", nn.ReLU()),
            ("fc2", nn.Linear(Hidden, Hidden)), ("relu2", nn.ReLU()),
            ("fc3", nn.Linear(Hidden, Hidden)), ("relu3", nn.ReLU()),
            ("fc4", nn.Linear(Hidden, 10)));
        // PyTorch's default Linear initialisation (U(±1/√fan_in)), drawn from a per-network generator.
        using var g = new Generator((ulong)seed);
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in net.named_parameters())
        {
            long fanIn = name.EndsWith("weight", StringComparison.Ordinal) ? p.shape[1] : net.named_parameters().First(q => q.name == name.Replace("bias", "weight")).parameter.shape[1];
            double bound = 1.0 / Math.Sqrt(fanIn);
            using var u = torch.rand(p.shape, generator: g);
            p.copy_(u * (2 * bound) - bound);
        }
        return net;
    }

    /// <summary>Post-ReLU activations of h1, h2, h3 and the logits on <paramref name="x"/>: four [N, width] float32 tensors.</summary>
    private static Tensor[] Activations(nn.Module<Tensor, Tensor> net, Tensor x)
    {
        using var noGrad = torch.no_grad();
        var layers = ((TorchSharp.Modules.Sequential)(object)net).children().Cast<nn.Module<Tensor, Tensor>>().ToArray();
        var acts = new List<Tensor>();
        var h = x;
        for (int i = 0; i < layers.Length; i++)
        {
            h = layers[i].call(h);
            if (i % 2 == 1 || i == layers.Length - 1)
                acts.Add(h.detach().clone());
        }
        return acts.ToArray();
    }

    private static void Train(nn.Module<Tensor, Tensor> net, Tensor x, Tensor y, int epochs, int seed, Action<double, Tensor[]>? snapshot, Tensor probe, int[] earlySteps)
    {
        var opt = optim.Adam(net.parameters(), lr: 1e-3);
        var rng = new Random(seed);
        long n = x.shape[0];
        int steps = (int)((n + BatchSize - 1) / BatchSize);
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            var perm = torch.tensor(Enumerable.Range(0, (int)n).OrderBy(_ => rng.Next()).Select(i => (long)i).ToArray());
            double loss = 0;
            for (int s = 0; s < steps; s++)
            {
                using var scope = torch.NewDisposeScope();
                var idx = perm.narrow(0, s * BatchSize, Math.Min(BatchSize, n - s * BatchSize));
                opt.zero_grad();
                var l = nn.functional.cross_entropy(net.call(x.index_select(0, idx)), y.index_select(0, idx));
                l.backward();
                opt.step();
                loss += l.item<float>();
                if (epoch == 1 && snapshot is not null && earlySteps.Contains(s + 1))
                    snapshot((s + 1.0) / steps, Activations(net, probe).Select(t => t.DetachFromDisposeScope()).ToArray());
            }
            perm.Dispose();
            Console.WriteLine($"seed {seed} epoch {epoch}: train loss {loss / steps:F4}");
            snapshot?.Invoke(epoch, Activations(net, probe));
        }
    }

    private static double Accuracy(nn.Module<Tensor, Tensor> net, Tensor x, Tensor y)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return net.call(x).argmax(1).eq(y).to(ScalarType.Float64).mean().item<double>();
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
