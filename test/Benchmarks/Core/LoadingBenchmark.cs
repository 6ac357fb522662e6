using System.Diagnostics;
using Components.Core.Data;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Benchmarks.Core;

/// <summary>
/// IDataView → tensor loading of the Fashion-MNIST training set (60,000 × 784 floats): the suite's span copy into the
/// tensor's storage vs the naive GetColumn&lt;float[]&gt; + one big array + torch.tensor. Reports min and median of
/// repeated runs after a warm-up.
/// </summary>
public static class LoadingBenchmark
{
    public static int Run(string[] args)
    {
        int reps = args.Length > 0 ? int.Parse(args[0]) : 7;
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.Load(ml);
        // Materialise once so both methods read from the same in-memory cache.
        var cached = ml.Data.Cache(data.Train);
        Console.WriteLine($"Source: {data.Source}; rows: {cached.GetRowCount()}");

        double[] Time(Func<torch.Tensor> load)
        {
            using (load()) { } // warm-up
            var ms = new double[reps];
            for (int i = 0; i < reps; i++)
            {
                var sw = Stopwatch.StartNew();
                using var t = load();
                ms[i] = sw.Elapsed.TotalMilliseconds;
            }
            Array.Sort(ms);
            return ms;
        }

        var span = Time(() => DataLoading.LoadFeatures(cached, "Features"));
        var naive = Time(() =>
        {
            var rows = cached.GetColumn<float[]>("Features").ToArray();
            var big = new float[rows.Length * 784];
            for (int i = 0; i < rows.Length; i++)
                rows[i].CopyTo(big, i * 784);
            return torch.tensor(big, [rows.Length, 784]);
        });
        Console.WriteLine($"| method | min ms | median ms |");
        Console.WriteLine($"|---|---|---|");
        Console.WriteLine($"| span copy (DataLoading.LoadFeatures) | {span[0]:F0} | {span[reps / 2]:F0} |");
        Console.WriteLine($"| GetColumn<float[]> + torch.tensor | {naive[0]:F0} | {naive[reps / 2]:F0} |");
        Console.WriteLine($"speed-up (median): {naive[reps / 2] / span[reps / 2]:F1}x");
        return 0;
    }
}
