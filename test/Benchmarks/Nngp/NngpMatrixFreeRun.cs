using System.Diagnostics;
using System.Globalization;
using Components.Core;
using Components.Core.Data;
using Components.Kernels.Nngp;
using Components.Trainers.Nngp;
using Microsoft.ML;
using TorchSharp;

namespace Components.Benchmarks.Nngp;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- nngp-cg [dir] [sizes] [cacheGiB] [threads] [rank] [product] [predict]</c>: the NNGP classifier
/// with the matrix-free conjugate-gradient solver on Fashion-MNIST (default the full 60,000 training images), tested on all 10,000 test images, (n = 60,000 is the whole training file, smaller n its first n rows) with the ReLU hyperparameters the reproduction's search selected
/// (GP-2-1.6-0.01, ε = 0.1). Prints every phase with a timestamp (so the per-iteration cost can be read off a run
/// that is stopped), then accuracy, fit and predict times and the process's peak resident memory (VmHWM). rank: the
/// preconditioner rank (default −1, the option's automatic rank); product: f64 (default) or f32, the kernel operator's
/// product precision; predict: true (default) or false (fit only, e.g. to count iterations).
/// Run it under <c>flock /work/wt/bigmem.lock</c>: at n = 60,000 the float32 kernel cache alone is 7.2 GB.
/// </summary>
public static class NngpMatrixFreeRun
{
    public static int Run(string[] args)
    {
        string dir = args.Length > 0 ? args[0] : "/usr/share/datasets/fashion-mnist";
        int[] sizes = args.Length > 1 ? args[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [60000];
        double cacheGiB = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 7.5;
        int threads = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1;
        int rank = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : -1;
        var product = args.Length > 5 && args[5] == "f32" ? NngpPrecision.Float32 : NngpPrecision.Float64;
        bool withPredict = args.Length <= 6 || bool.Parse(args[6]);
        torch.set_num_threads(threads);
        var ml = new MLContext(seed: 0);
        var clock = Stopwatch.StartNew();
        ml.Log += (_, e) =>
        {
            if (e.Kind is Microsoft.ML.Runtime.ChannelMessageKind.Info or Microsoft.ML.Runtime.ChannelMessageKind.Warning
                && e.Source.StartsWith("Nngp", StringComparison.Ordinal))
                Console.WriteLine(F($"  [{clock.Elapsed.TotalSeconds,8:F1} s, RSS {Rss("VmRSS:") / 1024.0:F2} GiB] {e.RawMessage}"));
        };
        var test = ml.Data.Cache(FashionMnist.Load(ml, dir).Test);
        Console.WriteLine(F($"Fashion-MNIST from {dir}; torch threads {threads}; preconditioner rank {rank}; product {product}; load {File.ReadAllText("/proc/loadavg").Trim()}"));
        var results = new List<string>();
        foreach (int n in sizes)
        {
            // n = 60,000 is the whole training file (6,000 per class); smaller n are its first n rows.
            var train = ml.Data.Cache(FashionMnist.Load(ml, dir, trainRows: n).Train);
            var options = new NngpMulticlassTrainer.Options
            {
                Nonlinearity = NngpNonlinearity.Relu,
                Depth = 2,
                WeightVariance = 1.6,
                BiasVariance = 0.01,
                Regularizer = 0.1,
                PredictVariance = true,
                Solver = NngpSolver.ConjugateGradient,
                PreconditionerRank = rank,
                KernelOperatorFactory = new NngpLocalKernelOperatorFactory { CacheBudgetBytes = (long)(cacheGiB * (1L << 30)), ProductPrecision = product },
            };
            clock.Restart();
            using var model = ml.MulticlassClassification.Trainers.Nngp(options).Fit(train);
            double fit = clock.Elapsed.TotalSeconds;
            Console.WriteLine(F($"fit n = {n}: {fit:F1} s, peak RSS {Rss("VmHWM:") / 1024.0:F2} GiB, load {File.ReadAllText("/proc/loadavg").Trim()}"));
            if (!withPredict)
                continue;
            clock.Restart();
            var scored = model.Transform(test);
            var metrics = ml.MulticlassClassification.Evaluate(scored);
            double predict = clock.Elapsed.TotalSeconds;
            results.Add(F($"| NNGP ReLU (2-1.6-0.01, ε 0.1), conjugate gradients | {n} | {metrics.MicroAccuracy:F4} | {fit:F1} | {predict:F1} | {Rss("VmHWM:") / 1024.0:F2} GiB |"));
            Console.WriteLine(results[^1]);
        }
        Console.WriteLine();
        Console.WriteLine("| model | train n | test accuracy (10,000) | fit s | predict s (incl. variance) | peak RSS |");
        Console.WriteLine("|---|---|---|---|---|---|");
        results.ForEach(Console.WriteLine);
        Console.WriteLine(F($"load {File.ReadAllText("/proc/loadavg").Trim()}"));
        return 0;
    }

    /// <summary>A /proc/self/status field in MiB.</summary>
    private static double Rss(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        return double.NaN;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
