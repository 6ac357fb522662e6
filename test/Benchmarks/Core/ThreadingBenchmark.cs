using System.Diagnostics;
using System.Globalization;
using Components.Core.Runtime;
using Components.Samplers;
using Components.Samplers.L2hmc;
using Components.Samplers.Energies;
using Components.Transforms.Svcca;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Benchmarks.Core;

/// <summary>
/// The threading default (<see cref="NativeThreading"/>) against libgomp's spinning and against one thread: the same
/// L2HMC and SVCCA fits through the public API, each configuration in a fresh child process (libgomp reads its
/// environment once, at load). Configurations: <c>default</c> (what a user gets: the library's passive wait policy,
/// torch's default thread count), <c>spin</c> (the same with <c>GOMP_SPINCOUNT=300000</c>, libgomp's default spin
/// count, which the library respects, i.e. the behaviour before the default existed), <c>one</c> (the default plus
/// <c>torch.set_num_threads(1)</c>).
/// </summary>
/// <remarks>
/// Usage: <c>threads [--contend] [--configs default,spin,one] [--l2hmc-steps 100] [--svcca-rows 10000] [--svcca-width 300]</c>.
/// <c>--contend</c> runs two busy loops (one per core of a 2-core machine) for the whole measurement.
/// </remarks>
public static class ThreadingBenchmark
{
    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "--child")
            return Child(args[1..]);
        bool contend = false;
        string[] configs = ["default", "spin", "one"];
        var forward = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--contend": contend = true; break;
                case "--configs": configs = args[++i].Split(','); break;
                default: forward.Add(args[i]); break;
            }
        }
        var busy = new List<Process>();
        try
        {
            if (contend)
            {
                for (int i = 0; i < Environment.ProcessorCount; i++)
                    busy.Add(Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "while :; do :; done"]) { UseShellExecute = false })!);
                Thread.Sleep(2000);
            }
            Console.WriteLine($"# Threading default: {Environment.ProcessorCount} cores, {(contend ? $"{busy.Count} busy loops running" : "no busy loops")}, {DateTime.UtcNow:u}");
            Console.WriteLine();
            Console.WriteLine("| configuration | wait policy | torch threads | load before | L2HMC fit wall | L2HMC CPU | SVCCA fit wall | SVCCA CPU |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            foreach (var config in configs)
            {
                var self = Environment.ProcessPath!;
                var psi = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true };
                if (Path.GetFileNameWithoutExtension(self) == "dotnet")
                    psi.ArgumentList.Add(typeof(ThreadingBenchmark).Assembly.Location);
                foreach (var a in new[] { "threads", "--child", config }.Concat(forward))
                    psi.ArgumentList.Add(a);
                psi.Environment.Remove(NativeThreading.WaitPolicyVariable);
                psi.Environment.Remove(NativeThreading.SpinCountVariable);
                if (config == "spin")
                    psi.Environment[NativeThreading.SpinCountVariable] = "300000";
                using var child = Process.Start(psi)!;
                string output = child.StandardOutput.ReadToEnd();
                child.WaitForExit();
                Console.Write(output);
            }
        }
        finally
        {
            foreach (var p in busy)
            {
                p.Kill();
                p.WaitForExit();
                p.Dispose();
            }
        }
        Console.WriteLine();
        Console.WriteLine($"load after: {LoadAverage()}");
        return 0;
    }

    private static int Child(string[] args)
    {
        string config = args[0];
        int l2hmcSteps = 100, svccaRows = 10000, svccaWidth = 300;
        for (int i = 1; i + 1 < args.Length; i += 2)
        {
            int v = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--l2hmc-steps": l2hmcSteps = v; break;
                case "--svcca-rows": svccaRows = v; break;
                case "--svcca-width": svccaWidth = v; break;
                default: throw new ArgumentException($"Unknown option {args[i]}");
            }
        }
        var outcome = NativeThreading.Outcome; // before the first torch call, as in a user's program
        if (config == "one")
            torch.set_num_threads(1);
        string load = LoadAverage();
        var ml = new MLContext(seed: 1);

        var rng = new Random(0);
        var starts = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 200).Select(_ => new State { Features = [Normal(rng), Normal(rng)] }).ToList());
        var (l2Wall, l2Cpu) = Time(() =>
        {
            using var model = ml.Samplers.L2hmc(EnergyFunction.StronglyCorrelatedGaussian(), trainingSteps: l2hmcSteps).Fit(starts);
        });

        // Two noisy views of one low-rank signal.
        var latent = Enumerable.Range(0, svccaRows).Select(_ => Enumerable.Range(0, 20).Select(_ => Normal(rng)).ToArray()).ToArray();
        var mixA = Enumerable.Range(0, 20 * svccaWidth).Select(_ => Normal(rng)).ToArray();
        var mixB = Enumerable.Range(0, 20 * svccaWidth).Select(_ => Normal(rng)).ToArray();
        float[] Mix(float[] z, float[] m) => Enumerable.Range(0, svccaWidth).Select(j => MathF.Tanh(Enumerable.Range(0, 20).Sum(k => z[k] * m[k * svccaWidth + j]) / 5) + 0.1f * Normal(rng)).ToArray();
        var rows = latent.Select(z => new Pair { ActivationsA = Mix(z, mixA), ActivationsB = Mix(z, mixB) }).ToList();
        var schema = SchemaDefinition.Create(typeof(Pair));
        schema[nameof(Pair.ActivationsA)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, svccaWidth);
        schema[nameof(Pair.ActivationsB)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, svccaWidth);
        var pairs = ml.Data.Cache(ml.Data.LoadFromEnumerable(rows, schema));
        var (svWall, svCpu) = Time(() =>
        {
            using var model = ml.Transforms.Svcca().Fit(pairs);
        });

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {config} | {outcome} | {torch.get_num_threads()} | {load} | {l2Wall:F1} s | {l2Cpu:F1} s | {svWall:F2} s | {svCpu:F2} s |"));
        return 0;
    }

    private static (double Wall, double Cpu) Time(Action action)
    {
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        action();
        clock.Stop();
        process.Refresh();
        return (clock.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpu0).TotalSeconds);
    }

    private static float Normal(Random r) => (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));

    private static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private sealed class State
    {
        [VectorType(2)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Pair
    {
        public float[] ActivationsA { get; set; } = [];

        public float[] ActivationsB { get; set; } = [];
    }
}
