using System.Diagnostics;
using Components.Core.Data;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Benchmarks.Core;

/// <summary>
/// IDataView → tensor loading of the Fashion-MNIST training set (60,000 × 784 floats): the library's path vs the naive
/// GetColumn&lt;float[]&gt; + one big array + torch.tensor, and where the time goes (allocation, first touch, zeroing,
/// the copy loop). Reports the first call and the min and median of repeated runs after it.
/// </summary>
public static class LoadingBenchmark
{
    private sealed class ImageRow
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];
    }

    public static int Run(string[] args)
    {
        int reps = args.Length > 0 ? int.Parse(args[0]) : 7;
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.Load(ml);
        // 60,000 rows: the training set, or (where only the embedded subset is at hand) its images tiled to 60,000
        // rows; materialised once so that every method reads from the same in-memory cache.
        var images = data.Train.GetColumn<float[]>("Features").ToArray();
        var rows = Enumerable.Range(0, 60000).Select(i => new ImageRow { Features = images[i % images.Length] });
        var cached = ml.Data.Cache(ml.Data.LoadFromEnumerable(rows));
        Console.WriteLine($"Source: {data.Source} ({images.Length} images{(images.Length < 60000 ? ", tiled" : "")}); rows: {cached.GetRowCount()}");
        torch.set_num_threads(1);

        const int n = 60000, d = 784;
        var col = cached.Schema["Features"];
        // The row copy loop (cursor, getter, VBuffer copy) into a given span.
        void CopyRows(Span<float> span)
        {
            using var cursor = cached.GetRowCursor([col]);
            var getter = cursor.GetGetter<VBuffer<float>>(col);
            var buf = default(VBuffer<float>);
            int r = 0;
            while (cursor.MoveNext())
            {
                getter(ref buf);
                buf.CopyTo(span.Slice(r++ * d, d));
            }
        }
        string load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
        var methods = new List<(string Name, Func<torch.Tensor> Run)>();
        void Measure(string name, Func<torch.Tensor> run) => methods.Add((name, run));

        Measure("library: `DataLoading.LoadFeatures` (uninitialised managed array, rows copied in, wrapped by `torch.from_array`)", () => DataLoading.LoadFeatures(cached, "Features"));
        Measure("library's path above 8 GiB: `torch.empty`, huge-page hint, rows copied into its storage", () =>
            DataLoading.LoadFeatures(cached, "Features", "feature", true, default, new StorageLimits(0, int.MaxValue)));
        Measure("naive: `GetColumn<float[]>` + one big `float[]` + `torch.tensor` (a managed clone, wrapped)", () =>
        {
            var rows = cached.GetColumn<float[]>("Features").ToArray();
            var big = new float[rows.Length * d];
            for (int i = 0; i < rows.Length; i++)
                rows[i].CopyTo(big, i * d);
            return torch.tensor(big, [rows.Length, d]);
        });
        Measure("previous library path: `torch.empty`, no hint, rows copied into its storage", () =>
            DataLoading.LoadFeatures(cached, "Features", "feature", true, default, new StorageLimits(0, int.MaxValue, HugePageHint: false)));
        Measure("allocation only: `torch.empty` (native, untouched)", () => torch.empty(n, d));
        Measure("first touch: `torch.empty` + `fill_(0)` (native)", () => torch.empty(n, d).fill_(0f));
        Measure("first touch with the huge-page hint: `torch.empty` + madvise + `fill_(0)`", () =>
        {
            var t = torch.empty(n, d);
            HugePages.Advise(t.bytes);
            return t.fill_(0f);
        });
        Measure("zeroing: `torch.zeros` (native)", () => torch.zeros(n, d));
        Measure("managed allocation: `new float[]` (zeroed by the GC) + `torch.from_array`", () => torch.from_array(new float[n * d]));
        Measure("managed allocation: `GC.AllocateUninitializedArray` + `fill` + `torch.from_array`", () =>
        {
            var a = GC.AllocateUninitializedArray<float>(n * d);
            a.AsSpan().Fill(0f);
            return torch.from_array(a);
        });
        using var reused = torch.zeros(n, d);
        Measure("copy loop only: rows copied into an already-touched tensor", () =>
        {
            CopyRows(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(reused.bytes));
            return reused.alias();
        });
        // The cache fills on its first pass: read it once before timing anything.
        using (DataLoading.LoadFeatures(cached, "Features")) { }
        // Round robin: every method's k-th run in the same round, so that load changes hit all methods alike.
        var firstCall = new double[methods.Count];
        var times = methods.Select(_ => new double[reps]).ToArray();
        for (int r = -1; r < reps; r++)
        {
            for (int m = 0; m < methods.Count; m++)
            {
                var sw = Stopwatch.StartNew();
                using (methods[m].Run()) { }
                double ms = sw.Elapsed.TotalMilliseconds;
                if (r < 0)
                    firstCall[m] = ms;
                else
                    times[m][r] = ms;
            }
        }
        foreach (var t in times)
            Array.Sort(t);
        var results = methods.Select((m, i) => (m.Name, Cold: firstCall[i], Ms: times[i])).ToList();
        string loadAfter = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
        Console.WriteLine($"60,000 × 784 float32; {reps} runs after a first call; load average before {load}, after {loadAfter}");
        Console.WriteLine("| method | first call ms | min ms | median ms |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (name, first, ms) in results)
            Console.WriteLine($"| {name} | {first:F0} | {ms[0]:F0} | {ms[reps / 2]:F0} |");
        Console.WriteLine($"speed-up of the library path over the naive one (median): {results[2].Ms[reps / 2] / results[0].Ms[reps / 2]:F1}x");
        return 0;
    }
}
