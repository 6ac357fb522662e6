using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Transforms.MetaLearnedFeaturizer;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Benchmarks.MetaLearnedFeaturizer;

/// <summary>
/// The meta-learned featurizer against ML.NET's ProjectToPrincipalComponents with the same output size, in the same run,
/// on Fashion-MNIST (784 pixels): Fit time on N training rows (the featurizer's default 64-32 network and inner steps;
/// PCA rank = the embedding width) and Transform throughput (rows/s, the output column read in full) on the test rows.
/// One warm-up repetition (JIT, first native calls) is dropped; the median of the others is reported.
/// </summary>
/// <remarks>
/// Arguments: <c>--rows N</c> (fit rows, default 10000), <c>--transform-rows N</c> (default 10000), <c>--steps N</c>
/// (default the featurizer's InnerSteps), <c>--repeats N</c> (measured repetitions after the warm-up, default 3),
/// <c>--threads N</c> (torch threads, default 1).
/// </remarks>
public static class FeaturizerBenchmark
{
    public static int Run(string[] args)
    {
        int rows = 10000, transformRows = 10000, steps = MetaLearnedFeaturizerEstimator.Defaults.InnerSteps, repeats = 3, threads = 1;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            int v = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--rows": rows = v; break;
                case "--transform-rows": transformRows = v; break;
                case "--steps": steps = v; break;
                case "--repeats": repeats = v; break;
                case "--threads": threads = v; break;
                default: Console.Error.WriteLine($"Unknown option {args[i]}"); return 2;
            }
        }
        torch.set_num_threads(threads);
        var ml = new MLContext(seed: 1);
        var data = FashionMnist.Load(ml, trainRows: rows, testRows: transformRows);
        var train = ml.Data.Cache(data.Train);
        var test = ml.Data.Cache(data.Test);
        Consume(train, "Features");
        Consume(test, "Features");
        int width = MetaLearnedFeaturizerEstimator.Defaults.EmbeddingWidth;
        Console.WriteLine($"Fashion-MNIST from {data.Source}: fit on {rows} rows, transform {transformRows} rows; {threads} torch thread(s); {Environment.ProcessorCount} logical CPUs.");
        Console.WriteLine($"load average before: {LoadAverage()}");

        var featurizer = new List<(double Fit, double RowsPerSecond)>();
        var pca = new List<(double Fit, double RowsPerSecond)>();
        for (int r = 0; r <= repeats; r++)
        {
            var f = Measure(ml, test, ml.Transforms.MetaLearnedFeaturizer(new MetaLearnedFeaturizerEstimator.Options { InnerSteps = steps, Seed = r }), train, "MetaLearnedFeatures", transformRows);
            var p = Measure(ml, test, ml.Transforms.ProjectToPrincipalComponents("Pca", "Features", rank: width, seed: r), train, "Pca", transformRows);
            if (r == 0)
                continue; // warm-up
            featurizer.Add(f);
            pca.Add(p);
        }

        double Median(IEnumerable<double> v) { var s = v.OrderBy(x => x).ToArray(); return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2; }
        Console.WriteLine();
        Console.WriteLine($"| transform (output width {width}) | Fit on {rows} rows (s) | Fit per 10,000 rows (s) | Transform rows/s |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (name, m) in new[] { ($"MetaLearnedFeaturizer 784-{MetaLearnedFeaturizerEstimator.Defaults.HiddenWidth}-{width}, {steps} inner steps of {MetaLearnedFeaturizerEstimator.Defaults.BatchSize}", featurizer), ($"ProjectToPrincipalComponents rank {width}", pca) })
        {
            double fit = Median(m.Select(x => x.Fit));
            Console.WriteLine($"| {name} | {fit:F2} | {fit * 10000 / rows:F2} | {Median(m.Select(x => x.RowsPerSecond)):N0} |");
        }
        Console.WriteLine();
        Console.WriteLine($"Fit ratio featurizer/PCA: {Median(featurizer.Select(x => x.Fit)) / Median(pca.Select(x => x.Fit)):F1}×; transform ratio PCA/featurizer: {Median(pca.Select(x => x.RowsPerSecond)) / Median(featurizer.Select(x => x.RowsPerSecond)):F1}×; median of {repeats} after one warm-up.");
        Console.WriteLine($"load average after: {LoadAverage()}");
        return 0;
    }

    private static (double Fit, double RowsPerSecond) Measure<T>(MLContext ml, IDataView test, IEstimator<T> estimator, IDataView train, string column, int rows)
        where T : class, ITransformer
    {
        var clock = Stopwatch.StartNew();
        var model = estimator.Fit(train);
        double fit = clock.Elapsed.TotalSeconds;
        clock.Restart();
        long n = Consume(model.Transform(test), column);
        double rps = n / clock.Elapsed.TotalSeconds;
        (model as IDisposable)?.Dispose();
        return (fit, rps);
    }

    private static long Consume(IDataView data, string column)
    {
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor([col]);
        var get = cursor.GetGetter<VBuffer<float>>(col);
        var v = default(VBuffer<float>);
        long n = 0;
        while (cursor.MoveNext())
        {
            get(ref v);
            n++;
        }
        return n;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
}
