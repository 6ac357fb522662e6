using Components.Core.Training;
using Components.Core.Randomness;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer.MetaTraining;

/// <summary>Settings of <see cref="HierarchicalRnnMetaTrainer"/> (the reference's metarun.py flags, scaled to a 2-core machine).</summary>
internal sealed class MetaTrainerOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        public const int Seed = 1;
        public const int Workers = 1;
        public const double LearningRate = 1e-3;
        public const double Beta1 = 0.9;
        public const double Beta2 = 0.999;
        public const double GradientClip = 1e4;
        public const int MinUnrollLength = 10;
        public const double UnrollLengthScale = 20;
        public const int MaxUnrollLength = 50;
        public const double PartialUnrollScale = 5;
        public const int MaxPartialUnrolls = 20;
        public const int CheckpointEvery = 10;
        public const double MaxLossRatio = 0;
    }

    /// <summary>Seed of the unroll draws (problem seeds and lengths): step s draws from stream <c>"learned-optimizer.meta-train.s"</c>.</summary>
    public int Seed { get; init; } = Defaults.Seed;

    /// <summary>In-process workers computing meta-gradients in parallel.</summary>
    public int Workers { get; init; } = Defaults.Workers;

    /// <summary>Unrolls (meta-gradients averaged) per meta-step; <see cref="Workers"/> when 0.</summary>
    public int UnrollsPerStep { get; init; }

    /// <summary>Adam learning rate on the meta-parameters (the reference uses RMSProp 1e-6 over far longer runs).</summary>
    public double LearningRate { get; init; } = Defaults.LearningRate;

    public double Beta1 { get; init; } = Defaults.Beta1;
    public double Beta2 { get; init; } = Defaults.Beta2;

    /// <summary>Element-wise clip of the averaged meta-gradient (the reference's gradient_clip_level 1e4).</summary>
    public double GradientClip { get; init; } = Defaults.GradientClip;

    /// <summary>
    /// Steps per partial unroll, drawn once per trajectory: <c>min(Max, Min + round(Exp(Scale)))</c> (the reference: 50 + round(Exp(200)), unbounded).
    /// </summary>
    public int MinUnrollLength { get; init; } = Defaults.MinUnrollLength;

    public double UnrollLengthScale { get; init; } = Defaults.UnrollLengthScale;
    public int MaxUnrollLength { get; init; } = Defaults.MaxUnrollLength;

    /// <summary>
    /// Partial unrolls per trajectory, drawn once per trajectory: <c>min(MaxPartialUnrolls, 1 + round(Exp(PartialUnrollScale)))</c>
    /// (the reference: 1 + round(Exp(40)), unbounded). The optimizer state and the parameters carry from one partial unroll to the next.
    /// </summary>
    public double PartialUnrollScale { get; init; } = Defaults.PartialUnrollScale;

    public int MaxPartialUnrolls { get; init; } = Defaults.MaxPartialUnrolls;

    /// <summary>
    /// When &gt; 0, a partial unroll stops at the first inner loss above <c>f_0 + (MaxLossRatio − 1)·|f_0|</c> (or non-finite),
    /// its meta-gradient covers the steps up to there, and the trajectory ends (the reference's obj_train_max_multiplier;
    /// <see cref="MetaObjective.ComputePartial"/>). 0: off (a non-finite meta-loss still ends the trajectory, without a gradient).
    /// </summary>
    public double MaxLossRatio { get; init; } = Defaults.MaxLossRatio;

    /// <summary>
    /// Meta-train the learned initial GRU states (the reference's learnable_rnn_init); false keeps them at their
    /// initialisation (the shipped weights' setting: they were meta-trained before this option existed).
    /// </summary>
    public bool LearnInitialStates { get; init; } = true;

    /// <summary>Backpropagate through the inner gradients (the reference's use_second_derivatives).</summary>
    public bool SecondDerivatives { get; init; } = true;

    /// <summary>The problem distribution; <see cref="MetaTrainingEnsemble.Default"/> when null.</summary>
    public MetaTrainingEnsemble? Ensemble { get; init; }

    /// <summary>Problem seeds are drawn from [0, ProblemCount) (the reference's num_problems 1000).</summary>
    public int ProblemCount { get; init; } = 1000;

    /// <summary>Checkpoint file written every <see cref="CheckpointEvery"/> steps and at the end; none when null.</summary>
    public string? CheckpointPath { get; init; }

    public int CheckpointEvery { get; init; } = Defaults.CheckpointEvery;

    /// <summary>Progress lines (one per meta-step); e.g. ComponentContext.Info.</summary>
    public Action<string>? Log { get; init; }

    internal void Validate()
    {
        if (Workers < 1 || Workers > 256)
            throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "Workers must be in [1, 256].");
        if (UnrollsPerStep < 0)
            throw new ArgumentOutOfRangeException(nameof(UnrollsPerStep), UnrollsPerStep, "UnrollsPerStep must be ≥ 0 (0: one per worker).");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The meta learning rate must be positive and finite.");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1))
            throw new ArgumentOutOfRangeException(nameof(Beta1), $"Adam's betas must be in [0, 1) (got {Beta1}, {Beta2}).");
        if (!(GradientClip > 0))
            throw new ArgumentOutOfRangeException(nameof(GradientClip), GradientClip, "The gradient clip must be positive.");
        if (MinUnrollLength < 1)
            throw new ArgumentOutOfRangeException(nameof(MinUnrollLength), MinUnrollLength, "The shortest unroll must have at least 1 step.");
        if (MaxUnrollLength < MinUnrollLength)
            throw new ArgumentOutOfRangeException(nameof(MaxUnrollLength), MaxUnrollLength, $"The longest unroll must be at least MinUnrollLength ({MinUnrollLength}).");
        if (!(UnrollLengthScale >= 0) || double.IsInfinity(UnrollLengthScale))
            throw new ArgumentOutOfRangeException(nameof(UnrollLengthScale), UnrollLengthScale, "The unroll length scale must be ≥ 0 and finite.");
        if (!(PartialUnrollScale >= 0) || double.IsInfinity(PartialUnrollScale))
            throw new ArgumentOutOfRangeException(nameof(PartialUnrollScale), PartialUnrollScale, "The partial-unroll count scale must be ≥ 0 and finite.");
        if (MaxPartialUnrolls < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxPartialUnrolls), MaxPartialUnrolls, "A trajectory needs at least one partial unroll.");
        if (!(MaxLossRatio >= 0) || double.IsInfinity(MaxLossRatio))
            throw new ArgumentOutOfRangeException(nameof(MaxLossRatio), MaxLossRatio, "The loss-ratio limit must be ≥ 0 (0: off) and finite.");
        if (ProblemCount < 1)
            throw new ArgumentOutOfRangeException(nameof(ProblemCount), ProblemCount, "ProblemCount must be ≥ 1.");
        if (CheckpointEvery < 1)
            throw new ArgumentOutOfRangeException(nameof(CheckpointEvery), CheckpointEvery, "CheckpointEvery must be ≥ 1.");
    }
}

/// <summary>A truncated trajectory: a problem, the steps of each partial unroll and how many partial unrolls it has.</summary>
internal readonly record struct MetaTrajectory(int ProblemSeed, int UnrollLength, int PartialUnrolls);

/// <summary>
/// Meta-trains <see cref="HierarchicalRnnMetaParameters"/> in place with truncated unrolls. The trainer keeps
/// <see cref="MetaTrainerOptions.UnrollsPerStep"/> slots, each running one trajectory (problem seed, partial-unroll length,
/// number of partial unrolls; the j-th trajectory of slot i is drawn from stream <c>"learned-optimizer.meta-train.{i}.{j}"</c>).
/// Each meta-step runs every slot's next partial unroll from the parameters and optimizer state where the previous one
/// stopped (<see cref="MetaObjective.ComputePartial"/>) on <see cref="MetaTrainerOptions.Workers"/> parallel workers (each on
/// its own copy of the meta-parameters), averages the meta-gradients in slot order (so the result does not depend on the
/// number of workers), clips and takes an Adam step; a slot whose trajectory is finished draws the next one. Owns the
/// meta-parameters and the trajectories.
/// </summary>
internal sealed class HierarchicalRnnMetaTrainer : IDisposable
{
    private readonly MetaTrainerOptions _options;
    private readonly MetaTrainingEnsemble _ensemble;
    private readonly AdamMoments _adam;
    private readonly List<double> _history = [];
    private readonly Running?[] _slots;
    private readonly int[] _drawn;

    private sealed class Running(MetaTrajectory spec, MetaTrainingProblem problem, UnrollCarry carry) : IDisposable
    {
        public MetaTrajectory Spec { get; } = spec;
        public MetaTrainingProblem Problem { get; } = problem;
        public UnrollCarry Carry { get; set; } = carry;

        public void Dispose()
        {
            Carry.Dispose();
            Problem.Dispose();
        }
    }

    /// <param name="meta">The meta-parameters to train (the trainer takes ownership).</param>
    /// <param name="options">Settings; the defaults when null.</param>
    public HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters meta, MetaTrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(meta);
        _options = options ?? new MetaTrainerOptions();
        _options.Validate();
        _ensemble = _options.Ensemble ?? MetaTrainingEnsemble.Default;
        Meta = meta;
        _adam = new AdamMoments(meta.parameters(), _options.LearningRate, _options.Beta1, _options.Beta2);
        _slots = new Running?[UnrollsPerStep];
        _drawn = new int[UnrollsPerStep];
    }

    /// <summary>The meta-parameters being trained.</summary>
    public HierarchicalRnnMetaParameters Meta { get; }

    /// <summary>Meta-steps taken so far (including those before a resume).</summary>
    public int StepsTaken { get; private set; }

    /// <summary>The mean meta-loss of each meta-step taken by this instance (NaN where every unroll failed).</summary>
    public IReadOnlyList<double> History => _history;

    private int UnrollsPerStep => _options.UnrollsPerStep == 0 ? _options.Workers : _options.UnrollsPerStep;

    /// <summary>The <paramref name="index"/>-th trajectory of slot <paramref name="slot"/>: a pure function of (seed, slot, index).</summary>
    public MetaTrajectory DrawTrajectory(int slot, int index)
    {
        var random = new Random((int)(RandomStreams.DeriveSeed(_options.Seed, $"learned-optimizer.meta-train.{slot}.{index}") & int.MaxValue));
        int seed = random.Next(_options.ProblemCount);
        double exp = -_options.UnrollLengthScale * Math.Log(1 - random.NextDouble());
        int length = (int)Math.Min(_options.MaxUnrollLength, _options.MinUnrollLength + Math.Round(exp));
        double count = -_options.PartialUnrollScale * Math.Log(1 - random.NextDouble());
        int partials = (int)Math.Min(_options.MaxPartialUnrolls, 1 + Math.Round(count));
        return new MetaTrajectory(seed, length, partials);
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

    private Running Begin(int slot)
    {
        var spec = DrawTrajectory(slot, _drawn[slot]);
        var problem = _ensemble.Draw(spec.ProblemSeed, Meta.parameters().First().dtype);
        try
        {
            return new Running(spec, problem, MetaObjective.Start(Meta, problem, spec.ProblemSeed));
        }
        catch
        {
            problem.Dispose();
            throw;
        }
    }

    private void End(int slot)
    {
        _slots[slot]!.Dispose();
        _slots[slot] = null;
        _drawn[slot]++;
    }

    /// <summary>One meta-step (every slot's next partial unroll); returns its mean meta-loss (before the update).</summary>
    public double Step(CancellationToken cancellation = default)
    {
        for (int i = 0; i < _slots.Length; i++)
            _slots[i] ??= Begin(i);
        var results = new MetaGradient?[_slots.Length];
        var nexts = new UnrollCarry?[_slots.Length];
        var errors = new string?[_slots.Length];
        try
        {
            Parallel.For(0, _slots.Length, new ParallelOptions { MaxDegreeOfParallelism = _options.Workers, CancellationToken = cancellation }, i =>
            {
                using var copy = Copy(Meta);
                var run = _slots[i]!;
                try
                {
                    (results[i], nexts[i]) = MetaObjective.ComputePartial(copy, run.Problem, run.Carry, run.Spec.UnrollLength, _options.SecondDerivatives, cancellation, _options.MaxLossRatio, _options.LearnInitialStates);
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
            foreach (var n in nexts)
                n?.Dispose();
            cancellation.ThrowIfCancellationRequested();
            throw;
        }

        var exploded = results.Select(r => r is { Exploded: true }).ToArray();
        var ok = results.Where(r => r is not null).Select(r => r!).ToArray();
        double mean = ok.Length == 0 ? double.NaN : ok.Average(r => r.MetaLoss);
        string described = string.Join(",", _slots.Select(r => $"{r!.Spec.ProblemSeed}:{r.Carry.UnrollsDone + 1}/{r.Spec.PartialUnrolls}x{r.Spec.UnrollLength}"));
        try
        {
            if (ok.Length > 0)
                AdamStep(ok);
        }
        finally
        {
            foreach (var r in ok)
                r.Dispose();
        }
        for (int i = 0; i < _slots.Length; i++)
        {
            var run = _slots[i]!;
            if (nexts[i] is { } next)
            {
                run.Carry.Dispose();
                run.Carry = next;
            }
            if (errors[i] is not null || exploded[i] || run.Carry.UnrollsDone >= run.Spec.PartialUnrolls)
                End(i);
        }
        StepsTaken++;
        _history.Add(mean);
        string skipped = errors.Any(e => e is not null) ? $"; skipped (trajectory ended): {string.Join("; ", errors.Where(e => e is not null))}" : "";
        if (exploded.Any(e => e))
            skipped += $"; loss limit reached (trajectory ended) in slot(s) {string.Join(",", exploded.Select((e, i) => (e, i)).Where(x => x.e).Select(x => $"{x.i} after {results[x.i]!.StepsTaken} steps"))}";
        _options.Log?.Invoke($"Meta-step {StepsTaken}: meta-loss {mean:F4} over {ok.Length}/{_slots.Length} partial unrolls (problem:partial/count x length {described}){skipped}");
        return mean;
    }

    private void AdamStep(MetaGradient[] grads)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ps = Meta.parameters().ToArray();
        for (int i = 0; i < ps.Length; i++)
        {
            var g = grads[0].Gradients[i].clone();
            for (int j = 1; j < grads.Length; j++)
                g = g + grads[j].Gradients[i];
            g = (g / grads.Length).clamp(-_options.GradientClip, _options.GradientClip);
            _adam.Update(i, ps[i], g, StepsTaken + 1);
        }
    }

    /// <summary>A copy of <paramref name="meta"/> in its dtype (what each worker differentiates).</summary>
    internal static HierarchicalRnnMetaParameters Copy(HierarchicalRnnMetaParameters meta)
    {
        var copy = HierarchicalRnnMetaParameters.CreateReduced(meta.Architecture);
        var source = meta.parameters().ToArray();
        if (source[0].dtype != ScalarType.Float32)
            copy.to(source[0].dtype);
        using var _ = no_grad();
        foreach (var (target, value) in copy.parameters().Zip(source))
            target.copy_(value);
        return copy;
    }

    /// <summary>Writes the meta-parameters, Adam's moments and the step count (format: the weights file with magic HRNNOPTC).</summary>
    public void SaveCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var named = Meta.named_parameters().ToArray();
        using var step = tensor((double)StepsTaken, ScalarType.Float64);
        var owned = new List<Tensor>();
        var entries = named.Select(n => (n.name, (Tensor)n.parameter))
            .Concat(named.Select((n, i) => ($"adam.m.{n.name}", _adam.M[i])))
            .Concat(named.Select((n, i) => ($"adam.v.{n.name}", _adam.V[i])))
            .Append(("trainer.steps", step))
            .Concat(SlotEntries(owned));
        string temp = path + ".tmp";
        using (var stream = File.Create(temp))
            HierarchicalRnnWeightsFile.Write(stream, HierarchicalRnnWeightsFile.CheckpointMagic, Meta.Architecture, entries);
        foreach (var t in owned)
            t.Dispose();
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Per slot: the trajectories drawn so far and, for a running one, its partial unrolls done, f(θ₀), parameters and optimizer state.</summary>
    private IEnumerable<(string, Tensor)> SlotEntries(List<Tensor> owned)
    {
        Tensor Scalar(double v)
        {
            var t = tensor(v, ScalarType.Float64);
            owned.Add(t);
            return t;
        }
        for (int i = 0; i < _slots.Length; i++)
        {
            yield return ($"slot.{i}.drawn", Scalar(_drawn[i]));
            if (_slots[i] is not { } run)
                continue;
            yield return ($"slot.{i}.unrolls_done", Scalar(run.Carry.UnrollsDone));
            yield return ($"slot.{i}.initial_loss", Scalar(run.Carry.InitialLoss));
            for (int k = 0; k < run.Carry.Parameters.Length; k++)
                yield return ($"slot.{i}.theta.{k}", run.Carry.Parameters[k]);
            var state = run.Carry.State;
            for (int k = 0; k < state.Tensors.Length; k++)
            {
                var entries = state.Tensors[k].Entries();
                owned.Add(entries[^1]);
                for (int e = 0; e < entries.Length; e++)
                    yield return ($"slot.{i}.state.{k}.{HierarchicalRnnTensorState.EntryNames[e]}", entries[e]);
            }
            yield return ($"slot.{i}.state.global", state.GlobalHidden);
        }
    }

    private void RestoreSlots(Dictionary<string, Tensor> entries, string path)
    {
        if (!entries.ContainsKey($"slot.{_slots.Length - 1}.drawn") || entries.ContainsKey($"slot.{_slots.Length}.drawn"))
            throw new InvalidOperationException($"Meta-training checkpoint '{path}' was written with a different number of unrolls per step than the {_slots.Length} configured; resume with the options of the run that wrote it.");
        Tensor Entry(string name) => entries.TryGetValue(name, out var v)
            ? v : throw new FormatException($"Meta-training checkpoint '{path}' lacks the entry '{name}'.");
        for (int i = 0; i < _slots.Length; i++)
        {
            _drawn[i] = (int)Entry($"slot.{i}.drawn").ToDouble();
            if (!entries.ContainsKey($"slot.{i}.unrolls_done"))
                continue;
            var run = Begin(i);
            _slots[i] = run;
            var fresh = run.Carry;
            using (no_grad())
            {
                for (int k = 0; k < fresh.Parameters.Length; k++)
                    fresh.Parameters[k].copy_(Entry($"slot.{i}.theta.{k}"));
                var tensors = new HierarchicalRnnTensorState[fresh.State.Tensors.Length];
                for (int k = 0; k < tensors.Length; k++)
                {
                    var t = fresh.State.Tensors[k];
                    string E(int e) => $"slot.{i}.state.{k}.{HierarchicalRnnTensorState.EntryNames[e]}";
                    var targets = t.Entries();
                    for (int e = 0; e < targets.Length - 1; e++)
                        targets[e].copy_(Entry(E(e)));
                    targets[^1].Dispose();
                    tensors[k] = new HierarchicalRnnTensorState
                    {
                        ParameterHidden = t.ParameterHidden, InputDecay = t.InputDecay, ScaleDecay = t.ScaleDecay, LogLearningRate = t.LogLearningRate,
                        GradientAccumulators = t.GradientAccumulators, MeanSquares = t.MeanSquares, TensorHidden = t.TensorHidden,
                        Steps = (long)Entry(E(targets.Length - 1)).ToDouble(),
                    };
                }
                fresh.State.GlobalHidden.copy_(Entry($"slot.{i}.state.global"));
                run.Carry = new UnrollCarry
                {
                    ProblemSeed = fresh.ProblemSeed, Parameters = fresh.Parameters,
                    State = new HierarchicalRnnState { Tensors = tensors, GlobalHidden = fresh.State.GlobalHidden },
                    InitialLoss = Entry($"slot.{i}.initial_loss").ToDouble(),
                    UnrollsDone = (int)Entry($"slot.{i}.unrolls_done").ToDouble(),
                };
            }
        }
    }

    /// <summary>A trainer continuing from the checkpoint <paramref name="path"/> (same options as the run that wrote it, for an identical continuation).</summary>
    public static HierarchicalRnnMetaTrainer Resume(string path, MetaTrainerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Meta-training checkpoint '{path}' does not exist.", path);
        Dictionary<string, Tensor> entries;
        HierarchicalRnnArchitecture architecture;
        using (var stream = File.OpenRead(path))
            (architecture, entries) = HierarchicalRnnWeightsFile.Read(stream, HierarchicalRnnWeightsFile.CheckpointMagic, path);
        try
        {
            var meta = HierarchicalRnnMetaParameters.CreateReduced(architecture);
            var trainer = new HierarchicalRnnMetaTrainer(meta, options);
            try
            {
                using var _ = no_grad();
                var named = meta.named_parameters().ToArray();
                Tensor Entry(string name, Tensor target)
                {
                    if (!entries.TryGetValue(name, out var v) || !v.shape.SequenceEqual(target.shape))
                        throw new FormatException($"Meta-training checkpoint '{path}' lacks the entry '{name}' of shape [{string.Join(", ", target.shape)}].");
                    return v;
                }
                for (int i = 0; i < named.Length; i++)
                {
                    named[i].parameter.copy_(Entry(named[i].name, named[i].parameter));
                    trainer._adam.M[i].copy_(Entry($"adam.m.{named[i].name}", trainer._adam.M[i]));
                    trainer._adam.V[i].copy_(Entry($"adam.v.{named[i].name}", trainer._adam.V[i]));
                }
                if (!entries.TryGetValue("trainer.steps", out var steps))
                    throw new FormatException($"Meta-training checkpoint '{path}' lacks the entry 'trainer.steps'.");
                trainer.StepsTaken = (int)steps.ToDouble();
                trainer.RestoreSlots(entries, path);
                return trainer;
            }
            catch
            {
                trainer.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var t in entries.Values)
                t.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var r in _slots)
            r?.Dispose();
        _adam.Dispose();
        Meta.Dispose();
    }
}
