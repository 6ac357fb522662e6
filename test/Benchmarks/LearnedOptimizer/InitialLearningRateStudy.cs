using System.Globalization;
using Components.Core.Data;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using TorchSharp;

namespace Components.Benchmarks.LearnedOptimizer;

/// <summary>
/// <c>lopt-lr-range [--rows 6000] [--epochs 4] [--seeds 3] [--workers 2] [--weights w.hrnn] [--ranges 0,2] [--max-lr M]</c>: the NeuralNetwork trainer's MLP 784-64-10 on
/// Fashion-MNIST (the first rows of the training set, the full test set) with the learned optimizer (shipped weights, or
/// <c>--weights</c>) and
/// several ranges of initial learning rates, Adam beside it, every configuration on the same seeds in the same run.
/// Prints the training loss by epoch and the test accuracy and log-loss, mean ± standard error over seeds. Decides the
/// trainer's default <c>LearnedOptimizer{Min,Max}InitialLearningRate</c>. Torch threads: 1 per worker.
/// </summary>
public static class InitialLearningRateStudy
{
    private static readonly (string Name, double Min, double Max)[] Ranges =
    [
        ("[1e-6, 1e-2] (paper)", 1e-6, 1e-2),
        ("[1e-5, 1e-3]", 1e-5, 1e-3),
        ("1e-4 fixed", 1e-4, 1e-4),
        ("1e-3 fixed", 1e-3, 1e-3),
    ];

    public static int Run(string[] args)
    {
        int rows = 6000, epochs = 4, seeds = 3, workers = 2;
        string? weights = null;
        double maxLr = NeuralNetworkOptions.Defaults.LearnedOptimizerMaxLearningRate;
        int[]? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            int Next() => int.Parse(args[++i], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--rows": rows = Next(); break;
                case "--epochs": epochs = Next(); break;
                case "--seeds": seeds = Next(); break;
                case "--workers": workers = Next(); break;
                case "--weights": weights = args[++i]; break;
                case "--max-lr": maxLr = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--ranges": only = [.. args[++i].Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))]; break;
                default:
                    Console.Error.WriteLine($"Unknown option '{args[i]}'.");
                    return 2;
            }
        }
        torch.set_num_threads(1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Console.WriteLine($"lopt-lr-range: weights {weights ?? "shipped"}, max learning rate {maxLr:G3}, MLP 784-64-10, {rows} training rows, {epochs} epochs, batch {NeuralNetworkOptions.Defaults.BatchSize}, seeds 1..{seeds}; load {File.ReadAllText("/proc/loadavg").Trim()}");
        var configs = Ranges.Where((r, i) => only is null || only.Contains(i)).Select(r => (r.Name, Optimizer: NeuralNetworkOptimizerKind.LearnedHierarchicalRnn, r.Min, r.Max))
            .Append((Name: "Adam (lr 1e-3)", Optimizer: NeuralNetworkOptimizerKind.Adam, Min: 0.0, Max: 0.0)).ToArray();
        var jobs = (from c in Enumerable.Range(0, configs.Length) from s in Enumerable.Range(1, seeds) select (c, s)).ToArray();
        var results = new (double[] Losses, double Accuracy, double LogLoss)[jobs.Length];
        Parallel.For(0, jobs.Length, new ParallelOptions { MaxDegreeOfParallelism = workers }, j =>
        {
            torch.set_num_threads(1);
            var (c, s) = jobs[j];
            var ml = new MLContext(seed: 0);
            var data = FashionMnist.Load(ml, trainRows: rows);
            var options = new NeuralNetworkMulticlassTrainer.Options
            {
                HiddenLayerWidths = [64],
                NumberOfEpochs = epochs,
                Seed = s,
                Optimizer = configs[c].Optimizer,
            };
            if (configs[c].Optimizer == NeuralNetworkOptimizerKind.LearnedHierarchicalRnn)
            {
                options.LearnedOptimizerMinInitialLearningRate = configs[c].Min;
                options.LearnedOptimizerMaxInitialLearningRate = configs[c].Max;
                options.LearnedOptimizerWeightsPath = weights;
                options.LearnedOptimizerMaxLearningRate = maxLr;
            }
            using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(data.Train);
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data.Test));
            results[j] = ([.. model.TrainingHistory.Select(e => e.TrainingLoss)], metrics.MicroAccuracy, metrics.LogLoss);
        });
        Console.WriteLine($"| configuration | training loss by epoch (mean over seeds) | test accuracy | test log-loss |");
        Console.WriteLine("|---|---|---|---|");
        for (int c = 0; c < configs.Length; c++)
        {
            var mine = jobs.Select((job, j) => (job, r: results[j])).Where(x => x.job.c == c).Select(x => x.r).ToArray();
            string losses = string.Join(" ", Enumerable.Range(0, epochs).Select(e => mine.Average(r => r.Losses[e]).ToString("F3", CultureInfo.InvariantCulture)));
            Console.WriteLine($"| {configs[c].Name} | {losses} | {MeanSe(mine.Select(r => r.Accuracy))} | {MeanSe(mine.Select(r => r.LogLoss))} |");
        }
        Console.WriteLine($"Total {clock.Elapsed.TotalSeconds:F0} s; load {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static string MeanSe(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        double se = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1) / v.Length) : 0;
        return string.Create(CultureInfo.InvariantCulture, $"{mean:F4} ± {se:F4}");
    }
}
