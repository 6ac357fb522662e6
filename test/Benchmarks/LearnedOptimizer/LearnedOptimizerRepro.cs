using System.Globalization;
using Components.Core.Data;
using Components.Core.Randomness;
using Components.Core.Tensors;
using Components.Trainers.LearnedOptimizer;
using Components.Trainers.LearnedOptimizer.MetaTraining;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using ScottPlot;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Benchmarks.LearnedOptimizer;

/// <summary>
/// <c>lopt-repro [--weights file.hrnn] [--seeds 3] [--problems 10] [--workers 2] [--images docs/images] [--tasks heldout,mlp,cnn,matfac] [--quick]</c>:
/// the learned optimizer (shipped weights unless <c>--weights</c>) vs Adam, RMSProp and SGD with momentum 0.9, each with
/// its learning rate tuned on the grid 1e-4 … 1 (5 values; the best mean final loss over the same runs, which favours
/// the tuned ones), and the learned optimizer also with its initial learning rate η₀ tuned on the same grid and with the
/// NeuralNetwork trainers' default step-size bound (MaxLearningRate 1e-3), on held-out problems of the meta-training distribution, an MLP and a small CNN on a Fashion-MNIST
/// subset, and low-rank matrix factorisation (a family the ensemble does not contain). Prints a table of final losses
/// and writes one PNG of loss curves per task. Torch threads: 1 per worker.
/// </summary>
public static class LearnedOptimizerRepro
{
    private static readonly double[] LearningRates = [1e-4, 1e-3, 1e-2, 1e-1, 1];
    private static readonly string[] Baselines = ["Adam", "RMSProp", "SGD+momentum"];

    /// <summary>One training run: the parameters, the loss of step t (mini-batch or noisy) and the evaluated loss (full batch, no grad).</summary>
    private sealed class Instance(Parameter[] parameters, Func<int, Tensor> stepLoss, Func<double> evalLoss, IDisposable? owned) : IDisposable
    {
        public Parameter[] Parameters { get; } = parameters;
        public Func<int, Tensor> StepLoss { get; } = stepLoss;
        public Func<double> EvalLoss { get; } = evalLoss;

        public void Dispose()
        {
            foreach (var p in Parameters)
                p.Dispose();
            owned?.Dispose();
        }
    }

    /// <summary>A task: its instances (one per seed or held-out problem), steps, evaluation interval and whether losses are compared as log ratios to the start.</summary>
    private sealed record Task(string Key, string Title, int Steps, int EvalEvery, int[] Seeds, Func<int, Instance> Make, bool LogRatio);

    public static int Run(string[] args)
    {
        string? weights = null;
        string images = Path.Combine(Svcca.SvccaReproduction.FindRepoRoot(), "docs", "images");
        int seeds = 3, problems = 10, workers = 2;
        bool quick = false;
        string[]? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => args[++i];
            switch (args[i])
            {
                case "--weights": weights = Next(); break;
                case "--seeds": seeds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--problems": problems = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--workers": workers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--images": images = Next(); break;
                case "--quick": quick = true; break;
                case "--tasks": only = Next().Split(','); break;
                default:
                    Console.Error.WriteLine($"Unknown option '{args[i]}'.");
                    return 2;
            }
        }
        torch.set_num_threads(1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var meta = weights is null ? HierarchicalRnnMetaParameters.LoadShipped() : HierarchicalRnnMetaParameters.Load(weights);
        Console.WriteLine($"Learned optimizer weights: {weights ?? "shipped"}; load {File.ReadAllText("/proc/loadavg").Trim()}");

        int scale = quick ? 4 : 1;
        var data = FashionMnist.Load(new MLContext(seed: 0), trainRows: 4096, testRows: 16);
        using var features = DataLoading.LoadFeatures(data.Train, "Features");
        using var labels = DataLoading.LoadKeyLabels(data.Train, "Label").Labels;
        var seedList = Enumerable.Range(1, seeds).ToArray();
        var tasks = new[]
        {
            new Task("heldout", $"Held-out problems of the meta-training distribution ({problems} problems, seeds 2000000+)", 200 / scale, 10,
                [.. Enumerable.Range(2_000_000, problems)], EnsembleProblem, LogRatio: true),
            new Task("mlp", "Fashion-MNIST MLP 784-64-10 (ReLU), 4096 training rows, batch 128 (loss on 1024 of them)", 200 / scale, 25, seedList,
                s => ImageNet(NeuralNetworkArchitectureKind.Mlp, s, features, labels, 128), LogRatio: false),
            new Task("cnn", "Fashion-MNIST CNN conv5x5(8)-pool-conv5x5(16)-pool-10, 4096 training rows, batch 32 (loss on 1024 of them)", 150 / scale, 25, seedList,
                s => ImageNet(NeuralNetworkArchitectureKind.Cnn, s, features, labels, 32), LogRatio: false),
            new Task("matfac", "Matrix factorisation ‖UVᵀ − M‖²/400, M 20×20 of rank 3 + noise, U, V rank 5 (not in the ensemble)", 300 / scale, 10, seedList,
                MatrixFactorisation, LogRatio: false),
        };

        var table = new List<string>();
        var names = new[] { "learned (HRNN)", "learned, η₀ tuned", "learned, step ≤ 1e-3" }.Concat(Baselines).ToArray();
        foreach (var task in tasks.Where(t => only is null || only.Contains(t.Key)))
        {
            var taskClock = System.Diagnostics.Stopwatch.StartNew();
            // Every (optimizer, learning rate) configuration on every instance, as one parallel batch of independent runs.
            var configs = new List<(string Name, double Lr, Func<Parameter[], optim.Optimizer> Create)>
            {
                (names[0], double.NaN, p => new HierarchicalRnnOptimizer(p, meta, new HierarchicalRnnOptimizer.Options { Seed = 0 })),
            };
            foreach (double lr in LearningRates)
                configs.Add((names[1], lr, p => new HierarchicalRnnOptimizer(p, meta, new HierarchicalRnnOptimizer.Options { Seed = 0, MinInitialLearningRate = lr, MaxInitialLearningRate = lr })));
            // As the NeuralNetwork trainers run it: the default initial range and the trainer's default step-size bound.
            configs.Add((names[2], double.NaN, p => new HierarchicalRnnOptimizer(p, meta, new HierarchicalRnnOptimizer.Options
            { Seed = 0, MaxLearningRate = NeuralNetworkOptions.Defaults.LearnedOptimizerMaxLearningRate })));
            foreach (var baseline in Baselines)
            {
                foreach (double lr in LearningRates)
                    configs.Add((baseline, lr, p => Baseline(baseline, p, lr)));
            }
            var runs = RunAll(task, workers, configs.Select(c => c.Create).ToArray());
            var curves = new List<(string Name, double[] Curve)>();
            var row = new List<string>();
            foreach (var name in names)
            {
                var best = configs.Select((c, i) => (c, Runs: runs[i])).Where(x => x.c.Name == name).MinBy(x => Score(x.Runs));
                string lrText = double.IsNaN(best.c.Lr) ? "" : name == names[1] ? $" (η₀ {best.c.Lr:G2})" : $" (lr {best.c.Lr:G2})";
                curves.Add((name + lrText, Mean(best.Runs)));
                row.Add(Final(best.Runs, task) + lrText);
            }
            string metric = task.LogRatio ? "mean log10(f_T / f_0)" : "mean final loss";
            table.Add($"| {task.Key} ({task.Steps} steps; {metric}) | {string.Join(" | ", row)} |");
            Console.WriteLine($"{task.Key}: {string.Join("; ", names.Select((b, i) => $"{b} {row[i]}"))} ({taskClock.Elapsed.TotalSeconds:F0} s)");
            if (!quick)
                Plot(task, curves, Path.Combine(images, $"lopt-repro-{task.Key}.png"));
        }
        Console.WriteLine();
        Console.WriteLine($"| task | {string.Join(" | ", names)} |");
        Console.WriteLine($"|---|{string.Concat(names.Select(_ => "---|"))}");
        foreach (var line in table)
            Console.WriteLine(line);
        Console.WriteLine($"Total {clock.Elapsed.TotalSeconds:F0} s; load {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static optim.Optimizer Baseline(string name, Parameter[] p, double lr) => name switch
    {
        "Adam" => optim.Adam(p, lr),
        "RMSProp" => optim.RMSProp(p, lr),
        _ => optim.SGD(p, lr, momentum: 0.9),
    };

    /// <summary>Every instance of the task trained with the optimizer; per instance the evaluated loss at steps 0, EvalEvery, … (log10 ratio to the start for LogRatio tasks; NaN after a divergence).</summary>
    private static double[][][] RunAll(Task task, int workers, Func<Parameter[], optim.Optimizer>[] factories)
    {
        int seeds = task.Seeds.Length;
        var result = factories.Select(_ => new double[seeds][]).ToArray();
        Parallel.For(0, factories.Length * seeds, new ParallelOptions { MaxDegreeOfParallelism = workers }, job =>
        {
            int c = job / seeds, i = job % seeds;
            using var instance = task.Make(task.Seeds[i]);
            using var optimizer = factories[c](instance.Parameters);
            var curve = new List<double>();
            double f0 = instance.EvalLoss();
            double Record(double f) => task.LogRatio ? Math.Log10((f + 1e-12) / (f0 + 1e-12)) : f;
            curve.Add(Record(f0));
            bool diverged = false;
            for (int t = 1; t <= task.Steps; t++)
            {
                if (!diverged)
                {
                    using var scope = NewDisposeScope();
                    optimizer.zero_grad();
                    var loss = instance.StepLoss(t);
                    loss.backward();
                    try
                    {
                        optimizer.step();
                    }
                    catch (InvalidOperationException)
                    {
                        diverged = true; // the learned optimizer refuses non-finite gradients
                    }
                }
                if (t % task.EvalEvery == 0)
                {
                    double f = diverged ? double.NaN : instance.EvalLoss();
                    diverged |= !double.IsFinite(f);
                    curve.Add(diverged ? double.NaN : Record(f));
                }
            }
            result[c][i] = [.. curve];
        });
        return result;
    }

    private static double Score(double[][] runs)
    {
        var finals = runs.Select(r => r[^1]).ToArray();
        return finals.Any(f => !double.IsFinite(f)) ? double.PositiveInfinity : finals.Average();
    }

    private static string Final(double[][] runs, Task task)
    {
        var finals = runs.Select(r => r[^1]).ToArray();
        if (finals.Any(f => !double.IsFinite(f)))
            return $"diverged in {finals.Count(f => !double.IsFinite(f))}/{finals.Length}";
        double mean = finals.Average();
        double sd = finals.Length > 1 ? Math.Sqrt(finals.Sum(f => (f - mean) * (f - mean)) / (finals.Length - 1)) : 0;
        return task.LogRatio ? $"{mean:F3} ± {sd / Math.Sqrt(finals.Length):F3}" : $"{mean:G4} ± {sd / Math.Sqrt(finals.Length):G2}";
    }

    private static double[] Mean(double[][] runs) =>
        [.. Enumerable.Range(0, runs[0].Length).Select(t => runs.Average(r => r[t]))];

    private static Instance EnsembleProblem(int seed)
    {
        var problem = MetaTrainingEnsemble.Default.Draw(seed);
        var parameters = problem.InitialParameters.Select(t => new Parameter(t.clone().DetachFromDisposeScope(), requires_grad: true)).ToArray();
        return new Instance(parameters, _ => problem.Loss(parameters), () =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            return problem.Loss(parameters).ToDouble();
        }, problem);
    }

    private static Instance ImageNet(NeuralNetworkArchitectureKind kind, int seed, Tensor features, Tensor labels, int batch)
    {
        var architecture = kind == NeuralNetworkArchitectureKind.Mlp
            ? new NeuralNetworkArchitecture(kind, 784, 10, [64], NeuralNetworkActivation.Relu, 2.0, 0.0)
            : new NeuralNetworkArchitecture(kind, 784, 10, [], NeuralNetworkActivation.Relu, 2.0, 0.0, [8, 16], 28, 28);
        using var init = RandomStreams.CreateGenerator(seed, "lopt-repro.init");
        var net = NeuralNetworkModule.Create(architecture, init);
        var batches = RandomStreams.CreateGenerator(seed, "lopt-repro.batches");
        long n = features.shape[0];
        var parameters = net.parameters().ToArray();
        const int evalRows = 1024;
        return new Instance(parameters, _ =>
        {
            var index = randint(n, [batch], generator: batches);
            return nn.functional.cross_entropy(net.call(features.index_select(0, index)), labels.index_select(0, index));
        }, () =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            return nn.functional.cross_entropy(net.call(features.narrow(0, 0, evalRows)), labels.narrow(0, 0, evalRows)).ToDouble();
        }, new Owned(net, batches));
    }

    private static Instance MatrixFactorisation(int seed)
    {
        using var g = RandomStreams.CreateGenerator(seed, "lopt-repro.matfac");
        var m = (randn([20, 3], generator: g).matmul(randn([3, 20], generator: g)) + 0.01 * randn([20, 20], generator: g)).DetachFromDisposeScope();
        var u = new Parameter(0.1 * randn([20, 5], generator: g), requires_grad: true);
        var v = new Parameter(0.1 * randn([20, 5], generator: g), requires_grad: true);
        Tensor Loss() => (u.matmul(v.t()) - m).square().mean();
        return new Instance([u, v], _ => Loss(), () =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            return Loss().ToDouble();
        }, m);
    }

    private sealed class Owned(params IDisposable[] items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var item in items)
                item.Dispose();
        }
    }

    private static void Plot(Task task, List<(string Name, double[] Curve)> curves, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var plt = new Plot();
        foreach (var (name, curve) in curves)
        {
            var xs = Enumerable.Range(0, curve.Length).Select(i => (double)(i * task.EvalEvery)).ToArray();
            var ys = curve.Select(c => task.LogRatio ? c : Math.Log10(c)).ToArray();
            var keep = ys.Select((y, i) => (xs[i], y)).Where(p => double.IsFinite(p.y)).ToArray();
            var sc = plt.Add.Scatter(keep.Select(p => p.Item1).ToArray(), keep.Select(p => p.y).ToArray());
            sc.LegendText = name;
        }
        plt.XLabel("step");
        plt.YLabel(task.LogRatio ? "mean log10(f_t / f_0)" : "log10 training loss (mean over seeds)");
        plt.Title(task.Title.Length > 70 ? task.Title[..70] + "…" : task.Title);
        plt.ShowLegend(Edge.Bottom); // below the axes: inside, it hid the curves' tails (matfac: the learned optimizer's)
        plt.SavePng(path, 800, 560);
    }
}
