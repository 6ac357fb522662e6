using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Kernels.Nngp;
using Components.Trainers.NeuralNetwork;
using Components.Trainers.Nngp;
using Microsoft.ML;
using Microsoft.ML.Data;
using ScottPlot;
using TorchSharp;

namespace Components.Benchmarks.Nngp;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- nngp-width [--sizes 1000,5000,20000] [--widths 64,256,1024,4096]
/// [--nonlinearities ReLU,Erf] [--nngp-max-n 5000] [--budget-scale 1] [--nngp-only true] [--report-only true] [--csv path] [--also path,...] [--images dir] [--quick true]</c>: the NNGP
/// paper's central comparison (Lee et al. 2018, arXiv:1711.00165): MLPs trained with the NeuralNetwork multiclass trainer
/// at the NNGP's depth, nonlinearity and (σ_w², σ_b²) initialisation, at several widths, tuned on a validation split of
/// each training set, against the NNGP with the same hyperparameters on the same training sets (nngp-repro's: the first
/// n/10 images of each class), tested on the full 10,000.
/// </summary>
/// <remarks>
/// Every finished fit is appended to a CSV (default docs/data/nngp-width.csv) and a rerun skips what the CSV already
/// holds, so the study can be run in parts: the NNGP references above <c>--nngp-max-n</c> (10 GB at n = 20,000) are
/// left to a separate <c>--nngp-only true --sizes 20000 --csv other.csv</c> run under <c>flock /work/wt/bigmem.lock</c>
/// (its own CSV: two processes must not rewrite one file), whose results <c>--also other.csv</c> adds to the report, and
/// <c>--report-only true</c> prints the tables and draws the PNGs from the CSVs. <c>--budget-scale S</c> multiplies the
/// four compute thresholds of <see cref="Plan"/> by S (default 1, sized for the shared machine under heavy load), so a
/// quieter machine can tune the largest cells instead of training one capped candidate.
/// </remarks>
public static class NngpWidthStudy
{
    private static readonly string[] s_classes = [.. FashionMnist.ClassNames];

    /// <summary>The NNGP architectures nngp-repro's validation search selected on n = 1,000 (docs/reproductions.md, NNGP).</summary>
    private static readonly Setting[] s_settings =
    [
        new("ReLU", NeuralNetworkActivation.Relu, NngpNonlinearity.Relu, Depth: 2, WeightVariance: 1.6, BiasVariance: 0.01, Regularizer: 0.1),
        new("Erf", NeuralNetworkActivation.Erf, NngpNonlinearity.Erf(), Depth: 1, WeightVariance: 2.68, BiasVariance: 0.5, Regularizer: 0.1),
    ];

    private sealed record Setting(string Name, NeuralNetworkActivation Activation, NngpNonlinearity Nngp, int Depth, double WeightVariance, double BiasVariance, double Regularizer);

    /// <summary>One CSV line: a candidate fit (on the training part, validated), the refit of the selected candidate on all n, or an NNGP reference.</summary>
    private sealed record Result(string Nonlinearity, int N, int Width, string Stage, double LearningRate, double WeightDecay, int Epochs, int BestEpoch,
        double ValidationAccuracy, double TestAccuracy, double Seconds, string Load)
    {
        public string Key => F($"{Nonlinearity},{N},{Width},{Stage},{LearningRate:R},{WeightDecay:R}");
    }

    public sealed class Row
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private sealed class LabelRow
    {
        public string Label { get; set; } = "";
    }

    public static int Run(string[] args)
    {
        var a = L2hmc.L2hmcRepro.ParseArgs(args);
        bool quick = a.Str("quick", "false") == "true";
        int[] sizes = Ints(a.Str("sizes", quick ? "1000" : "1000,5000,20000"));
        int[] widths = Ints(a.Str("widths", quick ? "64,256" : "64,256,1024,4096"));
        int nngpMaxN = a.Int("nngp-max-n", 5000);
        double budgetScale = double.Parse(a.Str("budget-scale", "1"), CultureInfo.InvariantCulture);
        if (!(budgetScale > 0))
            throw new ArgumentOutOfRangeException(nameof(args), budgetScale, "--budget-scale must be positive.");
        var only = a.Str("nonlinearities", "ReLU,Erf").Split(',');
        var settings = s_settings.Where(st => only.Contains(st.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
        bool nngpOnly = a.Str("nngp-only", "false") == "true", reportOnly = a.Str("report-only", "false") == "true";
        string root = Svcca.SvccaReproduction.FindRepoRoot();
        string csv = a.Str("csv", Path.Combine(root, "docs", "data", quick ? "nngp-width-quick.csv" : "nngp-width.csv"));
        string images = a.Str("images", Path.Combine(root, "docs", "images"));
        string dir = a.Str("data", FashionMnist.DebianDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(csv)!);
        Directory.CreateDirectory(images);
        torch.set_num_threads(1);
        var done = ReadCsv(csv);
        Console.WriteLine(F($"# nngp-width {string.Join(' ', args)}: sizes {string.Join(",", sizes)}, widths {string.Join(",", widths)}, torch threads 1; {done.Count} results already in {csv}; load average {LoadAvg()}"));
        // Results of other runs of this runner (e.g. the NNGP at n = 20,000 run separately under the memory lock) for the report.
        var also = a.Str("also", "").Split(',', StringSplitOptions.RemoveEmptyEntries).SelectMany(p => ReadCsv(p).Values).ToList();
        List<Result> All() => [.. done.Values, .. also.Where(r => !done.ContainsKey(r.Key))];
        if (reportOnly)
        {
            // Merge the other runs' results into this CSV, so one file holds the whole study.
            foreach (var r in also)
                done[r.Key] = r;
            WriteCsv(csv, done.Values);
            return Report([.. done.Values], sizes, widths, images, quick);
        }

        var ml = new MLContext(seed: 0);
        var data = FashionMnist.Load(ml, dir);
        var (trainX, trainY) = Arrays(data.Train);
        var (testX, testY) = Arrays(data.Test);
        Console.WriteLine($"Fashion-MNIST ({data.Source}): {trainX.Length} train, {testX.Length} test images");
        var keyData = ml.Data.LoadFromEnumerable(s_classes.Select(c => new LabelRow { Label = c }));
        IDataView View(IEnumerable<(float[] X, int Y)> rows)
        {
            var view = ml.Data.LoadFromEnumerable(rows.Select(r => new Row { Features = r.X, Label = s_classes[r.Y] }));
            return ml.Data.Cache(ml.Transforms.Conversion.MapValueToKey("Label", keyData: keyData).Fit(view).Transform(view));
        }
        // The NNGP layer-normalises every row inside its kernel (InputLayerNorm, the paper's preprocessing); the networks
        // get the same rows normalised here, so both see x with zero mean and unit variance over its 784 pixels.
        var testRaw = View(testX.Select((x, i) => (x, testY[i])));
        var testNormalised = View(testX.Select((x, i) => (LayerNorm(x), testY[i])));

        void Record(Result r)
        {
            done[r.Key] = r;
            WriteCsv(csv, done.Values);
            Console.WriteLine(F($"  {r.Nonlinearity} n={r.N} width={r.Width} {r.Stage}: lr {r.LearningRate:G3} wd {r.WeightDecay:G3} epochs {r.Epochs} (best {r.BestEpoch}) validation {r.ValidationAccuracy:F4} test {r.TestAccuracy:F4} ({r.Seconds:F1} s; load {r.Load})"));
        }

        var total = Stopwatch.StartNew();
        foreach (int n in sizes)
        {
            var subset = Subset(trainY, n);
            // NNGP reference: same architecture and ε as nngp-repro, on the same n rows (no validation split: the GP has no epochs).
            foreach (var s in settings)
            {
                var key = new Result(s.Name, n, 0, "nngp", 0, s.Regularizer, 0, 0, double.NaN, 0, 0, "").Key;
                if (done.ContainsKey(key) || n > nngpMaxN && !nngpOnly)
                    continue;
                var watch = Stopwatch.StartNew();
                var options = new NngpMulticlassTrainer.Options
                {
                    Nonlinearity = s.Nngp,
                    Depth = s.Depth,
                    WeightVariance = s.WeightVariance,
                    BiasVariance = s.BiasVariance,
                    Regularizer = s.Regularizer,
                    PredictVariance = false,
                };
                using var model = ml.MulticlassClassification.Trainers.Nngp(options).Fit(View(subset.Select(i => (trainX[i], trainY[i]))));
                double acc = Accuracy(model.Transform(testRaw), testY);
                Record(new Result(s.Name, n, 0, "nngp", 0, s.Regularizer, 0, 0, double.NaN, acc, watch.Elapsed.TotalSeconds, LoadAvg()));
                GC.Collect();
            }
            if (nngpOnly)
                continue;

            // Validation split carved from the training set: the last tenth (at least 20) of each class's n/10 images.
            int per = n / 10, held = Math.Min(per - 1, Math.Max(20, per / 10));
            var classSeen = new int[10];
            var fitRows = new List<int>();
            var validationRows = new List<int>();
            foreach (int i in subset)
                (classSeen[trainY[i]]++ < per - held ? fitRows : validationRows).Add(i);
            var full = View(subset.Select(i => (LayerNorm(trainX[i]), trainY[i])));
            var fit = View(fitRows.Select(i => (LayerNorm(trainX[i]), trainY[i])));
            var validation = View(validationRows.Select(i => (LayerNorm(trainX[i]), trainY[i])));
            var (maxEpochs, patience) = Schedule(n, quick);

            foreach (int width in widths)
            {
                foreach (var s in settings)
                {
                    NeuralNetworkMulticlassTrainer.Options Options(double lr, double wd, int epochs, IDataView? validationSet) => new()
                    {
                        HiddenLayerWidths = [.. Enumerable.Repeat(width, s.Depth)],
                        Activation = s.Activation,
                        WeightVariance = s.WeightVariance,
                        BiasVariance = s.BiasVariance,
                        Optimizer = NeuralNetworkOptimizerKind.Adam,
                        LearningRate = lr,
                        WeightDecay = wd,
                        BatchSize = BatchSize,
                        NumberOfEpochs = epochs,
                        ValidationSet = validationSet,
                        EarlyStoppingPatience = validationSet is null ? 0 : patience,
                        Seed = 0,
                    };
                    var plan = Plan(s, n, width, fitRows.Count, sizes, done, quick, budgetScale);
                    int epochs = Math.Min(maxEpochs, plan.EpochCap);
                    Console.WriteLine(F($"{s.Name} n={n} width={width}: {plan.Grid.Count} candidates (lr/wd: {string.Join(", ", plan.Grid.Select(g => F($"{g.Lr:G3}/{g.Wd:G3}")))}), up to {epochs} epochs, patience {patience}, {fitRows.Count} fit + {validationRows.Count} validation rows, {(plan.Refit ? "refit on all rows" : "no refit")} [{total.Elapsed.TotalMinutes:F1} min]"));
                    foreach (var (lr, wd) in plan.Grid)
                    {
                        var key = new Result(s.Name, n, width, "candidate", lr, wd, 0, 0, 0, 0, 0, "").Key;
                        if (done.ContainsKey(key))
                            continue;
                        var watch = Stopwatch.StartNew();
                        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(Options(lr, wd, epochs, validation)).Fit(fit);
                        var history = model.Model.TrainingHistory;
                        int best = model.Model.BestEpoch;
                        double valAcc = history[best - 1].ValidationMetric ?? double.NaN;
                        // Without a refit the selected candidate itself is the final network: its test accuracy is measured now.
                        double testAcc = plan.Refit ? double.NaN : Accuracy(model.Transform(testNormalised), testY);
                        Record(new Result(s.Name, n, width, "candidate", lr, wd, history.Count, best, valAcc, testAcc, watch.Elapsed.TotalSeconds, LoadAvg()));
                    }
                    // Selected: the highest validation accuracy at the best-validation-loss epoch (ties: the smaller learning
                    // rate); refit on all n rows for that many epochs, or (largest configurations) kept as trained.
                    var chosen = done.Values.Where(r => r.Nonlinearity == s.Name && r.N == n && r.Width == width && r.Stage == "candidate"
                        && plan.Grid.Contains((r.LearningRate, r.WeightDecay))).OrderByDescending(r => r.ValidationAccuracy).ThenBy(r => r.LearningRate).First();
                    string stage = plan.Refit ? "refit" : "selected";
                    var finalKey = new Result(s.Name, n, width, stage, chosen.LearningRate, chosen.WeightDecay, 0, 0, 0, 0, 0, "").Key;
                    if (done.ContainsKey(finalKey))
                        continue;
                    if (!plan.Refit)
                    {
                        Record(chosen with { Stage = stage, Seconds = 0 });
                        continue;
                    }
                    var refitWatch = Stopwatch.StartNew();
                    using var refit = ml.MulticlassClassification.Trainers.NeuralNetwork(Options(chosen.LearningRate, chosen.WeightDecay, chosen.BestEpoch, null)).Fit(full);
                    double acc = Accuracy(refit.Transform(testNormalised), testY);
                    Record(new Result(s.Name, n, width, stage, chosen.LearningRate, chosen.WeightDecay, chosen.BestEpoch, chosen.BestEpoch,
                        chosen.ValidationAccuracy, acc, refitWatch.Elapsed.TotalSeconds, LoadAvg()));
                }
            }
        }
        Console.WriteLine(F($"total {total.Elapsed.TotalMinutes:F1} min; load average {LoadAvg()}"));
        return nngpOnly ? 0 : Report(All(), sizes, widths, images, quick);
    }

    private const int BatchSize = 64;

    /// <summary>Epoch cap and early-stopping patience per training-set size: about the same number of optimizer steps at the cap.</summary>
    private static (int MaxEpochs, int Patience) Schedule(int n, bool quick) => quick ? (10, 3) : n switch
    {
        <= 1000 => (40, 5),
        <= 5000 => (20, 4),
        _ => (10, 3),
    };

    /// <summary>Adam learning rates: wider networks (standard parameterisation) want smaller steps.</summary>
    private static double[] LearningRates(int width) => width <= 256 ? [3e-4, 1e-3, 3e-3] : [1e-4, 3e-4, 1e-3];

    private static readonly double[] s_weightDecays = [0, 1e-3];

    /// <summary>What is run for one (nonlinearity, n, width): the (learning rate, weight decay) candidates, an epoch cap, and whether the selection is refitted on all n rows.</summary>
    private sealed record FitPlan(List<(double Lr, double Wd)> Grid, int EpochCap, bool Refit);

    /// <summary>Cost classes by parameters × training rows (P·n), sized for a shared 2-core machine.</summary>
    private const double FullGridMax = 6e9, ThreeCandidatesMax = 1.5e10, TwoCandidatesMax = 6e10, SingleCandidateBudget = 8e11;

    /// <summary>
    /// The plan for one configuration, by P·n (P = the network's parameter count): up to 6e9 the full 3 × 2 grid
    /// (lr ∈ {3e-4, 1e-3, 3e-3} up to width 256, {1e-4, 3e-4, 1e-3} above; × wd ∈ {0, 1e-3}); up to 1.5e10 the three learning rates at the weight decay selected
    /// at the next smaller n (same width and nonlinearity; 0 if none); up to 6e10 two candidates, that n's learning
    /// rate and a third of it (3e-4 and 1e-4 if none); beyond, one candidate (that selection) trained for at most
    /// 8e11 / (P × fit rows) epochs, not refitted: its test accuracy is that of the network trained on the fit part.
    /// </summary>
    private static FitPlan Plan(Setting s, int n, int width, int fitRows, int[] sizes, Dictionary<string, Result> done, bool quick, double budgetScale)
    {
        if (quick)
            return new([(1e-3, 0), (3e-4, 0)], int.MaxValue, true);
        double cost = (double)Parameters(s.Depth, width) * n / budgetScale;
        int smaller = sizes.Where(m => m < n).DefaultIfEmpty(0).Max();
        var previous = done.Values.FirstOrDefault(r => r.Nonlinearity == s.Name && r.N == smaller && r.Width == width && r.Stage is "refit" or "selected");
        if (cost <= FullGridMax)
            return new([.. from lr in LearningRates(width) from wd in s_weightDecays select (lr, wd)], int.MaxValue, true);
        if (cost <= ThreeCandidatesMax)
            return new([.. LearningRates(width).Select(lr => (lr, previous?.WeightDecay ?? 0))], int.MaxValue, true);
        if (cost <= TwoCandidatesMax)
        {
            return previous is null
                ? new([(3e-4, 0), (1e-4, 0)], int.MaxValue, true)
                : new([(previous.LearningRate, previous.WeightDecay), (previous.LearningRate / 3, previous.WeightDecay)], int.MaxValue, true);
        }
        int cap = Math.Max(1, (int)(SingleCandidateBudget * budgetScale / ((double)Parameters(s.Depth, width) * fitRows)));
        return new([previous is null ? (1e-4, 0) : (previous.LearningRate, previous.WeightDecay)], cap, false);
    }

    /// <summary>Weights and biases of a 784-input, 10-output MLP with <paramref name="depth"/> hidden layers of <paramref name="width"/>.</summary>
    private static long Parameters(int depth, int width) => 784L * width + width + (depth - 1) * ((long)width * width + width) + 10L * width + 10;

    /// <summary>Markdown table (refit test accuracy per width beside the NNGP) and one PNG per n.</summary>
    private static int Report(List<Result> results, int[] sizes, int[] widths, string images, bool quick)
    {
        Console.WriteLine();
        Console.WriteLine("| nonlinearity (NNGP setting) | train n | " + string.Join(" | ", widths.Select(w => F($"width {w}"))) + " | best network | NNGP | NNGP − best network |");
        Console.WriteLine("|---|---|" + string.Concat(Enumerable.Repeat("---|", widths.Length + 3)));
        foreach (var s in s_settings)
        {
            foreach (int n in sizes)
            {
                var nets = widths.Select(w => results.FirstOrDefault(r => r.Nonlinearity == s.Name && r.N == n && r.Width == w && r.Stage is "refit" or "selected")).ToList();
                var gp = results.FirstOrDefault(r => r.Nonlinearity == s.Name && r.N == n && r.Stage == "nngp");
                var bestNet = nets.Where(r => r is not null).MaxBy(r => r!.TestAccuracy);
                string cells = string.Join(" | ", nets.Select(r => r is null ? "–" : F($"{r.TestAccuracy:F4} (lr {r.LearningRate:G2}, wd {r.WeightDecay:G2}, {r.Epochs} ep{(r.Stage == "selected" ? ", no refit" : "")})")));
                string gap = gp is null || bestNet is null ? "–" : F($"{gp.TestAccuracy - bestNet.TestAccuracy:+0.0000;-0.0000}");
                Console.WriteLine(F($"| {s.Name} ({s.Depth}-{s.WeightVariance:G3}-{s.BiasVariance:G3}, ε {s.Regularizer:G2}) | {n} | {cells} | {(bestNet is null ? "–" : F($"{bestNet.TestAccuracy:F4}"))} | {(gp is null ? "–" : F($"{gp.TestAccuracy:F4}"))} | {gap} |"));
            }
        }
        Console.WriteLine();
        Console.WriteLine("Every fit (candidates on the fit part with validation; refit = the selected candidate on all n rows; nngp = the reference):");
        Console.WriteLine();
        Console.WriteLine("| nonlinearity | n | width | stage | lr | wd | epochs run | best epoch | validation acc | test acc | s | load |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results.OrderBy(r => r.Nonlinearity).ThenBy(r => r.N).ThenBy(r => r.Width).ThenBy(r => r.Stage))
            Console.WriteLine(F($"| {r.Nonlinearity} | {r.N} | {(r.Width == 0 ? "∞ (NNGP)" : r.Width.ToString(CultureInfo.InvariantCulture))} | {r.Stage} | {r.LearningRate:G3} | {r.WeightDecay:G3} | {r.Epochs} | {r.BestEpoch} | {(double.IsNaN(r.ValidationAccuracy) ? "–" : F($"{r.ValidationAccuracy:F4}"))} | {(double.IsNaN(r.TestAccuracy) ? "–" : F($"{r.TestAccuracy:F4}"))} | {r.Seconds:F1} | {r.Load} |"));

        foreach (int n in sizes)
        {
            var plt = new Plot();
            var palette = new ScottPlot.Palettes.Category10();
            for (int k = 0; k < s_settings.Length; k++)
            {
                var s = s_settings[k];
                var nets = widths.Select(w => results.FirstOrDefault(r => r.Nonlinearity == s.Name && r.N == n && r.Width == w && r.Stage is "refit" or "selected"))
                    .Where(r => r is not null).ToList();
                var color = palette.GetColor(k);
                if (nets.Count > 0)
                {
                    var line = plt.Add.Scatter(nets.Select(r => Math.Log2(r!.Width)).ToArray(), nets.Select(r => r!.TestAccuracy).ToArray());
                    line.Color = color;
                    line.MarkerSize = 8;
                    line.LegendText = F($"{s.Name} network, depth {s.Depth}, σw² {s.WeightVariance:G3}, σb² {s.BiasVariance:G3} (tuned)");
                }
                if (results.FirstOrDefault(r => r.Nonlinearity == s.Name && r.N == n && r.Stage == "nngp") is { } gp)
                {
                    var h = plt.Add.HorizontalLine(gp.TestAccuracy);
                    h.Color = color;
                    h.LinePattern = LinePattern.Dashed;
                    h.LegendText = F($"{s.Name} NNGP (ε {s.Regularizer:G2}): {gp.TestAccuracy:F4}");
                }
            }
            plt.Axes.Bottom.SetTicks([.. widths.Select(w => Math.Log2(w))], [.. widths.Select(w => w.ToString(CultureInfo.InvariantCulture))]);
            plt.Axes.SetLimitsX(Math.Log2(widths.Min()) - 0.5, Math.Log2(widths.Max()) + 0.5);
            plt.XLabel("hidden-layer width (log scale)");
            plt.YLabel("test accuracy (10,000 images)");
            plt.Title(F($"Fashion-MNIST, n = {n:N0} training images: tuned MLPs vs the NNGP"));
            plt.ShowLegend(Edge.Bottom); // below the axes: inside, it hid the lowest points (ReLU 4,096 at n = 20,000)
            string path = Path.Combine(images, F($"nngp-width{(quick ? "-quick" : "")}-n{n}.png"));
            plt.SavePng(path, 800, 600);
            Console.WriteLine($"wrote {path}");
        }
        return 0;
    }

    private static double Accuracy(IDataView scored, int[] labels)
    {
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
        return predicted.Where((p, i) => (int)p - 1 == labels[i]).Count() / (double)labels.Length;
    }

    /// <summary>Row indices of the first n/10 images of each class in file order (nngp-repro's subset, brain-research/nngp _select_mnist_subset).</summary>
    private static List<int> Subset(int[] y, int n)
    {
        int per = n / 10;
        var count = new int[10];
        var rows = new List<int>();
        for (int i = 0; i < y.Length; i++)
        {
            if (count[y[i]] < per)
            {
                count[y[i]]++;
                rows.Add(i);
            }
        }
        return rows;
    }

    /// <summary>The NNGP kernel's input layer norm: (x − mean) / √(population variance + 1e-15), in float64.</summary>
    private static float[] LayerNorm(float[] x)
    {
        double mean = x.Average(v => (double)v);
        double variance = x.Average(v => (v - mean) * (v - mean));
        double scale = 1 / Math.Sqrt(variance + 1e-15);
        return [.. x.Select(v => (float)((v - mean) * scale))];
    }

    /// <summary>Features and 0-based labels of a FashionMnist view (pixels already scaled to [0, 1] as byte / 255).</summary>
    private static (float[][] X, int[] Y) Arrays(IDataView view)
    {
        var names = new VBuffer<ReadOnlyMemory<char>>();
        view.Schema["Label"].GetKeyValues(ref names);
        var order = names.DenseValues().Select(v => v.ToString()).ToArray();
        if (!order.SequenceEqual(s_classes))
            throw new InvalidDataException("Fashion-MNIST key values are not the class names in label order.");
        var x = view.GetColumn<float[]>("Features").ToArray();
        var y = view.GetColumn<uint>("Label").Select(k => (int)k - 1).ToArray();
        return (x, y);
    }

    private static Dictionary<string, Result> ReadCsv(string path)
    {
        var d = new Dictionary<string, Result>();
        if (!File.Exists(path))
            return d;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split(',');
            if (f.Length < 12)
                continue;
            var r = new Result(f[0], int.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture), f[3],
                D(f[4]), D(f[5]), int.Parse(f[6], CultureInfo.InvariantCulture), int.Parse(f[7], CultureInfo.InvariantCulture), D(f[8]), D(f[9]), D(f[10]), f[11]);
            d[r.Key] = r;
        }
        return d;

        static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
    }

    private static void WriteCsv(string path, IEnumerable<Result> results)
    {
        var lines = new List<string> { "nonlinearity,n,width,stage,learning_rate,weight_decay,epochs,best_epoch,validation_accuracy,test_accuracy,seconds,load" };
        lines.AddRange(results.Select(r => F($"{r.Nonlinearity},{r.N},{r.Width},{r.Stage},{r.LearningRate:R},{r.WeightDecay:R},{r.Epochs},{r.BestEpoch},{r.ValidationAccuracy:R},{r.TestAccuracy:R},{r.Seconds:F1},{r.Load}")));
        File.WriteAllLines(path + ".tmp", lines);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static int[] Ints(string s) => [.. s.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))];

    private static string LoadAvg() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
