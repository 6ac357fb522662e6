// Quickstart: trains the suite's components on Fashion-MNIST inside ordinary ML.NET pipelines, compares them with an
// ML.NET baseline, and shows that a saved pipeline reloads in a new MLContext and predicts identically.
//
//   dotnet run --project docs/samples/Quickstart -c Release [-- --epochs 5 --train-rows 60000 --threads 1 --section nngp]
//
// --section NAME runs one section of the tour (names: see Sections below); the default runs them all.
// --threads sets torch.set_num_threads for this process. The default is 1: on a 2-core machine whose cores are also
// busy with other work, libtorch's spinning threads made training 15× slower with 2 threads (docs/benchmarks.md);
// pass --threads 2 (or more) on an idle machine.
//
// Structure: Main loads the data once, then runs the sections in order; each section is one static method per
// component that trains, evaluates and adds rows to the metrics table. To add a component, write a method like
// NeuralNetwork(...) below (in a file Program.<Component>.cs of its own: Program is partial) and add it to Sections.

using System.Diagnostics;
using System.Globalization;
using Components.Core;
using Components.Core.Data;
using Components.Trainers.NeuralNetwork;
using Components.Trainers.Nngp;
using Components.Transforms.Svcca;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Quickstart;

internal static partial class Program
{
    private static int s_epochs = 5;
    private static int? s_trainRows;
    private static int s_threads = 1;
    private static string? s_section;

    /// <summary>The tour's sections, in order: a name for --section and the method (false = the section's check failed).</summary>
    private static readonly (string Name, Func<MLContext, FashionMnistData, List<MetricsRow>, bool> Run)[] Sections =
    [
        ("neuralnetwork", NeuralNetwork),
        ("learned-optimizer", LearnedOptimizer),
        ("sdca", (ml, data, results) => { SdcaBaseline(ml, data, results); return true; }),
        ("nngp", (ml, data, results) => { Nngp(ml, data, results); return true; }),
        ("svcca", (ml, data, _) => { Svcca(ml, data); return true; }),
        ("metalearnedfeaturizer", MetaLearnedFeaturizer),
        ("sensitivity", (ml, data, _) => Sensitivity(ml, data)),
        ("l2hmc", (ml, data, _) => L2hmc(ml, data)),
        ("adversarial", (ml, data, _) => Adversarial(ml, data)),
        ("rebar", Rebar),
        ("signal-propagation", (ml, data, _) => SignalPropagation(ml, data)),
        ("gan", (ml, data, _) => Gan(ml, data)),
    ];

    private static int Main(string[] args)
    {
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--epochs": s_epochs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--train-rows": s_trainRows = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--threads": s_threads = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--section": s_section = args[i + 1]; break;
                default: Console.Error.WriteLine($"Unknown option {args[i]} (expected --epochs N, --train-rows N, --threads N, --section NAME)."); return 2;
            }
        }
        if (s_section is not null && !Sections.Any(s => s.Name == s_section))
        {
            Console.Error.WriteLine($"Unknown section '{s_section}' (expected one of: {string.Join(", ", Sections.Select(s => s.Name))}).");
            return 2;
        }

        TorchSharp.torch.set_num_threads(s_threads);
        var ml = new MLContext(seed: 1);
        var data = FashionMnist.Load(ml, trainRows: s_trainRows);
        Console.WriteLine($"Fashion-MNIST from {data.Source}: {data.Train.GetRowCount():N0} training rows, {data.Test.GetRowCount():N0} test rows" +
            (data.IsEmbeddedSubset ? " (the embedded class-balanced subset; `apt-get install dataset-fashion-mnist` for the full 60,000/10,000)." : ".") +
            $" Torch threads: {TorchSharp.torch.get_num_threads()}.");
        Console.WriteLine();

        var results = new List<MetricsRow>();
        bool ok = true;
        foreach (var section in Sections)
        {
            if (s_section is null || section.Name == s_section)
                ok &= section.Run(ml, data, results);
        }

        Console.WriteLine();
        PrintTable(results);
        return ok ? 0 : 1;
    }

    /// <summary>The NeuralNetwork trainer (an MLP), with save → load → identical predictions.</summary>
    private static bool NeuralNetwork(MLContext ml, FashionMnistData data, List<MetricsRow> results)
    {
        Console.WriteLine($"== NeuralNetwork: MLP 784-128-10 (ReLU), Adam, batch 64, {s_epochs} epochs, seed 1");
        // Per-epoch progress comes through the MLContext log; print the trainer's Info lines.
        void Progress(object? sender, LoggingEventArgs e)
        {
            if (e.Kind == ChannelMessageKind.Info && e.Source.StartsWith("NeuralNetwork", StringComparison.Ordinal))
                Console.WriteLine("   " + e.RawMessage);
        }
        ml.Log += Progress;
        var pipeline = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [128], numberOfEpochs: s_epochs, seed: 1)
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
        var watch = Stopwatch.StartNew();
        var model = pipeline.Fit(data.Train);
        watch.Stop();
        ml.Log -= Progress;
        var scored = model.Transform(data.Test);
        results.Add(MetricsRow.From("NeuralNetwork (MLP)", ml.MulticlassClassification.Evaluate(scored), watch.Elapsed));

        // Save the whole pipeline, reload it in a fresh MLContext, and compare every test prediction.
        var path = Path.Combine(Path.GetTempPath(), $"quickstart-neuralnetwork-{Environment.ProcessId}.zip");
        ml.Model.Save(model, data.Train.Schema, path);
        var ml2 = new MLContext().RegisterComponents();
        var reloaded = ml2.Model.Load(path, out _);
        var before = ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: false).ToList();
        var after = ml2.Data.CreateEnumerable<Prediction>(reloaded.Transform(data.Test), reuseRowObject: false).ToList();
        bool identical = before.Count == after.Count
            && before.Zip(after).All(p => p.First.PredictedLabelValue == p.Second.PredictedLabelValue && p.First.Score.SequenceEqual(p.Second.Score));
        Console.WriteLine($"   Saved the pipeline to {path} ({new FileInfo(path).Length / 1024.0:N0} KiB), reloaded it in a new MLContext: " +
            (identical ? $"identical scores and labels on all {after.Count:N0} test rows." : "PREDICTIONS DIFFER."));
        var first = after[0];
        Console.WriteLine($"   First test image: predicted '{first.PredictedLabelValue}' with probability {first.Score.Max():F3}.");
        File.Delete(path);
        (model as IDisposable)?.Dispose();
        (reloaded as IDisposable)?.Dispose();
        return identical;
    }

    /// <summary>ML.NET's SDCA maximum-entropy (multinomial logistic regression) baseline.</summary>
    private static void SdcaBaseline(MLContext ml, FashionMnistData data, List<MetricsRow> results)
    {
        Console.WriteLine();
        Console.WriteLine("== ML.NET baseline: SdcaMaximumEntropy (linear, L2-regularised), 10 passes");
        var trainer = ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 10);
        var watch = Stopwatch.StartNew();
        var model = trainer.Fit(data.Train);
        watch.Stop();
        results.Add(MetricsRow.From("SdcaMaximumEntropy (ML.NET)", ml.MulticlassClassification.Evaluate(model.Transform(data.Test)), watch.Elapsed));
    }

    /// <summary>The NNGP Gaussian-process classifier (an infinitely wide 3-layer ReLU net) on 2,000 training images.</summary>
    private static void Nngp(MLContext ml, FashionMnistData data, List<MetricsRow> results)
    {
        const int n = 2000;
        Console.WriteLine();
        Console.WriteLine($"== NNGP: GP with the kernel of an infinitely wide ReLU net (depth 3, σ_w² = 2, σ_b² = 0.1), first {n:N0} training images");
        var train = ml.Data.TakeRows(data.Train, n);
        var watch = Stopwatch.StartNew();
        var model = ml.MulticlassClassification.Trainers.Nngp(depth: 3, weightVariance: 2.0, biasVariance: 0.1, regularizer: 0.1).Fit(train);
        watch.Stop();
        var scored = model.Transform(data.Test);
        // Scores are calibrated probabilities (a softmax of the GP posterior means, temperature fitted on leave-one-out means).
        results.Add(MetricsRow.From($"NNGP, {n:N0} rows", ml.MulticlassClassification.Evaluate(scored), watch.Elapsed));
        // The predictive variance tracks error: compare accuracy on the most and least certain test images.
        var rows = ml.Data.CreateEnumerable<NngpPrediction>(scored, reuseRowObject: false).ToList();
        var ordered = rows.OrderBy(r => r.Variance).ToList();
        int tenth = ordered.Count / 10;
        double Accuracy(IEnumerable<NngpPrediction> rs) => rs.Average(r => r.Label == r.PredictedLabel ? 1.0 : 0.0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   Accuracy on the tenth of test images with the lowest predictive variance: {Accuracy(ordered.Take(tenth)):F3}; highest: {Accuracy(ordered.Skip(ordered.Count - tenth)):F3}."));
        (model as IDisposable)?.Dispose();
    }

    /// <summary>SVCCA between the hidden layers of two MLPs trained from different seeds (via LayerActivations).</summary>
    private static void Svcca(MLContext ml, FashionMnistData data)
    {
        const int n = 10000;
        Console.WriteLine();
        Console.WriteLine($"== SVCCA: hidden layers of two MLPs 784-128-64-10 trained from seeds 1 and 2 ({n:N0} training images, 2 epochs), compared on the test set");
        var train = ml.Data.TakeRows(data.Train, n);
        var net1 = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [128, 64], numberOfEpochs: 2, seed: 1).Fit(train);
        var net2 = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [128, 64], numberOfEpochs: 2, seed: 2).Fit(train);
        var untrained = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [128, 64], numberOfEpochs: 1, learningRate: 1e-12, seed: 3).Fit(train);
        foreach (var layer in new[] { 1, 2 })
        {
            double Similarity(NeuralNetworkModel a, NeuralNetworkModel b)
            {
                var acts = ml.Transforms.LayerActivations(a, new LayerActivationsEstimator.Options { Layers = [layer], OutputColumnNames = ["ActivationsA"] })
                    .Append(ml.Transforms.LayerActivations(b, new LayerActivationsEstimator.Options { Layers = [layer], OutputColumnNames = ["ActivationsB"] }));
                var withActs = acts.Fit(data.Test).Transform(data.Test);
                using var svcca = ml.Transforms.Svcca("ActivationsA", "ActivationsB").Fit(withActs);
                return svcca.Mean;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   hidden layer {layer}: SVCCA mean ρ (99% variance) seed 1 vs seed 2 = {Similarity(net1, net2):F3}; seed 1 vs an effectively untrained net (learning rate 1e-12) = {Similarity(net1, untrained):F3}"));
        }
        foreach (var m in new[] { net1, net2, untrained })
            m.Dispose();
    }

    private static void PrintTable(List<MetricsRow> rows)
    {
        Console.WriteLine($"{"Model",-30} {"Micro-acc",9} {"Macro-acc",9} {"Log-loss",9} {"Train time",11}");
        Console.WriteLine(new string('-', 72));
        foreach (var r in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Name,-30} {r.MicroAccuracy,9:F4} {r.MacroAccuracy,9:F4} {(double.IsNaN(r.LogLoss) ? "n/a" : r.LogLoss.ToString("F4", CultureInfo.InvariantCulture)),9} {r.TrainTime.TotalSeconds,10:F1}s"));
    }

    private sealed record MetricsRow(string Name, double MicroAccuracy, double MacroAccuracy, double LogLoss, TimeSpan TrainTime)
    {
        public static MetricsRow From(string name, MulticlassClassificationMetrics m, TimeSpan time)
            => new(name, m.MicroAccuracy, m.MacroAccuracy, m.LogLoss, time);
    }

    private sealed class NngpPrediction
    {
        public uint Label { get; set; }

        public uint PredictedLabel { get; set; }

        public float Variance { get; set; }
    }

    private sealed class Prediction
    {
        public string PredictedLabelValue { get; set; } = "";

        public float[] Score { get; set; } = [];
    }
}
