using System.Globalization;
using Components.Trainers.LearnedOptimizer;
using Components.Trainers.LearnedOptimizer.MetaTraining;

namespace Components.Benchmarks.LearnedOptimizer;

/// <summary>
/// <c>lopt-metatrain [--steps N] [--workers W] [--unrolls U] [--seed S] [--lr 1e-3] [--out weights.hrnn] [--checkpoint ckpt.bin]
/// [--snapshot-every K] [--eval P] [--eval-steps 200]</c> or <c>lopt-metatrain --evaluate a.hrnn,b.hrnn --eval P [--workers W]</c>:
/// meta-trains the hierarchical RNN optimizer from <c>CreateInitial(S)</c> (or resumes from an existing checkpoint) and
/// saves the meta-parameters as a weights file (and every K steps as OUT.N.hrnn). <c>--eval P</c> prints the held-out
/// meta-loss (problem seeds 1000000 + i, i &lt; P, fresh starts) of the reduced rule and the initial weights before and of the
/// trained weights after. Torch threads: 1 per worker.
/// </summary>
public static class MetaTrainRunner
{
    public static int Run(string[] args)
    {
        int steps = 20, workers = 1, unrolls = 0, seed = 1, evalProblems = 0, evalSteps = 200, snapshotEvery = 0;
        double learningRate = MetaTrainerOptions.Defaults.LearningRate;
        string output = "lopt-weights.hrnn";
        string? checkpoint = null, evaluate = null;
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
                case "--lr": learningRate = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--snapshot-every": snapshotEvery = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--evaluate": evaluate = value; break;
                case "--eval": evalProblems = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--eval-steps": evalSteps = int.Parse(value, CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"Unknown option '{args[i]}'.");
                    return 2;
            }
        }
        TorchSharp.torch.set_num_threads(1);
        if (evaluate is not null)
        {
            // Validation of saved weights (e.g. the snapshots of a run): the held-out meta-loss of each file.
            foreach (var file in evaluate.Split(','))
            {
                using var weights = HierarchicalRnnMetaParameters.Load(file);
                Console.WriteLine($"{file}: held-out meta-loss ({Math.Max(1, evalProblems)} problems, {evalSteps} steps) {HeldOut(weights, Math.Max(1, evalProblems), evalSteps, workers):F4}");
            }
            return 0;
        }
        var options = new MetaTrainerOptions
        {
            Seed = seed, Workers = workers, UnrollsPerStep = unrolls, CheckpointPath = checkpoint, LearningRate = learningRate,
            Log = line => Console.WriteLine(line),
        };
        using var trainer = checkpoint is not null && File.Exists(checkpoint)
            ? HierarchicalRnnMetaTrainer.Resume(checkpoint, options)
            : new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(seed), options);
        if (evalProblems > 0 && trainer.StepsTaken == 0)
        {
            using var reduced = HierarchicalRnnMetaParameters.CreateReduced();
            Console.WriteLine($"Held-out meta-loss ({evalProblems} problems, seeds {HeldOutSeed}+, {evalSteps} steps): reduced rule {HeldOut(reduced, evalProblems, evalSteps, workers):F4}, initial {HeldOut(trainer.Meta, evalProblems, evalSteps, workers):F4}");
        }
        var start = DateTime.UtcNow;
        // Snapshots (OUT.N.hrnn every K steps) are the weights a run with --steps N gives: training in chunks is the same
        // computation, since every meta-step's draws depend only on (seed, slot, trajectory).
        for (int next = snapshotEvery > 0 ? snapshotEvery : steps; trainer.StepsTaken < steps; next += snapshotEvery > 0 ? snapshotEvery : steps)
        {
            trainer.Train(Math.Min(next, steps));
            if (snapshotEvery > 0 && trainer.StepsTaken % snapshotEvery == 0)
                trainer.Meta.Save(Path.ChangeExtension(output, null) + $".{trainer.StepsTaken}.hrnn");
        }
        trainer.Meta.Save(output);
        Console.WriteLine($"{trainer.StepsTaken} meta-steps in {(DateTime.UtcNow - start).TotalSeconds:F1} s (load {File.ReadAllText("/proc/loadavg").Trim()}); weights → {output}");
        if (evalProblems > 0)
            Console.WriteLine($"Held-out meta-loss ({evalProblems} problems, {evalSteps} steps): trained {HeldOut(trainer.Meta, evalProblems, evalSteps, workers):F4}");
        return 0;
    }

    /// <summary>Problem seeds of held-out evaluations (meta-training draws seeds in [0, 1000)).</summary>
    public const int HeldOutSeed = 1_000_000;

    /// <summary>Mean log-ratio meta-loss over the held-out problems <c>HeldOutSeed + i</c>, i &lt; count, from a fresh start.</summary>
    internal static double HeldOut(HierarchicalRnnMetaParameters meta, int count, int steps, int workers)
    {
        var values = new double[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = workers }, i =>
        {
            using var copy = HierarchicalRnnMetaTrainer.Copy(meta);
            values[i] = MetaObjective.Evaluate(copy, MetaTrainingEnsemble.Default, HeldOutSeed + i, steps);
        });
        return values.Average();
    }
}
