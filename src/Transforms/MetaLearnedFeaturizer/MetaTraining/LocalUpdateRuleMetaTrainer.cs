using Components.Core.Training;
using Components.Core.Randomness;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer.MetaTraining;

/// <summary>Settings of <see cref="LocalUpdateRuleMetaTrainer"/>.</summary>
internal sealed class RuleMetaTrainerOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        public const int Seed = 1;
        public const int Workers = 1;
        public const int UnrollsPerStep = 4;
        public const double LearningRate = 3e-3;
        public const double Beta1 = 0.9;
        public const double Beta2 = 0.999;
        public const double GradientClipNorm = 1.0;
        public const int TaskCount = 1 << 20;
        public const int CheckpointEvery = 10;
    }

    /// <summary>Seed of the unroll draws: meta-step s draws its unrolls from the stream <c>"meta-learned-featurizer.meta-train.s"</c>.</summary>
    public int Seed { get; init; } = Defaults.Seed;

    /// <summary>In-process workers computing meta-gradients in parallel (the result does not depend on it).</summary>
    public int Workers { get; init; } = Defaults.Workers;

    /// <summary>Unrolls (meta-gradients averaged in draw order) per meta-step.</summary>
    public int UnrollsPerStep { get; init; } = Defaults.UnrollsPerStep;

    /// <summary>Adam learning rate on the rule's parameters.</summary>
    public double LearningRate { get; init; } = Defaults.LearningRate;

    public double Beta1 { get; init; } = Defaults.Beta1;
    public double Beta2 { get; init; } = Defaults.Beta2;

    /// <summary>The averaged meta-gradient is scaled down to this global L2 norm when longer.</summary>
    public double GradientClipNorm { get; init; } = Defaults.GradientClipNorm;

    /// <summary>Task seeds are drawn from [0, TaskCount).</summary>
    public int TaskCount { get; init; } = Defaults.TaskCount;

    /// <summary>The task distribution and unroll sizes; the defaults when null.</summary>
    public MetaTaskDistribution? Distribution { get; init; }

    /// <summary>Checkpoint file written every <see cref="CheckpointEvery"/> steps and at the end; none when null.</summary>
    public string? CheckpointPath { get; init; }

    public int CheckpointEvery { get; init; } = Defaults.CheckpointEvery;

    /// <summary>Progress lines (one per meta-step); e.g. ComponentContext.Info.</summary>
    public Action<string>? Log { get; init; }

    internal void Validate()
    {
        if (Workers < 1 || Workers > 256)
            throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "Workers must be in [1, 256].");
        if (UnrollsPerStep < 1)
            throw new ArgumentOutOfRangeException(nameof(UnrollsPerStep), UnrollsPerStep, "UnrollsPerStep must be ≥ 1.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The meta learning rate must be positive and finite.");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1))
            throw new ArgumentOutOfRangeException(nameof(Beta1), $"Adam's betas must be in [0, 1) (got {Beta1}, {Beta2}).");
        if (!(GradientClipNorm > 0))
            throw new ArgumentOutOfRangeException(nameof(GradientClipNorm), GradientClipNorm, "The gradient clip norm must be positive.");
        if (TaskCount < 1)
            throw new ArgumentOutOfRangeException(nameof(TaskCount), TaskCount, "TaskCount must be ≥ 1.");
        if (CheckpointEvery < 1)
            throw new ArgumentOutOfRangeException(nameof(CheckpointEvery), CheckpointEvery, "CheckpointEvery must be ≥ 1.");
        (Distribution ?? new MetaTaskDistribution()).Validate();
    }
}

/// <summary>
/// Meta-trains a <see cref="LocalUpdateRule"/> in place: each meta-step draws its unrolls (task seed, warm-up length)
/// from the step's own seeded stream, computes their meta-gradients with <see cref="RuleMetaObjective.Compute"/> on
/// <see cref="RuleMetaTrainerOptions.Workers"/> parallel workers (each on its own copy of the rule), averages them in draw
/// order (so the result does not depend on the number of workers), clips the global norm and takes an Adam step.
/// Owns the rule. Checkpoints (rule, Adam moments, step count, loss history) resume bit for bit.
/// </summary>
internal sealed class LocalUpdateRuleMetaTrainer : IDisposable
{
    private readonly RuleMetaTrainerOptions _options;
    private readonly MetaTrainingData _data;
    private readonly MetaTaskDistribution _distribution;
    private readonly AdamMoments _adam;
    private readonly List<double> _history = [];

    /// <param name="rule">The rule to train (the trainer takes ownership).</param>
    /// <param name="data">The labelled images tasks are drawn from (not owned).</param>
    /// <param name="options">Settings; the defaults when null.</param>
    public LocalUpdateRuleMetaTrainer(LocalUpdateRule rule, MetaTrainingData data, RuleMetaTrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(data);
        _options = options ?? new RuleMetaTrainerOptions();
        _options.Validate();
        _distribution = _options.Distribution ?? new MetaTaskDistribution();
        _data = data;
        Rule = rule;
        _adam = new AdamMoments(rule.parameters(), _options.LearningRate, _options.Beta1, _options.Beta2);
    }

    /// <summary>The rule being trained.</summary>
    public LocalUpdateRule Rule { get; }

    /// <summary>Meta-steps taken so far (including those before a resume).</summary>
    public int StepsTaken { get; private set; }

    /// <summary>The mean meta-loss of every meta-step taken (including those before a resume; NaN where every unroll failed).</summary>
    public IReadOnlyList<double> History => _history;

    /// <summary>Inner steps run per meta-step so far (warm-up plus differentiated), for throughput figures.</summary>
    public long InnerSteps { get; private set; }

    /// <summary>The unrolls of meta-step <paramref name="step"/>: a pure function of (seed, step).</summary>
    public MetaUnroll[] DrawUnrolls(int step)
    {
        var random = new Random((int)(RandomStreams.DeriveSeed(_options.Seed, $"meta-learned-featurizer.meta-train.{step}") & int.MaxValue));
        var result = new MetaUnroll[_options.UnrollsPerStep];
        for (int i = 0; i < result.Length; i++)
            result[i] = new MetaUnroll(random.Next(_options.TaskCount), random.Next(_distribution.MaxWarmupSteps + 1));
        return result;
    }

    /// <summary>Takes meta-steps until <paramref name="totalSteps"/> have been taken (counting those before a resume).</summary>
    public void Train(int totalSteps, CancellationToken cancellation = default)
    {
        if (totalSteps < 0)
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "The number of meta-steps must be ≥ 0.");
        while (StepsTaken < totalSteps)
        {
            cancellation.ThrowIfCancellationRequested();
            Step(cancellation);
            if (_options.CheckpointPath is { } path && (StepsTaken % _options.CheckpointEvery == 0 || StepsTaken == totalSteps))
                SaveCheckpoint(path);
        }
    }

    /// <summary>One meta-step; returns its mean meta-loss (before the update).</summary>
    public double Step(CancellationToken cancellation = default)
    {
        var unrolls = DrawUnrolls(StepsTaken);
        var results = new RuleMetaGradient?[unrolls.Length];
        var errors = new string?[unrolls.Length];
        try
        {
            Parallel.For(0, unrolls.Length, new ParallelOptions { MaxDegreeOfParallelism = _options.Workers, CancellationToken = cancellation }, i =>
            {
                using var copy = Copy(Rule);
                try
                {
                    results[i] = RuleMetaObjective.Compute(copy, _data, _distribution, unrolls[i], cancellation);
                }
                catch (ArithmeticException ex)
                {
                    errors[i] = ex.Message;
                }
            });
        }
        catch (Exception ex) when (ex is AggregateException or OperationCanceledException)
        {
            foreach (var r in results)
                r?.Dispose();
            cancellation.ThrowIfCancellationRequested();
            if (ex is AggregateException { InnerExceptions: [OperationCanceledException] })
                throw new OperationCanceledException(cancellation);
            throw;
        }

        var ok = results.Where(r => r is not null).Select(r => r!).ToArray();
        double mean = ok.Length == 0 ? double.NaN : ok.Average(r => r.MetaLoss);
        double norm = double.NaN;
        try
        {
            if (ok.Length > 0)
                norm = AdamStep(ok);
        }
        finally
        {
            foreach (var r in ok)
                r.Dispose();
        }
        StepsTaken++;
        InnerSteps += unrolls.Sum(u => (long)u.WarmupSteps + _distribution.UnrollSteps);
        _history.Add(mean);
        string skipped = errors.Any(e => e is not null) ? $"; skipped: {string.Join("; ", errors.Where(e => e is not null))}" : "";
        _options.Log?.Invoke($"Meta-step {StepsTaken}: meta-loss {mean:F4} over {ok.Length}/{unrolls.Length} unrolls, gradient norm {norm:G3}{skipped}");
        return mean;
    }

    /// <summary>Averages the gradients in draw order, clips the global norm, takes an Adam step; returns the norm before clipping.</summary>
    private double AdamStep(RuleMetaGradient[] grads)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ps = Rule.parameters().ToArray();
        var mean = new Tensor[ps.Length];
        for (int i = 0; i < ps.Length; i++)
        {
            var g = grads[0].Gradients[i].clone();
            for (int j = 1; j < grads.Length; j++)
                g = g + grads[j].Gradients[i];
            mean[i] = g / grads.Length;
        }
        double norm = Math.Sqrt(mean.Sum(g => g.to(ScalarType.Float64).square().sum().ToDouble()));
        double scale = norm > _options.GradientClipNorm ? _options.GradientClipNorm / norm : 1.0;
        for (int i = 0; i < ps.Length; i++)
            _adam.Update(i, ps[i], mean[i] * scale, StepsTaken + 1);
        return norm;
    }

    /// <summary>A copy of <paramref name="rule"/> (what each worker differentiates).</summary>
    internal static LocalUpdateRule Copy(LocalUpdateRule rule)
    {
        var copy = new LocalUpdateRule(rule.Options);
        using var _ = no_grad();
        foreach (var (target, value) in copy.parameters().Zip(rule.parameters()))
            target.copy_(value);
        return copy;
    }

    /// <summary>Writes the rule, Adam's moments, the step count and the loss history (<see cref="RuleMetaTrainingCheckpoint"/>).</summary>
    public void SaveCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RuleMetaTrainingCheckpoint.Write(path, Rule, _adam.M, _adam.V, StepsTaken, InnerSteps, _history);
    }

    /// <summary>A trainer continuing from the checkpoint <paramref name="path"/> (same options as the run that wrote it, for an identical continuation).</summary>
    public static LocalUpdateRuleMetaTrainer Resume(string path, MetaTrainingData data, RuleMetaTrainerOptions? options = null)
    {
        var c = RuleMetaTrainingCheckpoint.Read(path);
        var trainer = new LocalUpdateRuleMetaTrainer(c.Rule, data, options);
        using (no_grad())
        {
            for (int i = 0; i < trainer._adam.M.Length; i++)
            {
                trainer._adam.M[i].copy_(c.M[i]);
                trainer._adam.V[i].copy_(c.V[i]);
            }
        }
        foreach (var t in c.M.Concat(c.V))
            t.Dispose();
        trainer.StepsTaken = c.Steps;
        trainer.InnerSteps = c.InnerSteps;
        trainer._history.AddRange(c.History);
        return trainer;
    }

    public void Dispose()
    {
        _adam.Dispose();
        Rule.Dispose();
    }
}
