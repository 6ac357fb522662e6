using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Transforms.MetaLearnedFeaturizer;
using Components.Transforms.MetaLearnedFeaturizer.MetaTraining;
using Microsoft.ML;

namespace Components.Benchmarks.MetaLearnedFeaturizer;

/// <summary>
/// <c>mlur-metatrain [--steps N] [--workers W] [--unrolls U] [--seed S] [--out rule.bin] [--checkpoint ckpt.bin]
/// [--eval-tasks K] [--bench N]</c>: meta-trains the neuron-local update rule on Fashion-MNIST (train split, pooled to
/// 14×14, the reference's TinyMnist size) from <c>new LocalUpdateRule(Seed = S)</c> (or resumes from an existing
/// checkpoint) and saves it as a rule file. Before and after, the few-shot meta-loss on K held-out tasks (test split,
/// task seeds never drawn in training) of the initial rule, the trained rule and the untrained base network.
/// <c>--bench N</c> instead measures meta-training throughput (inner steps/s) with 1 and 2 workers, N meta-steps each.
/// Torch threads: 1 per worker.
/// </summary>
public static class MetaTrainRunner
{
    public static int Run(string[] args)
    {
        int steps = 20, workers = 1, unrolls = RuleMetaTrainerOptions.Defaults.UnrollsPerStep, seed = 1, evalTasks = 16, bench = 0, evalSteps = 30;
        int minClasses = MetaTaskDistribution.Defaults.MinClasses, maxClasses = MetaTaskDistribution.Defaults.MaxClasses;
        double lr = RuleMetaTrainerOptions.Defaults.LearningRate;
        string output = "mlur-rule.bin";
        string? checkpoint = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            string value = args[i + 1];
            switch (args[i])
            {
                case "--steps": steps = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--workers": workers = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--unrolls": unrolls = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--out": output = value; break;
                case "--checkpoint": checkpoint = value; break;
                case "--eval-tasks": evalTasks = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--eval-steps": evalSteps = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--min-classes": minClasses = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--max-classes": maxClasses = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--lr": lr = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--bench": bench = int.Parse(value, CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"Unknown option '{args[i]}'.");
                    return 2;
            }
        }
        TorchSharp.torch.set_num_threads(1);
        var ml = new MLContext(seed: 0);
        var fashion = FashionMnist.Load(ml);
        using var train = MetaTrainingData.FromDataView(fashion.Train, pool: 2);
        using var test = MetaTrainingData.FromDataView(fashion.Test, pool: 2);
        Console.WriteLine($"Fashion-MNIST ({fashion.Source}): {train.Images.shape[0]} train / {test.Images.shape[0]} held-out images of {train.Width} pixels");
        var distribution = new MetaTaskDistribution { MinClasses = minClasses, MaxClasses = maxClasses };

        if (bench > 0)
        {
            Console.WriteLine($"load before: {Load()}");
            foreach (int w in new[] { 1, 2 })
            {
                using var t = new LocalUpdateRuleMetaTrainer(new LocalUpdateRule(new LocalUpdateRuleOptions { Seed = seed }), train,
                    new RuleMetaTrainerOptions { Seed = seed, Workers = w, UnrollsPerStep = unrolls, Distribution = distribution });
                var sw = Stopwatch.StartNew();
                t.Train(bench);
                sw.Stop();
                Console.WriteLine($"workers {w}: {bench} meta-steps × {unrolls} unrolls, {t.InnerSteps} inner steps in {sw.Elapsed.TotalSeconds:F1} s = {t.InnerSteps / sw.Elapsed.TotalSeconds:F1} inner steps/s, {bench / sw.Elapsed.TotalSeconds:F3} meta-steps/s (load {Load()})");
            }
            return 0;
        }

        var options = new RuleMetaTrainerOptions
        {
            Seed = seed, Workers = workers, UnrollsPerStep = unrolls, LearningRate = lr, CheckpointPath = checkpoint, Distribution = distribution,
            CheckpointEvery = 5, Log = line => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {line}"),
        };
        using var initial = new LocalUpdateRule(new LocalUpdateRuleOptions { Seed = seed });
        var baseline = Evaluate(null, test, distribution, evalTasks, evalSteps);
        var before = Evaluate(initial, test, distribution, evalTasks, evalSteps);
        Console.WriteLine($"held-out meta-loss ({evalTasks} tasks, {evalSteps} inner steps): untrained base network {Summary(baseline)}, initial rule {Summary(before)}");
        using var trainer = checkpoint is not null && File.Exists(checkpoint)
            ? LocalUpdateRuleMetaTrainer.Resume(checkpoint, train, options)
            : new LocalUpdateRuleMetaTrainer(new LocalUpdateRule(new LocalUpdateRuleOptions { Seed = seed }), train, options);
        var sw2 = Stopwatch.StartNew();
        long innerBefore = trainer.InnerSteps;
        trainer.Train(steps);
        sw2.Stop();
        LocalUpdateRuleFile.Save(trainer.Rule, output);
        var after = Evaluate(trainer.Rule, test, distribution, evalTasks, evalSteps);
        int better = after.Zip(before).Count(p => p.First < p.Second);
        Console.WriteLine($"held-out meta-loss: meta-trained rule {Summary(after)} (lower than the initial rule on {better}/{evalTasks} tasks; untrained network {Summary(baseline)})");
        int n = trainer.History.Count;
        if (n >= 10)
            Console.WriteLine($"training meta-loss: first 10 steps {trainer.History.Take(10).Average():F4}, last 10 steps {trainer.History.Skip(n - 10).Average():F4}");
        double secs = sw2.Elapsed.TotalSeconds;
        Console.WriteLine($"{trainer.StepsTaken} meta-steps, {trainer.InnerSteps - innerBefore} inner steps in {secs:F1} s ({(trainer.InnerSteps - innerBefore) / Math.Max(secs, 1e-9):F1} inner steps/s, {workers} workers; load {Load()}); rule → {output}");
        return 0;
    }

    private static double[] Evaluate(LocalUpdateRule? rule, MetaTrainingData data, MetaTaskDistribution distribution, int tasks, int innerSteps)
        => [.. Enumerable.Range(0, tasks).Select(i => RuleMetaObjective.Evaluate(rule, data, distribution, 2_000_000 + i, innerSteps))];

    private static string Summary(double[] v)
    {
        double mean = v.Average();
        double sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, v.Length - 1));
        return $"{mean:F4} ± {sd / Math.Sqrt(v.Length):F4}";
    }

    private static string Load() => File.ReadAllText("/proc/loadavg").Trim();
}
