using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Components.Benchmarks.Core;
using Components.Transforms.Svcca;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Svcca;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- svcca [datapoints] [neurons] [streamRows] [--threads T]
/// [--skip-streaming] [--allow-reference-blas]</c>:
/// (1) peak memory of the streaming accumulator over <c>streamRows</c> (default 1,000,000) datapoints of 500 + 500
/// neurons generated batch by batch; (2) SVCCA (99% variance) on 10,000 × (500 + 500): our CPU time vs an independent
/// numpy implementation of the reference algorithm on the same data, and their agreement, at 1 thread and at T
/// (default: torch's default) on both sides. The numpy peer is started and checked by <see cref="NumpyPeer"/>
/// (OpenBLAS, same thread count; a reference-BLAS numpy is refused).
/// </summary>
internal static class SvccaBenchmark
{
    private const int Reps = 3;

    public static int Run(string[] args)
    {
        bool allowReference = NumpyPeer.TakeAllowReferenceBlas(ref args);
        bool skipStreaming = args.Contains("--skip-streaming");
        int threads = torch.get_num_threads();
        var positional = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads")
                threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] != "--skip-streaming")
                positional.Add(args[i]);
        }
        int n = positional.Count > 0 ? int.Parse(positional[0], CultureInfo.InvariantCulture) : 10_000;
        int p = positional.Count > 1 ? int.Parse(positional[1], CultureInfo.InvariantCulture) : 500;
        long streamRows = positional.Count > 2 ? long.Parse(positional[2], CultureInfo.InvariantCulture) : 1_000_000;
        Console.WriteLine($"# SVCCA benchmark: {Environment.ProcessorCount} cores, torch threads {torch.get_num_threads()}, {RuntimeInformation.OSDescription}, load average {LoadAverage()}");
        try
        {
            foreach (int t in new[] { 1, threads }.Distinct())
                NumpyPeer.Probe(t, allowReference);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 5;
        }

        // Peak RSS is a process-lifetime high-water mark: a tenth of the rows first, then all of them. Memory that
        // does not grow between the two is independent of the number of datapoints.
        if (!skipStreaming)
        {
            Streaming(streamRows / 10, p);
            Streaming(streamRows, p);
        }
        return CompareWithNumpy(n, p, threads, allowReference);
    }

    /// <summary>Structured activations: a shared latent with decaying scales plus private latents and noise, like trained layers.</summary>
    private static (Tensor A, Tensor B) Activations(long n, int p, Generator g, Tensor wa, Tensor wb, ScalarType dtype)
    {
        using var scope = torch.NewDisposeScope();
        var z = torch.randn([n, wa.shape[0]], dtype, generator: g);
        var a = torch.tanh(torch.matmul(z, wa)) + 0.05 * torch.randn([n, p], dtype, generator: g);
        var b = torch.tanh(torch.matmul(z, wb)) + 0.05 * torch.randn([n, p], dtype, generator: g);
        return (a.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }

    private static (Tensor Wa, Tensor Wb) Weights(int latent, int p, Generator g, ScalarType dtype)
    {
        var decay = torch.pow(0.93, torch.arange(latent, dtype: dtype)).unsqueeze(1);
        var wa = (torch.randn([latent, p], dtype, generator: g) * decay / Math.Sqrt(latent) * 3).DetachFromDisposeScope();
        var wb = (torch.randn([latent, p], dtype, generator: g) * decay / Math.Sqrt(latent) * 3).DetachFromDisposeScope();
        return (wa, wb);
    }

    private static void Streaming(long rows, int p)
    {
        const int batch = 4096; // the estimator's default BatchSize
        long rssBefore = Rss("VmRSS");
        using var g = new Generator(7);
        var (wa, wb) = Weights(100, p, g, ScalarType.Float32);
        var sw = Stopwatch.StartNew();
        double genSeconds = 0;
        using var acc = new SvccaAccumulator(p, p);
        for (long done = 0; done < rows; done += batch)
        {
            using var scope = torch.NewDisposeScope();
            var t0 = sw.Elapsed.TotalSeconds;
            var (a, b) = Activations(Math.Min(batch, rows - done), p, g, wa, wb, ScalarType.Float32);
            genSeconds += sw.Elapsed.TotalSeconds - t0;
            acc.Add(a, b);
        }
        var result = acc.Compute();
        sw.Stop();
        long peak = Rss("VmHWM");
        Console.WriteLine($"## Streaming: {rows:N0} datapoints × ({p} + {p}) neurons in batches of {batch:N0} (float32 batches, float64 statistics)");
        Console.WriteLine($"total {sw.Elapsed.TotalSeconds:F1} s (of which data generation {genSeconds:F1} s); mean ρ {result.Mean:F4}, kept {result.KeptA}/{result.KeptB}");
        Console.WriteLine($"process RSS before {rssBefore / 1024.0:F0} MiB, peak RSS (VmHWM) {peak / 1024.0:F0} MiB, live tensors after {DisposeScopeManager.Statistics.ThreadTotalLiveCount}; " +
                          $"holding the data would take {rows * 2.0 * p * 4 / (1 << 20):N0} MiB in float32");
        wa.Dispose();
        wb.Dispose();
    }

    private static int CompareWithNumpy(int n, int p, int defaultThreads, bool allowReference)
    {
        var dir = Directory.CreateTempSubdirectory("svcca-bench");
        try
        {
            using var g = new Generator(11);
            var (wa, wb) = Weights(100, p, g, ScalarType.Float64);
            var (a, b) = Activations(n, p, g, wa, wb, ScalarType.Float64);
            string pa = Path.Combine(dir.FullName, "a.f64"), pb = Path.Combine(dir.FullName, "b.f64");
            File.WriteAllBytes(pa, a.contiguous().bytes.ToArray());
            File.WriteAllBytes(pb, b.contiguous().bytes.ToArray());
            string script = Path.Combine(dir.FullName, "svcca_reference.py");
            File.WriteAllText(script, SvccaNumpyReference.Script);
            var settings = SvccaSettings.Default; // 99% of variance, ε = 0
            Console.WriteLine($"## SVCCA (99% variance on s², ε = 0), {n:N0} datapoints × ({p} + {p}) neurons, float64, best/median of {Reps} after a warm-up");
            int rc = 0;
            int torchDefault = torch.get_num_threads();
            foreach (int threads in new[] { 1, defaultThreads }.Distinct())
            {
                torch.set_num_threads(threads);
                SvccaAnalysis.Compute(a, b, settings); // warm-up
                var wall = new List<double>();
                var cpu = new List<double>();
                SvccaResult? result = null;
                for (int i = 0; i < Reps; i++)
                {
                    var proc = Process.GetCurrentProcess();
                    var c0 = proc.TotalProcessorTime;
                    var sw = Stopwatch.StartNew();
                    result = SvccaAnalysis.Compute(a, b, settings);
                    wall.Add(sw.Elapsed.TotalSeconds);
                    proc.Refresh();
                    cpu.Add((proc.TotalProcessorTime - c0).TotalSeconds);
                }
                var numpy = RunNumpy(script, pa, pb, n, p, settings.VarianceFraction, threads, Path.Combine(dir.FullName, $"out{threads}.json"));
                if (numpy is null)
                    return 3;
                using var json = numpy;
                var root = json.RootElement;
                var theirWall = root.GetProperty("times").EnumerateArray().Select(e => e.GetDouble()).ToList();
                var theirCpu = root.GetProperty("cpu").EnumerateArray().Select(e => e.GetDouble()).ToList();
                var rho = root.GetProperty("rho").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                int ka = root.GetProperty("ka").GetInt32(), kb = root.GetProperty("kb").GetInt32();
                bool fair = NumpyPeer.Check(root.GetProperty("blas"), threads, allowReference, $"numpy SVCCA peer ({threads} thread(s))");
                double maxDiff = rho.Length == result!.Components ? rho.Zip(result.Coefficients, (x, y) => Math.Abs(x - y)).Max() : double.NaN;
                Console.WriteLine($"### {threads} thread(s) (torch.set_num_threads / OPENBLAS_NUM_THREADS), load average {LoadAverage()}");
                Console.WriteLine($"ours (TorchSharp CPU): wall best {wall.Min():F3} s, median {Median(wall):F3} s; CPU best {cpu.Min():F3} s, median {Median(cpu):F3} s; kept {result.KeptA}/{result.KeptB}, mean ρ {result.Mean:F6}");
                Console.WriteLine($"numpy {root.GetProperty("numpy").GetString()} reference: wall best {theirWall.Min():F3} s, median {Median(theirWall):F3} s; CPU best {theirCpu.Min():F3} s, median {Median(theirCpu):F3} s; kept {ka}/{kb}");
                Console.WriteLine($"speed-up: wall {theirWall.Min() / wall.Min():F2}× (best/best), {Median(theirWall) / Median(wall):F2}× (median); CPU {theirCpu.Min() / cpu.Min():F2}× (best/best); " +
                                  $"max |ρ_ours − ρ_numpy| = {maxDiff:E2} over {rho.Length} coefficients{(fair ? "" : " (UNFAIR PEER, see above)")}; load average {LoadAverage()}");
                if (!(maxDiff <= 1e-6))
                    rc = 4;
            }
            torch.set_num_threads(torchDefault);
            a.Dispose();
            b.Dispose();
            wa.Dispose();
            wb.Dispose();
            return rc;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static JsonDocument? RunNumpy(string script, string pa, string pb, int n, int p, double fraction, int threads, string output)
    {
        try
        {
            NumpyPeer.Run(script, threads, [pa, pb, n.ToString(CultureInfo.InvariantCulture), p.ToString(CultureInfo.InvariantCulture),
                p.ToString(CultureInfo.InvariantCulture), fraction.ToString("R", CultureInfo.InvariantCulture),
                Reps.ToString(CultureInfo.InvariantCulture), output]);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return null;
        }
        return JsonDocument.Parse(File.ReadAllText(output));
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    /// <summary>A field of /proc/self/status in KiB (VmRSS: current, VmHWM: peak resident set).</summary>
    private static long Rss(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return -1;
    }
}
