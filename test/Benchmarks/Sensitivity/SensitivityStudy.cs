using System.Diagnostics;
using System.Globalization;
using System.Text;
using Components.Core.Data;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Sensitivity;
using Microsoft.ML;
using Microsoft.ML.Data;
using ScottPlot;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Sensitivity;

/// <summary>
/// <c>sensitivity-study [--networks N] [--train n] [--test n] [--epochs E] [--full-batch-steps S] [--workers W]
/// [--seed S] [--out dir] [--images dir]</c>: the generalization study of Novak et al. (ICLR 2018) on Fashion-MNIST.
/// Networks come in pairs: a base configuration drawn at random (width, depth, optimizer, learning rate, batch size
/// incl. full batch, fraction of random labels, augmentation by small shifts, ReLU or tanh) and a copy that differs in
/// one of four factors (labels, augmentation, activation, mini-batch vs full batch; cycling). Each network is trained
/// with the suite's NeuralNetwork trainer on a fixed training subset; per network the runner records train/test accuracy
/// and loss, the mean ‖∂softmax/∂x‖_F on test and training points, and (ReLU nets) transitions along ellipses through
/// three training points. Then: Spearman ρ (bootstrap 95% interval) between the test Jacobian norm and the
/// generalization gap, the paired factor effects, and the per-point AUROC of the Jacobian norm for misclassification.
/// Writes a CSV (one row per network) and a scatter PNG. Every network is seeded from (seed, index): the results do
/// not depend on the number of workers or on timing.
/// </summary>
internal static class SensitivityStudy
{
    private static readonly string[] Factors = ["labels", "augmentation", "activation", "batch"];
    private const int JacobianTrainPoints = 500;
    private const int Trajectories = 10;
    private const int TrajectoryPoints = 256;

    private sealed record Config(int Index, int Pair, string Factor, bool IsVariant, int Width, int Depth, NeuralNetworkOptimizerKind Optimizer,
        double LearningRate, int BatchSize, double RandomLabels, bool Augment, NeuralNetworkActivation Activation);

    private sealed record Result(Config Config, double TrainAccuracy, double TestAccuracy, double TrainLoss, double TestLoss,
        double TestJacobian, double TrainJacobian, double Transitions, double PointAuroc, double Seconds);

    private sealed class Row
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public static int Run(string[] args)
    {
        var a = ParseArgs(args);
        int networks = a.Int("networks", 240), trainN = a.Int("train", 2000), testN = a.Int("test", 1000), epochs = a.Int("epochs", 30);
        int fullBatchSteps = a.Int("full-batch-steps", 150), workers = a.Int("workers", 1), seed = a.Int("seed", 0);
        string root = FindRepoRoot();
        string outDir = a.Str("out", Path.Combine(root, "docs", "data"));
        string images = a.Str("images", Path.Combine(root, "docs", "images"));
        Directory.CreateDirectory(outDir);
        Directory.CreateDirectory(images);
        torch.set_num_threads(1);
        var total = Stopwatch.StartNew();
        if (a.Str("from-csv", "") is { Length: > 0 } csvIn)
        {
            // Statistics and plot again from a finished run's CSV, without training.
            var (loaded, loadedTrainN, loadedTestN) = ReadCsv(csvIn, trainN, testN);
            Console.WriteLine($"# sensitivity-study {string.Join(' ', args)}: {loaded.Count} networks read from {csvIn}");
            Report(loaded, loadedTrainN);
            Scatter(loaded, Path.Combine(images, "sensitivity-study-scatter.png"), loadedTrainN, loadedTestN);
            return 0;
        }
        Console.WriteLine($"# sensitivity-study {string.Join(' ', args)}: {networks} networks, train subset {trainN}, test subset {testN}, {epochs} epochs (augmented: {epochs / 2} over twice the rows), full batch {fullBatchSteps} steps, workers {workers}, torch threads 1, seed {seed}; load average {LoadAvg()}");

        // Fixed subsets of Fashion-MNIST (seeded), as float32 tensors and as arrays for the IDataViews.
        var data = FashionMnist.Load(new MLContext(seed: 0), trainRows: 10000, testRows: 10000);
        var (trainAll, trainAllY, _) = DataLoading.LoadFeaturesAndKeyLabels(data.Train, "Features", "Label");
        var (testAll, testAllY, _) = DataLoading.LoadFeaturesAndKeyLabels(data.Test, "Features", "Label");
        using var g = new Generator((ulong)seed);
        var trainIdx = torch.randperm(trainAll.shape[0], generator: g).narrow(0, 0, trainN);
        var testIdx = torch.randperm(testAll.shape[0], generator: g).narrow(0, 0, testN);
        var trainX = trainAll.index_select(0, trainIdx).contiguous();
        var trainY = trainAllY.index_select(0, trainIdx).to(ScalarType.Int64).contiguous();
        var testX = testAll.index_select(0, testIdx).contiguous();
        var testY = testAllY.index_select(0, testIdx).to(ScalarType.Int64).contiguous();
        float[] trainFlat = trainX.data<float>().ToArray();
        long[] trainLabels = trainY.data<long>().ToArray();
        Console.WriteLine($"data: {data.Source}; training-set class counts {string.Join(' ', Enumerable.Range(0, 10).Select(c => trainLabels.Count(l => l == c)))}");

        var configs = Grid(networks, trainN, seed);
        var results = new Result?[configs.Count];
        string csvPath = Path.Combine(outDir, "sensitivity-study.csv");
        int done = 0;
        var lockObj = new object();
        Parallel.ForEach(Enumerable.Range(0, configs.Count), new ParallelOptions { MaxDegreeOfParallelism = workers }, i =>
        {
            var r = TrainAndMeasure(configs[i], seed, trainFlat, trainLabels, trainX, trainY, testX, testY, epochs, fullBatchSteps);
            lock (lockObj)
            {
                results[i] = r;
                done++;
                var c = r.Config;
                Console.WriteLine(F($"[{done}/{configs.Count} {total.Elapsed.TotalMinutes:F1} min] net {c.Index} pair {c.Pair} ({c.Factor}{(c.IsVariant ? " variant" : " base")}): {c.Depth}×{c.Width} {c.Activation} {c.Optimizer} lr {c.LearningRate:G3} batch {(c.BatchSize >= trainN ? "full" : c.BatchSize.ToString(CultureInfo.InvariantCulture))} random labels {c.RandomLabels:F2} aug {c.Augment}: train acc {r.TrainAccuracy:F3} test acc {r.TestAccuracy:F3} gap {r.TrainAccuracy - r.TestAccuracy:F3} ‖J‖ test {r.TestJacobian:F3} train {r.TrainJacobian:F3} transitions {r.Transitions:F1} AUROC {r.PointAuroc:F3} ({r.Seconds:F1} s; load {LoadAvg()})"));
                WriteCsv(csvPath, results, trainN);
            }
        });

        var all = results.Select(r => r!).ToList();
        Report(all, trainN);
        Scatter(all, Path.Combine(images, "sensitivity-study-scatter.png"), trainN, testN);
        Console.WriteLine(F($"total {total.Elapsed.TotalMinutes:F1} min; CSV {csvPath}; load average {LoadAvg()}"));
        return 0;
    }

    /// <summary>Pairs of (base, variant): the base drawn at random, the variant flipping factor (pair mod 4).</summary>
    private static List<Config> Grid(int networks, int trainN, int seed)
    {
        var rng = new Random(seed);
        var list = new List<Config>();
        int[] widths = [64, 128, 256];
        int[] depths = [1, 2, 3];
        var optimizers = new[] { NeuralNetworkOptimizerKind.Sgd, NeuralNetworkOptimizerKind.Momentum, NeuralNetworkOptimizerKind.Adam, NeuralNetworkOptimizerKind.RmsProp };
        double[] baseLr = [0.1, 0.01, 1e-3, 1e-3];
        double[] lrScale = [1 / 3.0, 1, 3];
        int[] miniBatches = [32, 128];
        double[] randomLabels = [0, 0, 0.25, 0.5];
        for (int pair = 0; list.Count < networks; pair++)
        {
            int o = rng.Next(optimizers.Length);
            int miniBatch = miniBatches[rng.Next(2)];
            var b = new Config(list.Count, pair, Factors[pair % 4], false, widths[rng.Next(3)], depths[rng.Next(3)], optimizers[o],
                baseLr[o] * lrScale[rng.Next(3)], rng.NextDouble() < 0.25 ? trainN : miniBatch, randomLabels[rng.Next(4)], rng.Next(2) == 1,
                rng.Next(2) == 1 ? NeuralNetworkActivation.Relu : NeuralNetworkActivation.Tanh);
            list.Add(b);
            if (list.Count == networks)
                break;
            var v = b.Factor switch
            {
                "labels" => b with { RandomLabels = b.RandomLabels == 0 ? 0.5 : 0 },
                "augmentation" => b with { Augment = !b.Augment },
                "activation" => b with { Activation = b.Activation == NeuralNetworkActivation.Relu ? NeuralNetworkActivation.Tanh : NeuralNetworkActivation.Relu },
                _ => b with { BatchSize = b.BatchSize >= trainN ? miniBatch : trainN },
            };
            list.Add(v with { Index = list.Count, IsVariant = true });
        }
        return list;
    }

    private static Result TrainAndMeasure(Config c, int seed, float[] trainFlat, long[] trainLabels, Tensor trainX, Tensor trainY, Tensor testX, Tensor testY, int epochs, int fullBatchSteps)
    {
        var sw = Stopwatch.StartNew();
        int n = trainLabels.Length;
        int netSeed = seed * 100_003 + c.Index;
        var rng = new Random(netSeed);
        // Training labels: a fraction replaced by uniformly random classes (the same rows and labels for both nets of a pair
        // when the fraction is the same, since they are drawn from the pair's seed).
        var labelRng = new Random(seed * 100_003 + 50_000 + c.Pair);
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            bool flip = labelRng.NextDouble() < c.RandomLabels;
            long random = labelRng.Next(10);
            labels[i] = flip ? random : trainLabels[i];
        }
        var rows = new List<Row>(c.Augment ? 2 * n : n);
        for (int i = 0; i < n; i++)
            rows.Add(new Row { Features = trainFlat.AsSpan(i * 784, 784).ToArray(), Label = ClassName(labels[i]) });
        if (c.Augment)
        {
            // One extra copy of every image, shifted by (dx, dy) ∈ {−2 … 2}² \ {0}, zero-padded.
            for (int i = 0; i < n; i++)
            {
                int dx, dy;
                do
                {
                    dx = rng.Next(-2, 3);
                    dy = rng.Next(-2, 3);
                }
                while (dx == 0 && dy == 0);
                rows.Add(new Row { Features = Shift(trainFlat.AsSpan(i * 784, 784), dx, dy), Label = ClassName(labels[i]) });
            }
        }
        bool full = c.BatchSize >= n;
        int rowsUsed = rows.Count;
        var ml = new MLContext(seed: netSeed);
        var keys = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 10).Select(k => new { Label = ClassName(k) }));
        var raw = ml.Data.LoadFromEnumerable(rows);
        var view = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(raw).Transform(raw);
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = Enumerable.Repeat(c.Width, c.Depth).ToArray(),
            Activation = c.Activation,
            Optimizer = c.Optimizer,
            LearningRate = c.LearningRate,
            BatchSize = full ? rowsUsed : c.BatchSize,
            NumberOfEpochs = full ? fullBatchSteps : (c.Augment ? Math.Max(1, epochs / 2) : epochs),
            Seed = netSeed,
        }).Fit(view);
        var module = model.Module;

        using var scope = torch.NewDisposeScope();
        var trainLabelsT = torch.tensor(labels);
        var (trainAcc, trainLoss, _) = Evaluate(module, trainX, trainLabelsT);
        var (testAcc, testLoss, wrong) = Evaluate(module, testX, testY);
        var testJ = JacobianNorms(module, testX);
        var trainJ = JacobianNorms(module, trainX.narrow(0, 0, Math.Min(JacobianTrainPoints, n)));
        double auroc = wrong.Any(w => w) && wrong.Any(w => !w) ? RankStatistics.Auroc(testJ, wrong) : double.NaN;

        double transitions = double.NaN;
        if (c.Activation == NeuralNetworkActivation.Relu)
        {
            long sum = 0;
            for (int t = 0; t < Trajectories; t++)
            {
                var anchors = torch.stack([trainX[rng.Next(n)], trainX[rng.Next(n)], trainX[rng.Next(n)]]);
                sum += TrajectoryTransitions.CountOnClosedTrajectory(module, anchors, TrajectoryPoints);
            }
            transitions = (double)sum / Trajectories;
        }
        return new Result(c, trainAcc, testAcc, trainLoss, testLoss, testJ.Average(), trainJ.Average(), transitions, auroc, sw.Elapsed.TotalSeconds);
    }

    private static string ClassName(long k) => FashionMnist.ClassNames[(int)k];

    private static float[] Shift(ReadOnlySpan<float> image, int dx, int dy)
    {
        var o = new float[784];
        for (int y = 0; y < 28; y++)
        {
            int sy = y - dy;
            if (sy < 0 || sy >= 28)
                continue;
            for (int x = 0; x < 28; x++)
            {
                int sx = x - dx;
                if (sx >= 0 && sx < 28)
                    o[y * 28 + x] = image[sy * 28 + sx];
            }
        }
        return o;
    }

    private static (double Accuracy, double Loss, bool[] Wrong) Evaluate(NeuralNetworkModule module, Tensor x, Tensor y)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var logits = module.forward(x);
        var correct = logits.argmax(1).eq(y);
        double loss = nn.functional.cross_entropy(logits, y).item<float>();
        var wrong = correct.logical_not().data<bool>().ToArray();
        return (correct.to(ScalarType.Float64).mean().item<double>(), loss, wrong);
    }

    private static double[] JacobianNorms(NeuralNetworkModule module, Tensor x)
    {
        var norms = new List<double>();
        for (long s = 0; s < x.shape[0]; s += 500)
        {
            using var scope = torch.NewDisposeScope();
            var chunk = x.narrow(0, s, Math.Min(500, x.shape[0] - s));
            norms.AddRange(SoftmaxSensitivity.SoftmaxJacobianNorm(module.forward, chunk).to(ScalarType.Float64).data<double>().ToArray());
        }
        return norms.ToArray();
    }

    private static void Report(List<Result> all, int trainN)
    {
        var jTest = all.Select(r => r.TestJacobian).ToArray();
        var jTrain = all.Select(r => r.TrainJacobian).ToArray();
        var gapAcc = all.Select(r => r.TrainAccuracy - r.TestAccuracy).ToArray();
        var gapLoss = all.Select(r => r.TestLoss - r.TrainLoss).ToArray();
        var testLoss = all.Select(r => r.TestLoss).ToArray();
        Console.WriteLine();
        Console.WriteLine($"## Correlations over {all.Count} networks (Spearman ρ, 95% percentile bootstrap over networks, 2,000 resamples)");
        Console.WriteLine();
        Console.WriteLine("| x | y | ρ | 95% interval |");
        Console.WriteLine("|---|---|---|---|");
        void Corr(string xn, double[] x, string yn, double[] y)
        {
            var ci = RankStatistics.SpearmanBootstrap(x, y, 2000, 0.95, seed: 1);
            Console.WriteLine(F($"| {xn} | {yn} | {RankStatistics.Spearman(x, y):F3} | [{ci.Lower:F3}, {ci.Upper:F3}] |"));
        }
        Corr("test mean ‖J‖_F", jTest, "accuracy gap (train − test)", gapAcc);
        Corr("test mean ‖J‖_F", jTest, "loss gap (test − train)", gapLoss);
        Corr("test mean ‖J‖_F", jTest, "test loss", testLoss);
        Corr("training mean ‖J‖_F", jTrain, "accuracy gap (train − test)", gapAcc);
        var clean = all.Where(r => r.Config.RandomLabels == 0).ToList();
        Corr($"test mean ‖J‖_F, correct labels only ({clean.Count})", clean.Select(r => r.TestJacobian).ToArray(), "accuracy gap", clean.Select(r => r.TrainAccuracy - r.TestAccuracy).ToArray());
        var relu = all.Where(r => !double.IsNaN(r.Transitions)).ToList();
        if (relu.Count > 2)
            Corr($"transitions per ellipse (ReLU nets, {relu.Count})", relu.Select(r => r.Transitions).ToArray(), "accuracy gap", relu.Select(r => r.TrainAccuracy - r.TestAccuracy).ToArray());

        var collapsed = all.Where(r => r.TrainAccuracy < 0.2).ToList();
        Console.WriteLine();
        Console.WriteLine(F($"Networks that did not train (train accuracy < 0.2): {collapsed.Count}") + string.Concat(collapsed.Select(r => F($"; net {r.Config.Index} ({r.Config.Depth}×{r.Config.Width} {r.Config.Activation} {r.Config.Optimizer} lr {r.Config.LearningRate:G3}: train loss {r.TrainLoss:F1}, test ‖J‖ {r.TestJacobian:G3})"))));
        int below = all.Count(r => r.TrainJacobian < r.TestJacobian);
        var onOff = all.Select(r => r.TestJacobian / r.TrainJacobian).OrderBy(v => v).ToList();
        Console.WriteLine();
        Console.WriteLine(F($"Near the training data: mean ‖J‖_F on training points below that on test points in {below}/{all.Count} networks; median ratio test / training {RankStatistics.Quantile(onOff, 0.5):F2} (quartiles {RankStatistics.Quantile(onOff, 0.25):F2}, {RankStatistics.Quantile(onOff, 0.75):F2})."));

        Console.WriteLine();
        Console.WriteLine("## Marginal statistics over all networks (median test ‖J‖, mean accuracy gap, mean test accuracy)");
        Console.WriteLine();
        Console.WriteLine("| factor | level | networks | median test ‖J‖ | mean gap | mean test accuracy |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (factor, level) in new (string, Func<Config, string>)[]
        {
            ("random labels", c => c.RandomLabels.ToString("G2", CultureInfo.InvariantCulture)),
            ("augmentation", c => c.Augment ? "shifts" : "none"),
            ("activation", c => c.Activation.ToString()),
            ("batch", c => c.BatchSize >= trainN ? "full" : c.BatchSize.ToString(CultureInfo.InvariantCulture)),
            ("optimizer", c => c.Optimizer.ToString()),
            ("depth", c => c.Depth.ToString(CultureInfo.InvariantCulture)),
            ("width", c => c.Width.ToString(CultureInfo.InvariantCulture)),
        })
        {
            foreach (var grp in all.GroupBy(r => level(r.Config)).OrderBy(g => g.Key, StringComparer.Ordinal))
                Console.WriteLine(F($"| {factor} | {grp.Key} | {grp.Count()} | {RankStatistics.Quantile(grp.Select(r => r.TestJacobian).OrderBy(v => v).ToList(), 0.5):F3} | {grp.Average(r => r.TrainAccuracy - r.TestAccuracy):F3} | {grp.Average(r => r.TestAccuracy):F3} |"));
        }

        Console.WriteLine();
        Console.WriteLine("## Paired factor effects (base and variant differ only in the factor)");
        Console.WriteLine();
        Console.WriteLine("| factor: worse arm vs better arm | pairs | worse arm has the larger test ‖J‖ | median ratio of test ‖J‖ (worse / better) | worse arm has the larger accuracy gap |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var f in Factors)
        {
            var pairs = all.Where(r => r.Config.Factor == f).GroupBy(r => r.Config.Pair).Where(p => p.Count() == 2).ToList();
            int larger = 0, gapLarger = 0;
            var ratios = new List<double>();
            foreach (var p in pairs)
            {
                var (worse, better) = Split(p.ToList(), f, trainN);
                if (worse.TestJacobian > better.TestJacobian)
                    larger++;
                if (worse.TrainAccuracy - worse.TestAccuracy > better.TrainAccuracy - better.TestAccuracy)
                    gapLarger++;
                ratios.Add(worse.TestJacobian / better.TestJacobian);
            }
            ratios.Sort();
            string name = f switch { "labels" => "random labels (50% ↔ 0)", "augmentation" => "no augmentation vs shifts", "activation" => "tanh vs ReLU", _ => "full batch vs mini-batch" };
            Console.WriteLine(F($"| {name} | {pairs.Count} | {larger}/{pairs.Count} | {(ratios.Count > 0 ? RankStatistics.Quantile(ratios, 0.5) : double.NaN):F2} | {gapLarger}/{pairs.Count} |"));
        }

        var aurocs = all.Select(r => r.PointAuroc).Where(v => !double.IsNaN(v)).OrderBy(v => v).ToList();
        Console.WriteLine();
        Console.WriteLine(F($"## Per-point prediction of misclassification by ‖J(x)‖_F (test points, AUROC per network): median {RankStatistics.Quantile(aurocs, 0.5):F3}, quartiles [{RankStatistics.Quantile(aurocs, 0.25):F3}, {RankStatistics.Quantile(aurocs, 0.75):F3}], above 0.5 in {aurocs.Count(v => v > 0.5)}/{aurocs.Count} networks"));
    }

    /// <summary>(worse, better) arm of a pair: the paper's expectation is a larger ‖J‖ in the worse arm.</summary>
    private static (Result Worse, Result Better) Split(List<Result> p, string factor, int trainN)
    {
        bool IsWorse(Result r) => factor switch
        {
            "labels" => r.Config.RandomLabels > 0,
            "augmentation" => !r.Config.Augment,
            "activation" => r.Config.Activation == NeuralNetworkActivation.Tanh,
            _ => r.Config.BatchSize >= trainN,
        };
        return IsWorse(p[0]) ? (p[0], p[1]) : (p[1], p[0]);
    }

    private static void WriteCsv(string path, IReadOnlyList<Result?> results, int trainN)
    {
        var sb = new StringBuilder("index,pair,factor,variant,depth,width,activation,optimizer,learning_rate,batch,random_labels,augment,train_accuracy,test_accuracy,train_loss,test_loss,test_jacobian_norm,train_jacobian_norm,transitions,point_auroc,seconds\n");
        foreach (var r in results)
        {
            if (r is null)
                continue;
            var c = r.Config;
            sb.Append(F($"{c.Index},{c.Pair},{c.Factor},{(c.IsVariant ? 1 : 0)},{c.Depth},{c.Width},{c.Activation},{c.Optimizer},{c.LearningRate:G4},{(c.BatchSize >= trainN ? "full" : c.BatchSize.ToString(CultureInfo.InvariantCulture))},{c.RandomLabels:G3},{(c.Augment ? 1 : 0)},{r.TrainAccuracy:F4},{r.TestAccuracy:F4},{r.TrainLoss:F4},{r.TestLoss:F4},{r.TestJacobian:F4},{r.TrainJacobian:F4},{(double.IsNaN(r.Transitions) ? "" : r.Transitions.ToString("F1", CultureInfo.InvariantCulture))},{(double.IsNaN(r.PointAuroc) ? "" : r.PointAuroc.ToString("F4", CultureInfo.InvariantCulture))},{r.Seconds:F1}\n"));
        }
        File.WriteAllText(path, sb.ToString());
    }

    private static (List<Result> Results, int TrainN, int TestN) ReadCsv(string path, int trainN, int testN)
    {
        var lines = File.ReadAllLines(path);
        var list = new List<Result>();
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            double D(int i) => f[i].Length == 0 ? double.NaN : double.Parse(f[i], CultureInfo.InvariantCulture);
            int I(int i) => int.Parse(f[i], CultureInfo.InvariantCulture);
            // Columns: index, pair, factor, variant, depth, width, activation, optimizer, learning_rate, batch, random_labels, augment, …
            var c = new Config(I(0), I(1), f[2], f[3] == "1", Width: I(5), Depth: I(4), Enum.Parse<NeuralNetworkOptimizerKind>(f[7]),
                D(8), f[9] == "full" ? trainN : I(9), D(10), f[11] == "1", Enum.Parse<NeuralNetworkActivation>(f[6]));
            list.Add(new Result(c, D(12), D(13), D(14), D(15), D(16), D(17), D(18), D(19), D(20)));
        }
        return (list, trainN, testN);
    }

    private static void Scatter(List<Result> all, string path, int trainN, int testN)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var levels = all.Select(r => r.Config.RandomLabels).Distinct().OrderBy(v => v).ToList();
        for (int l = 0; l < levels.Count; l++)
        {
            var group = all.Where(r => r.Config.RandomLabels == levels[l] && r.TestJacobian > 0).ToList(); // a collapsed net (‖J‖ = 0) has no logarithm
            var s = plt.Add.ScatterPoints(group.Select(r => r.TrainAccuracy - r.TestAccuracy).ToArray(), group.Select(r => Math.Log10(r.TestJacobian)).ToArray());
            s.Color = palette.GetColor(l);
            s.MarkerSize = 6;
            s.LegendText = F($"random labels {levels[l]:P0} ({group.Count} nets)");
        }
        double rho = RankStatistics.Spearman(all.Select(r => r.TestJacobian).ToArray(), all.Select(r => r.TrainAccuracy - r.TestAccuracy).ToArray());
        plt.XLabel("generalization gap: train accuracy (on the training labels) − test accuracy");
        plt.YLabel("log10 mean ‖∂softmax/∂x‖_F on test points");
        plt.Title(F($"Fashion-MNIST, {all.Count} MLPs (train {trainN}, test {testN}): Spearman ρ = {rho:F2}"));
        plt.ShowLegend(Alignment.LowerRight);
        plt.SavePng(path, 900, 600);

        // The paired comparisons: log10 of test ‖J‖ in the worse arm over the better arm, one point per pair.
        var pairs = new Plot();
        for (int f = 0; f < Factors.Length; f++)
        {
            var ratios = all.Where(r => r.Config.Factor == Factors[f]).GroupBy(r => r.Config.Pair).Where(p => p.Count() == 2)
                .Select(p => Split(p.ToList(), Factors[f], trainN)).Select(wb => Math.Log10(wb.Worse.TestJacobian / wb.Better.TestJacobian)).Where(double.IsFinite).ToArray();
            var s = pairs.Add.ScatterPoints(ratios.Select((_, i) => f + 0.3 * (i % 7 - 3) / 3.0).ToArray(), ratios);
            s.Color = palette.GetColor(f);
            s.MarkerSize = 7;
        }
        var zero = pairs.Add.HorizontalLine(0);
        zero.Color = Colors.Gray;
        pairs.Axes.Bottom.SetTicks([0, 1, 2, 3], ["50% random vs true labels", "no augmentation vs shifts", "tanh vs ReLU", "full batch vs mini-batch"]);
        pairs.YLabel("log10 (test ‖J‖ worse arm / better arm)");
        pairs.Title("Pairs differing in one factor: above 0 = the paper's direction");
        pairs.SavePng(Path.Combine(Path.GetDirectoryName(path)!, "sensitivity-study-pairs.png"), 900, 500);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string LoadAvg() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static string FindRepoRoot() => Svcca.SvccaReproduction.FindRepoRoot();

    private sealed class Args(Dictionary<string, string> values)
    {
        public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        public string Str(string name, string fallback) => values.GetValueOrDefault(name, fallback);
    }

    private static Args ParseArgs(string[] args)
    {
        var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"Expected --name value pairs, got '{args[i]}'.");
            d[args[i][2..]] = args[++i];
        }
        return new Args(d);
    }
}
