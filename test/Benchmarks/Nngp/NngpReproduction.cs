using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using Components.Core;
using Components.Kernels.Nngp;
using Components.Trainers.Nngp;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Benchmarks.Nngp;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- nngp-repro [dir] [sizes] [--erf-sizes 1000,5000]
/// [--phis relu,erf] [--criteria validation,likelihood] [--test-rows 10000] [--results-csv path] [--png path] [--no-baselines]</c>:
/// NNGP (ReLU, Erf) test accuracy on the full Fashion-MNIST test set for class-balanced training subsets (the paper's
/// selection: the first n/10 of each class), beside ML.NET's SdcaMaximumEntropy and LbfgsMaximumEntropy on the same
/// split, and how the predictive variance tracks errors. Hyperparameters are chosen once per nonlinearity on the
/// n = 1,000 subset by both of the trainer's criteria (validation accuracy and log marginal likelihood), each pick is
/// then fitted at every n. Prints markdown tables; optionally one CSV row per (nonlinearity, criterion, n) and a PNG of
/// predicted against realised squared error by variance decile.
/// </summary>
public static class NngpReproduction
{
    private static readonly string[] s_classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];


    public sealed class Row
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public sealed class LabelRow
    {
        public string Label { get; set; } = "";
    }

    private sealed record Measured(string Phi, string Criterion, int N, NngpArchitecture Arch, double Reg, double Accuracy, double Auroc,
        double Pearson, double Spearman, double Fit, double Predict, double[] DecilePredicted, double[] DecileRealised, double[] DecileAccuracy);

    public static int Run(string[] args)
    {
        torch.set_num_threads(1);
        var positional = new List<string>();
        var flags = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--no-baselines")
                flags[args[i]] = "";
            else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
                flags[args[i]] = args[++i];
            else
                positional.Add(args[i]);
        }
        string dir = positional.Count > 0 ? positional[0] : "/usr/share/datasets/fashion-mnist";
        static int[] Sizes(string s) => s.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        int[] sizes = positional.Count > 1 ? Sizes(positional[1]) : [1000, 5000, 20000];
        int[] erfSizes = flags.TryGetValue("--erf-sizes", out var es) ? Sizes(es) : sizes;
        string? csv = flags.GetValueOrDefault("--results-csv");
        string? png = flags.GetValueOrDefault("--png");
        var phis = (flags.GetValueOrDefault("--phis") ?? "relu,erf").Split(',')
            .Select(p => p == "relu" ? NngpNonlinearity.Relu : p == "erf" ? NngpNonlinearity.Erf() : throw new ArgumentException($"--phis: unknown nonlinearity '{p}' (relu, erf)."))
            .ToArray();
        var criteria = (flags.GetValueOrDefault("--criteria") ?? "validation,likelihood").Split(',')
            .Select(c => c == "validation" ? NngpSelectionCriterion.Validation : c == "likelihood" ? NngpSelectionCriterion.LogMarginalLikelihood : throw new ArgumentException($"--criteria: unknown criterion '{c}' (validation, likelihood)."))
            .ToArray();
        int testRows = flags.TryGetValue("--test-rows", out var tr) ? int.Parse(tr, CultureInfo.InvariantCulture) : int.MaxValue;
        if (!File.Exists(Path.Combine(dir, "train-images-idx3-ubyte.gz")))
        {
            Console.Error.WriteLine($"Fashion-MNIST IDX files not found in {dir}.");
            return 1;
        }
        var (trainX, trainY) = ReadIdx(dir, "train");
        var (testX, testY) = ReadIdx(dir, "t10k");
        if (testRows < testX.Length)
            (testX, testY) = (testX[..testRows], testY[..testRows]);
        Console.WriteLine($"Fashion-MNIST: {trainX.Length} train, {testX.Length} test images; cores {Environment.ProcessorCount}, torch threads 1; loadavg {LoadAvg()}");

        var ml = new MLContext(seed: 0);
        ml.Log += (_, e) =>
        {
            // Phases only (kernel, factorisation, search result); per-candidate search lines are Info too but indented.
            if (e.Kind is Microsoft.ML.Runtime.ChannelMessageKind.Info or Microsoft.ML.Runtime.ChannelMessageKind.Warning
                && e.Source.StartsWith("Nngp", StringComparison.Ordinal) && !e.Message.Contains("]   ", StringComparison.Ordinal))
                Console.WriteLine($"    {e.Message}");
        };
        var keyData = ml.Data.LoadFromEnumerable(s_classes.Select(c => new LabelRow { Label = c }));
        IDataView Keyed(IEnumerable<Row> rows)
        {
            var data = ml.Data.LoadFromEnumerable(rows);
            return ml.Transforms.Conversion.MapValueToKey("Label", keyData: keyData).Fit(data).Transform(data);
        }
        var test = ml.Data.Cache(Keyed(Enumerable.Range(0, testX.Length).Select(i => new Row { Features = testX[i], Label = s_classes[testY[i]] })));
        var testLabels = testY;

        var results = new List<string>();
        var measured = new List<Measured>();
        var searchLines = new List<string>();
        foreach (var phi in phis)
        {
            // Hyperparameters: both criteria on the n = 1,000 subset, near the order-to-chaos line.
            var searchData = ml.Data.Cache(Keyed(Subset(trainX, trainY, 1000)));
            var picks = new List<(string Criterion, NngpArchitecture Arch, double Reg)>();
            foreach (var criterion in criteria)
            {
                var search = new NngpMulticlassTrainer.Options
                {
                    Nonlinearity = phi,
                    Selection = criterion,
                    SelectionMaxRows = 1000,
                    DepthCandidates = [1, 2, 3],
                    BiasVarianceCandidates = [0.01, 0.1, 0.5],
                    SearchNearCriticalLine = true,
                    CriticalLineMultipliers = [0.8, 1.0, 1.2],
                    // RegularizerCandidates: the trainer's default grid.
                    PredictVariance = false,
                    Seed = 0,
                };
                var watch = Stopwatch.StartNew();
                using var searched = ml.MulticlassClassification.Trainers.Nngp(search).Fit(searchData);
                string name = criterion == NngpSelectionCriterion.Validation ? "validation" : "marginal likelihood";
                picks.Add((name, searched.Model.Architecture, searched.Model.Regularizer));
                searchLines.Add(F($"* {phi.Name}, {name}: {searched.SelectionResults.Count} candidates in {watch.Elapsed.TotalSeconds:F1} s selected {searched.Model.Architecture}, ε {searched.Model.Regularizer:G3}"));
                Console.WriteLine(searchLines[^1]);
                // The profile over ε: the best score over architectures at each regulariser (interior optimum or not).
                var profile = searched.SelectionResults.GroupBy(e => e.Regularizer).OrderBy(g => g.Key)
                    .Select(g => F($"{g.Key:G3}: {g.Max(e => e.Score):G5}"));
                searchLines.Add($"  * best score per ε: {string.Join(", ", profile)}");
                Console.WriteLine(searchLines[^1]);
            }
            foreach (int n in phi.Name == NngpNonlinearity.Relu.Name ? sizes : erfSizes)
            {
                var train = Keyed(Subset(trainX, trainY, n));
                var done = new Dictionary<(NngpArchitecture, double), Measured>();
                foreach (var (criterion, arch, reg) in picks)
                {
                    if (done.TryGetValue((arch, reg), out var same))
                    {
                        measured.Add(same with { Criterion = criterion });
                        Console.WriteLine(F($"{phi.Name}, {criterion}, n = {n}: same pick as {same.Criterion}"));
                        continue;
                    }
                    var m = Measure(ml, phi, criterion, n, arch, reg, train, test, testLabels);
                    done[(arch, reg)] = m;
                    measured.Add(m);
                    Console.WriteLine(F($"{phi.Name}, {criterion}, n = {n}: accuracy {m.Accuracy:F4}, AUROC {m.Auroc:F3}, Pearson {m.Pearson:F3}, Spearman {m.Spearman:F3}, fit {m.Fit:F1} s, predict {m.Predict:F1} s; loadavg {LoadAvg()}"));
                }
            }
        }

        foreach (var m in measured)
            results.Add(F($"| NNGP {m.Phi}, {m.Criterion} ({m.Arch.Depth}-{m.Arch.WeightVariance:G3}-{m.Arch.BiasVariance:G3}, ε {m.Reg:G2}) | {m.N} | {m.Accuracy:F4} | {m.Fit:F1} | {m.Predict:F1} | {m.Auroc:F3} |"));
        if (!flags.ContainsKey("--no-baselines"))
        {
            foreach (int n in sizes)
            {
                var train = ml.Data.Cache(Keyed(Subset(trainX, trainY, n)));
                foreach (var (name, trainer) in new (string, IEstimator<ITransformer>)[]
                {
                    ("ML.NET SdcaMaximumEntropy", ml.MulticlassClassification.Trainers.SdcaMaximumEntropy()),
                    ("ML.NET LbfgsMaximumEntropy", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()),
                })
                {
                    var watch = Stopwatch.StartNew();
                    var model = trainer.Fit(train);
                    double fit = watch.Elapsed.TotalSeconds;
                    watch.Restart();
                    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
                    results.Add(F($"| {name} (defaults) | {n} | {metrics.MicroAccuracy:F4} | {fit:F1} | {watch.Elapsed.TotalSeconds:F1} | – |"));
                    Console.WriteLine(results[^1]);
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"loadavg at the end {LoadAvg()}");
        Console.WriteLine();
        Console.WriteLine("Searches (n = 1,000 subset):");
        searchLines.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"| model | train n | test accuracy ({testX.Length} rows) | fit s | predict s | AUROC(variance → error) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        results.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine("Predictive variance against the squared error of the posterior mean, per test point (squared error: mean over the 10 classes of (μ − (one-hot − 1/10))²):");
        Console.WriteLine();
        Console.WriteLine("| run | Pearson | Spearman | AUROC(variance → misclassified) |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var m in measured)
            Console.WriteLine(F($"| {m.Phi}, {m.Criterion}, n = {m.N} | {m.Pearson:F3} | {m.Spearman:F3} | {m.Auroc:F3} |"));
        Console.WriteLine();
        Console.WriteLine("By variance decile (D1 = lowest): predicted squared error (Variance + σ̂²λ) / realised mean squared error / accuracy:");
        Console.WriteLine();
        Console.WriteLine("| run | " + string.Join(" | ", Enumerable.Range(1, 10).Select(i => $"D{i}")) + " |");
        Console.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---|", 10)));
        foreach (var m in measured)
            Console.WriteLine(F($"| {m.Phi}, {m.Criterion}, n = {m.N} | ") + string.Join(" | ", Enumerable.Range(0, 10).Select(d =>
                F($"{m.DecilePredicted[d]:F4} / {m.DecileRealised[d]:F4} / {m.DecileAccuracy[d]:F3}"))) + " |");

        if (csv is not null)
        {
            var lines = new List<string> { "nonlinearity,criterion,n,depth,weight_variance,bias_variance,regularizer,test_accuracy,auroc,pearson,spearman,fit_s,predict_s" };
            lines.AddRange(measured.Select(m => F($"{m.Phi},{m.Criterion.Replace(' ', '_')},{m.N},{m.Arch.Depth},{m.Arch.WeightVariance:R},{m.Arch.BiasVariance:R},{m.Reg:R},{m.Accuracy:R},{m.Auroc:R},{m.Pearson:R},{m.Spearman:R},{m.Fit:F1},{m.Predict:F1}")));
            File.WriteAllLines(csv, lines);
            Console.WriteLine($"wrote {csv}");
        }
        if (png is not null)
        {
            Plot(measured.Where(m => m.Criterion == "validation").ToList(), png);
            Console.WriteLine($"wrote {png}");
        }
        return 0;
    }

    /// <summary>Fits one NNGP at n rows and scores the test set: accuracy, variance vs error (AUROC, correlations, deciles).</summary>
    private static Measured Measure(MLContext ml, NngpNonlinearity phi, string criterion, int n, NngpArchitecture arch, double reg,
        IDataView train, IDataView test, int[] testLabels)
    {
        var options = new NngpMulticlassTrainer.Options
        {
            Nonlinearity = phi,
            Depth = arch.Depth,
            WeightVariance = arch.WeightVariance,
            BiasVariance = arch.BiasVariance,
            Regularizer = reg,
            PredictVariance = true,
        };
        GC.Collect();
        var watch = Stopwatch.StartNew();
        using var model = ml.MulticlassClassification.Trainers.Nngp(options).Fit(train);
        double fit = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var scored = ml.Data.Cache(model.Transform(test));
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
        var variance = scored.GetColumn<float>("Variance").ToArray();
        var mean = scored.GetColumn<float[]>("PosteriorMean").ToArray();
        double predict = watch.Elapsed.TotalSeconds;
        int k = s_classes.Length;
        // The posterior mean's squared error against the GP's own targets (one-hot − 1/K), averaged over the K outputs,
        // beside the variance the GP predicts for each of them (latent variance; plus the observation noise σ̂²λ).
        var sqErr = new double[variance.Length];
        for (int i = 0; i < sqErr.Length; i++)
        {
            double s = 0;
            for (int c = 0; c < k; c++)
            {
                double t = (c == testLabels[i] ? 1.0 : 0.0) - 1.0 / k;
                s += (mean[i][c] - t) * (mean[i][c] - t);
            }
            sqErr[i] = s / k;
        }
        var v = variance.Select(x => (double)x).ToArray();
        double noise = model.Model.OutputScale * model.Model.NoiseVariance;
        var correct = predicted.Select((p, i) => (int)p - 1 == testLabels[i]).ToArray();
        double acc = correct.Count(c => c) / (double)correct.Length;
        var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
        double[] dp = new double[10], dr = new double[10], da = new double[10];
        for (int d = 0; d < 10; d++)
        {
            var idx = order[(d * order.Length / 10)..((d + 1) * order.Length / 10)];
            dp[d] = idx.Average(i => v[i]) + noise;
            dr[d] = idx.Average(i => sqErr[i]);
            da[d] = idx.Count(i => correct[i]) / (double)idx.Length;
        }
        return new Measured(phi.Name, criterion, n, arch, reg, acc, Auroc(variance, correct), Pearson(v, sqErr), Pearson(Ranks(v), Ranks(sqErr)),
            fit, predict, dp, dr, da);
    }

    /// <summary>Realised against predicted squared error by variance decile, one line per (nonlinearity, n), and y = x.</summary>
    private static void Plot(IReadOnlyList<Measured> runs, string path)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double hi = 0;
        for (int s = 0; s < runs.Count; s++)
        {
            var m = runs[s];
            var line = plt.Add.Scatter(m.DecilePredicted, m.DecileRealised);
            line.Color = palette.GetColor(s);
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LinePattern = m.Phi == NngpNonlinearity.Relu.Name ? ScottPlot.LinePattern.Solid : ScottPlot.LinePattern.Dashed;
            line.LegendText = F($"{m.Phi}, n = {m.N} (Pearson {m.Pearson:F2}, Spearman {m.Spearman:F2})");
            hi = Math.Max(hi, Math.Max(m.DecilePredicted.Max(), m.DecileRealised.Max()));
        }
        var diag = plt.Add.Scatter(new[] { 0.0, hi }, new[] { 0.0, hi });
        diag.Color = ScottPlot.Colors.Gray;
        diag.MarkerSize = 0;
        diag.LinePattern = ScottPlot.LinePattern.Dotted;
        diag.LegendText = "realised = predicted";
        plt.Title("NNGP on Fashion-MNIST: squared error of the posterior mean by predictive-variance decile");
        plt.XLabel("predicted squared error per class (mean Variance + σ̂²λ in the decile)");
        plt.YLabel("realised mean squared error (μ vs one-hot − 1/10)");
        plt.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plt.SavePng(path, 900, 600);
    }

    private static double Pearson(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.Sqrt(saa * sbb);
    }

    /// <summary>Ranks 1..n, ties sharing their mean rank (Spearman = Pearson of the ranks).</summary>
    private static double[] Ranks(double[] x)
    {
        var order = Enumerable.Range(0, x.Length).OrderBy(i => x[i]).ToArray();
        var r = new double[x.Length];
        int k = 0;
        while (k < order.Length)
        {
            int e = k;
            while (e + 1 < order.Length && x[order[e + 1]] == x[order[k]])
                e++;
            for (int t = k; t <= e; t++)
                r[order[t]] = (k + e) / 2.0 + 1;
            k = e + 1;
        }
        return r;
    }

    private static string LoadAvg() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>The first n/10 training images of each class, in file order (brain-research/nngp _select_mnist_subset).</summary>
    private static IEnumerable<Row> Subset(float[][] x, int[] y, int n)
    {
        int per = n / 10;
        var count = new int[10];
        for (int i = 0; i < x.Length; i++)
        {
            if (count[y[i]] < per)
            {
                count[y[i]]++;
                yield return new Row { Features = x[i], Label = s_classes[y[i]] };
            }
        }
    }

    /// <summary>Minimal IDX reader: gzip, big-endian header, unsigned bytes; pixels scaled to [0, 1].</summary>
    private static (float[][] X, int[] Y) ReadIdx(string dir, string prefix)
    {
        static byte[] Gunzip(string path)
        {
            using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return ms.ToArray();
        }
        static int BigEndian(byte[] b, int at) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
        var images = Gunzip(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"));
        var labels = Gunzip(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"));
        if (BigEndian(images, 0) != 0x803 || BigEndian(labels, 0) != 0x801)
            throw new InvalidDataException("Not IDX image/label files.");
        int n = BigEndian(images, 4), rows = BigEndian(images, 8), cols = BigEndian(images, 12);
        if (BigEndian(labels, 4) != n || rows * cols != 784)
            throw new InvalidDataException("IDX sizes do not match.");
        var x = new float[n][];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = new float[784];
            for (int j = 0; j < 784; j++)
                x[i][j] = images[16 + i * 784 + j] / 255f;
            y[i] = labels[8 + i];
        }
        return (x, y);
    }

    /// <summary>AUROC of the variance as a score for "misclassified" (Mann–Whitney, ties count one half).</summary>
    private static double Auroc(float[] variance, bool[] correct)
    {
        var order = Enumerable.Range(0, variance.Length).OrderBy(i => variance[i]).ToArray();
        double rankSumWrong = 0;
        int wrong = correct.Count(c => !c), right = correct.Length - wrong;
        if (wrong == 0 || right == 0)
            return double.NaN;
        int k = 0;
        while (k < order.Length)
        {
            int e = k;
            while (e + 1 < order.Length && variance[order[e + 1]] == variance[order[k]])
                e++;
            double rank = (k + e) / 2.0 + 1;
            for (int t = k; t <= e; t++)
            {
                if (!correct[order[t]])
                    rankSumWrong += rank;
            }
            k = e + 1;
        }
        return (rankSumWrong - wrong * (wrong + 1) / 2.0) / ((double)wrong * right);
    }
}
