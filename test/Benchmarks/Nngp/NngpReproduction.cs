using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using Components.Core;
using Components.Kernels.Nngp;
using Components.Trainers.Nngp;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Benchmarks.Nngp;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- nngp-repro [dir] [sizes]</c>: NNGP (ReLU, Erf) test accuracy
/// on the full Fashion-MNIST test set for class-balanced training subsets (the paper's selection: the first n/10 of
/// each class), beside ML.NET's SdcaMaximumEntropy and LbfgsMaximumEntropy on the same split, and how the
/// predictive variance tracks errors. Hyperparameters are chosen once per nonlinearity by the trainer's validation
/// search on the n = 1,000 subset. Prints markdown tables.
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

    public static int Run(string[] args)
    {
        string dir = args.Length > 0 ? args[0] : "/usr/share/datasets/fashion-mnist";
        int[] sizes = args.Length > 1 ? args[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [1000, 5000, 20000];
        if (!File.Exists(Path.Combine(dir, "train-images-idx3-ubyte.gz")))
        {
            Console.Error.WriteLine($"Fashion-MNIST IDX files not found in {dir}.");
            return 1;
        }
        var (trainX, trainY) = ReadIdx(dir, "train");
        var (testX, testY) = ReadIdx(dir, "t10k");
        Console.WriteLine($"Fashion-MNIST: {trainX.Length} train, {testX.Length} test images; cores {Environment.ProcessorCount}");

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
        var varianceTables = new List<string>();
        var selected = new Dictionary<string, (NngpArchitecture Arch, double Reg)>();
        foreach (var phi in new[] { NngpNonlinearity.Relu, NngpNonlinearity.Erf() })
        {
            // Hyperparameters: validation search on the n = 1,000 subset, near the order-to-chaos line.
            var searchData = Keyed(Subset(trainX, trainY, 1000));
            var search = new NngpMulticlassTrainer.Options
            {
                Nonlinearity = phi,
                Selection = NngpSelectionCriterion.Validation,
                SelectionMaxRows = 1000,
                DepthCandidates = [1, 2, 3],
                BiasVarianceCandidates = [0.01, 0.1, 0.5],
                SearchNearCriticalLine = true,
                CriticalLineMultipliers = [0.8, 1.0, 1.2],
                RegularizerCandidates = [1e-4, 1e-3, 1e-2, 1e-1],
                PredictVariance = false,
                Seed = 0,
            };
            var watch = Stopwatch.StartNew();
            using (var searched = ml.MulticlassClassification.Trainers.Nngp(search).Fit(searchData))
            {
                selected[phi.Name] = (searched.Model.Architecture, searched.Model.Regularizer);
                Console.WriteLine(F($"{phi.Name}: search over {searched.SelectionResults.Count} candidates in {watch.Elapsed.TotalSeconds:F1} s selected {searched.Model.Architecture}, regulariser {searched.Model.Regularizer:G3}"));
            }
            var (arch, reg) = selected[phi.Name];
            foreach (int n in sizes)
            {
                var train = Keyed(Subset(trainX, trainY, n));
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
                watch.Restart();
                using var model = ml.MulticlassClassification.Trainers.Nngp(options).Fit(train);
                double fit = watch.Elapsed.TotalSeconds;
                watch.Restart();
                var scored = model.Transform(test);
                var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
                var variance = scored.GetColumn<float>("Variance").ToArray();
                double predict = watch.Elapsed.TotalSeconds;
                var correct = predicted.Select((p, i) => (int)p - 1 == testLabels[i]).ToArray();
                double acc = correct.Count(c => c) / (double)correct.Length;
                double auroc = Auroc(variance, correct);
                results.Add(F($"| NNGP {phi.Name} ({arch.Depth}-{arch.WeightVariance:G3}-{arch.BiasVariance:G3}, ε {reg:G2}) | {n} | {acc:F4} | {fit:F1} | {predict:F1} | {auroc:F3} |"));
                Console.WriteLine(results[^1]);
                varianceTables.Add(F($"| {phi.Name}, n = {n} | ") + string.Join(" | ", Deciles(variance, correct).Select(a => a.ToString("F3", CultureInfo.InvariantCulture))) + F($" | {auroc:F3} |"));
            }
        }

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

        Console.WriteLine();
        Console.WriteLine("| model | train n | test accuracy (10,000) | fit s | predict s | AUROC(variance → error) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        results.ForEach(Console.WriteLine);
        Console.WriteLine("| TODO: NeuralNetwork trainer (same depth, tuned) — being written concurrently | | | | | |");
        Console.WriteLine();
        Console.WriteLine("Accuracy by predictive-variance decile (decile 1 = lowest variance):");
        Console.WriteLine();
        Console.WriteLine("| run | " + string.Join(" | ", Enumerable.Range(1, 10).Select(i => $"D{i}")) + " | AUROC |");
        Console.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---|", 11)));
        varianceTables.ForEach(Console.WriteLine);
        return 0;
    }

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

    /// <summary>Accuracy within each tenth of the test set sorted by increasing variance.</summary>
    private static double[] Deciles(float[] variance, bool[] correct)
    {
        var order = Enumerable.Range(0, variance.Length).OrderBy(i => variance[i]).ToArray();
        var acc = new double[10];
        for (int dcl = 0; dcl < 10; dcl++)
        {
            int a = dcl * order.Length / 10, b = (dcl + 1) * order.Length / 10;
            acc[dcl] = Enumerable.Range(a, b - a).Count(k => correct[order[k]]) / (double)(b - a);
        }
        return acc;
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
