using System.Globalization;
using Components.Trainers.LearnedOptimizer;
using Components.Trainers.LearnedOptimizer.MetaTraining;

namespace Components.Benchmarks.LearnedOptimizer;

/// <summary>
/// <c>lopt-metatrain [--steps N] [--workers W] [--unrolls U] [--seed S] [--lr 1e-3] [--out weights.hrnn] [--checkpoint ckpt.bin]
/// [--snapshot-every K] [--eval P] [--eval-steps 200] [--partials-scale 5] [--partials-max 20] [--length-min 10]
/// [--length-scale 20] [--length-max 50] [--clip 1e4] [--max-loss-ratio 0] [--fixed-initial-states]
/// [--select-every K --select-problems 8 --select-steps 1000]</c> or <c>lopt-metatrain --evaluate a.hrnn,b.hrnn --eval P [--workers W]</c>:
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
        int selectEvery = 0, selectProblems = 8, selectSteps = 1000;
        double learningRate = MetaTrainerOptions.Defaults.LearningRate;
        var d = new MetaTrainerOptions();
        double partialScale = d.PartialUnrollScale, lengthScale = d.UnrollLengthScale, clip = d.GradientClip, maxLossRatio = d.MaxLossRatio;
        int partialMax = d.MaxPartialUnrolls, lengthMin = d.MinUnrollLength, lengthMax = d.MaxUnrollLength;
        string output = "lopt-weights.hrnn";
        string? checkpoint = null, evaluate = null;
        bool learnInitialStates = !args.Contains("--fixed-initial-states");
        args = [.. args.Where(a => a != "--fixed-initial-states")];
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
                case "--partials-scale": partialScale = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--partials-max": partialMax = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--length-min": lengthMin = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--length-scale": lengthScale = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--length-max": lengthMax = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--clip": clip = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--max-loss-ratio": maxLossRatio = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--select-every": selectEvery = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--select-problems": selectProblems = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--select-steps": selectSteps = int.Parse(value, CultureInfo.InvariantCulture); break;
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
            PartialUnrollScale = partialScale, MaxPartialUnrolls = partialMax, MinUnrollLength = lengthMin, UnrollLengthScale = lengthScale,
            MaxUnrollLength = lengthMax, GradientClip = clip, MaxLossRatio = maxLossRatio, LearnInitialStates = learnInitialStates,
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
        Console.WriteLine($"Meta-training: {steps} steps, seed {seed}, {workers} workers, {options.UnrollsPerStep} unrolls/step, lr {learningRate}, partial unrolls 1 + Exp({partialScale}) ≤ {partialMax}, length {lengthMin} + Exp({lengthScale}) ≤ {lengthMax}, clip {clip}, loss limit {maxLossRatio}, {(learnInitialStates ? "learned" : "fixed")} initial states; load {File.ReadAllText("/proc/loadavg").Trim()}");
        // Snapshots (OUT.N.hrnn every K steps) are the weights a run with --steps N gives: training in chunks is the same
        // computation, since every meta-step's draws depend only on (seed, slot, trajectory).
        // --select-every K: every K steps the weights are scored on validation problems (seeds SelectionSeed + i, long
        // horizons) and the best-scoring ones are written to OUT at the end (a pure function of the run: no timing involved).
        int chunk = new[] { snapshotEvery, selectEvery }.Where(k => k > 0).DefaultIfEmpty(steps).Min();
        if (snapshotEvery > 0 && selectEvery > 0 && (snapshotEvery % chunk != 0 || selectEvery % chunk != 0))
        {
            Console.Error.WriteLine("--snapshot-every and --select-every must be multiples of the smaller one.");
            return 2;
        }
        double bestScore = double.PositiveInfinity;
        int bestStep = -1;
        string selected = Path.ChangeExtension(output, null) + ".selected.tmp";
        for (int next = chunk; trainer.StepsTaken < steps; next += chunk)
        {
            trainer.Train(Math.Min(next, steps));
            if (snapshotEvery > 0 && trainer.StepsTaken % snapshotEvery == 0)
                trainer.Meta.Save(Path.ChangeExtension(output, null) + $".{trainer.StepsTaken}.hrnn");
            if (selectEvery > 0 && (trainer.StepsTaken % selectEvery == 0 || trainer.StepsTaken == steps))
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                double score = Selection(trainer.Meta, selectProblems, selectSteps, workers);
                bool better = score < bestScore;
                Console.WriteLine($"Selection at meta-step {trainer.StepsTaken}: validation score {score:F4} ({selectProblems} problems, seeds {SelectionSeed}+, {selectSteps} steps, {clock.Elapsed.TotalSeconds:F1} s){(better ? " (best so far)" : "")}");
                if (better)
                {
                    bestScore = score;
                    bestStep = trainer.StepsTaken;
                    trainer.Meta.Save(selected);
                }
            }
        }
        if (bestStep >= 0)
        {
            File.Move(selected, output, overwrite: true);
            Console.WriteLine($"Selected the weights of meta-step {bestStep} (validation score {bestScore:F4}).");
        }
        else
        {
            trainer.Meta.Save(output);
        }
        Console.WriteLine($"{trainer.StepsTaken} meta-steps in {(DateTime.UtcNow - start).TotalSeconds:F1} s (load {File.ReadAllText("/proc/loadavg").Trim()}); weights → {output}");
        if (evalProblems > 0)
        {
            using var shipped = HierarchicalRnnMetaParameters.Load(output);
            Console.WriteLine($"Held-out meta-loss ({evalProblems} problems, {evalSteps} steps): trained {HeldOut(shipped, evalProblems, evalSteps, workers):F4}");
        }
        return 0;
    }

    /// <summary>Problem seeds of held-out evaluations (meta-training draws seeds in [0, 1000)).</summary>
    public const int HeldOutSeed = 1_000_000;

    /// <summary>Problem seeds of the validation problems of <c>--select-every</c> (disjoint from the training seeds, the held-out seeds and lopt-repro's held-out problems 2000000+).</summary>
    public const int SelectionSeed = 3_000_000;

    /// <summary>Largest per-problem value in the selection score: a problem whose loss diverged (or became non-finite) counts as this.</summary>
    public const double SelectionCap = 5;

    /// <summary>
    /// The selection score: mean over validation problems <c>SelectionSeed + i</c> of the log-ratio meta-loss over
    /// <paramref name="steps"/> steps from a fresh start, each capped at <see cref="SelectionCap"/> (non-finite: the cap).
    /// </summary>
    internal static double Selection(HierarchicalRnnMetaParameters meta, int count, int steps, int workers)
    {
        var values = new double[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = workers }, i =>
        {
            using var copy = HierarchicalRnnMetaTrainer.Copy(meta);
            double v = MetaObjective.Evaluate(copy, MetaTrainingEnsemble.Default, SelectionSeed + i, steps);
            values[i] = double.IsFinite(v) ? Math.Min(v, SelectionCap) : SelectionCap;
        });
        return values.Average();
    }

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
