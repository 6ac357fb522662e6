using System.Diagnostics;
using System.Globalization;
using Components.Core.Modules;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Core;

/// <summary>
/// How a model that owns a TorchSharp module should serve several PredictionEngines on several threads: rows/s of
/// a NeuralNetwork multiclass model (one PredictionEngine per thread, one row per Predict) with 1, 2 and 4 threads for
/// each <see cref="ModuleSharing"/> option (a lock around forward, per-thread clones, a pool, and no synchronisation
/// as the reference), for a small and a larger MLP. torch threads = 1 (the question is about caller threads).
/// </summary>
/// <remarks>Arguments: <c>--rows N</c> (rows predicted per measurement, default 4000), <c>--repeats N</c> (default 3; the median is reported).</remarks>
public static class ModuleSharingBenchmark
{
    private sealed class Row
    {
        [VectorType(784)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }

    public static int Run(string[] args)
    {
        int rows = 4000, repeats = 3;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--rows": rows = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--repeats": repeats = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"Unknown option {args[i]}"); return 2;
            }
        }
        torch.set_num_threads(1);
        var ml = new MLContext(seed: 1);
        var rng = new Random(1);
        var inputs = Enumerable.Range(0, 256).Select(_ => new Row { Features = Enumerable.Range(0, 784).Select(_ => (float)rng.NextDouble()).ToArray() }).ToArray();
        Console.WriteLine($"{Environment.ProcessorCount} logical CPUs; torch threads 1; {rows} rows per measurement, median of {repeats}.");
        Console.WriteLine();
        Console.WriteLine("| network | sharing | threads | load avg | rows/s | copies made |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var hidden in new[] { new[] { 128 }, new[] { 512, 512 } })
        {
            var name = "MLP 784-" + string.Join("-", hidden) + "-10";
            foreach (var sharing in new[] { ModuleSharing.Unsynchronized, ModuleSharing.Lock, ModuleSharing.PerThreadClone, ModuleSharing.Pool })
            {
                foreach (int threads in new[] { 1, 2, 4 })
                {
                    using var model = Model(ml, hidden, sharing);
                    Measure(ml, model, inputs, 1, 200); // warm-up
                    var rates = Enumerable.Range(0, repeats).Select(_ => Measure(ml, model, inputs, threads, rows)).Order().ToArray();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {name} | {sharing} | {threads} | {File.ReadAllText("/proc/loadavg").Split(' ')[0]} | {rates[rates.Length / 2]:F0} | {model.Model.Owner.CopyCount} |"));
                }
            }
        }
        return 0;
    }

    private static NeuralNetworkMulticlassModel Model(MLContext ml, int[] hidden, ModuleSharing sharing)
    {
        var architecture = new NeuralNetworkArchitecture(NeuralNetworkArchitectureKind.Mlp, 784, 10, hidden, NeuralNetworkActivation.Relu, 2, 0.1);
        using var generator = new torch.Generator(1, CPU);
        var module = NeuralNetworkModule.Create(architecture, generator);
        var owner = new TorchModuleOwner<NeuralNetworkModule>(module, CPU, NeuralNetworkModelParameters.Factory(architecture), sharing);
        var parameters = new NeuralNetworkModelParameters(owner, [], 0);
        return new NeuralNetworkMulticlassModel(ml, parameters, "Features", "Score", "PredictedLabel",
            Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(), 512);
    }

    private static double Measure(MLContext ml, ITransformer model, Row[] inputs, int threads, int rows)
    {
        var engines = Enumerable.Range(0, threads).Select(_ => ml.Model.CreatePredictionEngine<Row, Prediction>(model)).ToArray();
        using var start = new Barrier(threads + 1);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var engine = engines[t];
            var output = new Prediction();
            start.SignalAndWait();
            for (int i = t; i < rows; i += threads)
                engine.Predict(inputs[i % inputs.Length], ref output);
        })).ToList();
        workers.ForEach(w => w.Start());
        start.SignalAndWait();
        var clock = Stopwatch.StartNew();
        workers.ForEach(w => w.Join());
        return rows / clock.Elapsed.TotalSeconds;
    }
}
