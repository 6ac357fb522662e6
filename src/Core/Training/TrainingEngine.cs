using System.Globalization;
using System.Runtime.ExceptionServices;
using Microsoft.ML.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Core.Training;

/// <summary>
/// The suite's training loop on tensors, usable without ML.NET: epochs of mini-batches from an
/// <see cref="IBatchSource{TBatch}"/>, one or more <see cref="TrainingObjective{TBatch}"/>s (each an optimizer with its
/// own loss, parameters, schedule and clipping, stepped through <c>step(closure)</c>), per-step and per-epoch
/// callbacks with named metrics, epoch evaluators (validation), early stopping that restores the best weights, a step
/// budget, a divergence check, cancellation before every step, and progress in the MLContext log.
/// </summary>
/// <remarks>
/// Every epoch runs in a dispose scope and every step in a nested one: tensors made by the loss functions, the batch
/// source and the callbacks are freed when their step ends. The engine draws no random numbers; shuffling comes from the
/// generator given to the batch source. The engine owns no optimizer or module.
/// <code>
/// using var optimizer = torch.optim.Adam(module.parameters(), 1e-3);
/// var engine = new TrainingEngine&lt;TensorBatch&gt;(new TensorBatches([x, y], 64, shuffle: generator),
///     new TrainingEngineOptions { MaxEpochs = 10, Context = ctx });
/// engine.Add(new TrainingObjective&lt;TensorBatch&gt;("loss", optimizer,
///     step =&gt; nn.functional.cross_entropy(module.forward(step.Batch[0]), step.Batch[1])) { MaxGradientNorm = 1 });
/// TrainingResult result = engine.Run();
/// </code>
/// </remarks>
/// <typeparam name="TBatch">What one step trains on.</typeparam>
public sealed class TrainingEngine<TBatch>
{
    private readonly IBatchSource<TBatch> _data;
    private readonly TrainingEngineOptions _options;
    private readonly List<TrainingObjective<TBatch>> _objectives = [];
    private readonly List<Func<EpochReport, IEnumerable<(string Name, double Value)>>> _evaluators = [];
    private readonly List<Action<TrainingStep<TBatch>>> _stepCallbacks = [];
    private readonly List<Action<EpochReport>> _epochCallbacks = [];
    private bool _stopRequested;
    private bool _running;

    /// <summary>Creates an engine; add objectives, evaluators and callbacks, then <see cref="Run"/>.</summary>
    /// <param name="data">The batch source.</param>
    /// <param name="options">Run-wide settings.</param>
    public TrainingEngine(IBatchSource<TBatch> data, TrainingEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxEpochs is null && options.MaxSteps is null)
            throw new ArgumentException($"Set {nameof(options.MaxEpochs)}, {nameof(options.MaxSteps)} or both: training needs an end.", nameof(options));
        if (options.MaxEpochs is { } e && e <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), e, $"{nameof(options.MaxEpochs)} must be positive.");
        if (options.MaxSteps is { } s && s <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), s, $"{nameof(options.MaxSteps)} must be positive.");
        if (options.StepLogInterval < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.StepLogInterval, $"{nameof(options.StepLogInterval)} must be non-negative.");
        _data = data;
        _options = options;
    }

    /// <summary>The objectives, in the order they run within a step.</summary>
    public IReadOnlyList<TrainingObjective<TBatch>> Objectives => _objectives;

    /// <summary>Adds an optimizer with its loss; objectives run in the order they were added. Returns <paramref name="objective"/>.</summary>
    /// <exception cref="ArgumentException">An objective of the same name exists.</exception>
    public TrainingObjective<TBatch> Add(TrainingObjective<TBatch> objective)
    {
        ArgumentNullException.ThrowIfNull(objective);
        objective.Validate();
        if (_objectives.Any(o => o.Name == objective.Name))
            throw new ArgumentException($"An objective named '{objective.Name}' was already added.", nameof(objective));
        _objectives.Add(objective);
        return objective;
    }

    /// <summary>
    /// Adds an epoch evaluator: called after every epoch, inside a dispose scope, with the epoch's report so far (its
    /// training metrics and those of earlier evaluators); the named values it returns join the epoch's metrics. Use it for
    /// validation metrics (the evaluator handles <c>no_grad</c> and the module's train/eval mode) and derived metrics.
    /// </summary>
    public void AddEpochMetrics(Func<EpochReport, IEnumerable<(string Name, double Value)>> evaluator)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        _evaluators.Add(evaluator);
    }

    /// <summary>Adds a callback run after every step (inside the step's dispose scope, after all objectives); it may record more metrics.</summary>
    public void OnStep(Action<TrainingStep<TBatch>> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        _stepCallbacks.Add(callback);
    }

    /// <summary>Adds a callback run after every epoch with its full report (after logging and the early-stopping bookkeeping).</summary>
    public void OnEpoch(Action<EpochReport> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        _epochCallbacks.Add(callback);
    }

    /// <summary>Asks the run to stop after the current step (from a step callback) or epoch (from an epoch callback).</summary>
    public void RequestStop() => _stopRequested = true;

    /// <summary>Trains until an epoch limit, the step budget, early stopping or a stop request ends the run.</summary>
    /// <returns>The epoch history, the steps taken, the best epoch and the stop reason.</returns>
    /// <exception cref="InvalidOperationException">No objective; a loss is not a scalar or not finite (divergence); the
    /// batch source produced no batch in an epoch; the early-stopping metric is missing or never finite.</exception>
    /// <exception cref="OperationCanceledException">Cancellation was requested.</exception>
    public TrainingResult Run()
    {
        if (_objectives.Count == 0)
            throw new InvalidOperationException("Add at least one objective before Run.");
        if (_running)
            throw new InvalidOperationException("The engine is already running.");
        _running = true;
        _stopRequested = false;
        var ctx = _options.Context;
        var history = new List<EpochReport>();
        var stopping = _options.EarlyStopping;
        List<Tensor>? best = null;
        double bestValue = double.NaN;
        int bestEpoch = 0;
        long steps = 0;
        var reason = TrainingStopReason.EpochLimit;
        var progressNames = _options.ProgressMetrics ?? [.. _objectives.Select(o => o.Name)];
        int epoch = 0;
        IProgressChannel? progress = null;
        try
        {
            if (ctx is not null)
            {
                progress = ctx.Host.StartProgressChannel("Training");
                progress.SetHeader(new ProgressHeader([.. progressNames], ["Epoch", "Step"]), e =>
                {
                    e.SetProgress(0, epoch, _options.MaxEpochs ?? 0);
                    e.SetProgress(1, steps, _options.MaxSteps ?? 0);
                });
            }
            foreach (var o in _objectives)
                o.ConsecutiveSkips = 0;
            for (epoch = 1; _options.MaxEpochs is not { } maxEpochs || epoch <= maxEpochs; epoch++)
            {
                CheckCancelled();
                using var epochScope = NewDisposeScope();
                using var accumulator = new MetricAccumulator();
                foreach (var o in _objectives)
                {
                    accumulator.Reserve(o.Name);
                    if (o.MaxGradientNorm is not null)
                        accumulator.Reserve(o.GradientNormName);
                }
                _data.BeginEpoch(epoch);
                long stepInEpoch = 0;
                bool exhausted = false;
                while (_options.MaxSteps is not { } budget || steps < budget)
                {
                    CheckCancelled();
                    using var stepScope = NewDisposeScope();
                    if (!_data.TryGetNext(out var batch))
                    {
                        exhausted = true;
                        break;
                    }
                    var step = new TrainingStep<TBatch>(batch, epoch, steps, stepInEpoch, accumulator);
                    foreach (var o in _objectives)
                    {
                        if (o.IsScheduled(steps))
                            RunObjective(o, step);
                    }
                    steps++;
                    stepInEpoch++;
                    foreach (var callback in _stepCallbacks)
                        callback(step);
                    if (ctx is not null && _options.StepLogInterval > 0 && steps % _options.StepLogInterval == 0)
                        ctx.Info($"Step {steps}{(_options.MaxSteps is { } m ? $"/{m}" : "")}: {step.Metrics}");
                    if (_stopRequested)
                        break;
                }
                if (stepInEpoch == 0)
                    throw new InvalidOperationException($"The batch source produced no batch in epoch {epoch}; check that the training data is not empty.");

                var report = new EpochReport(epoch, steps, accumulator.Means(), exhausted);
                using (var evaluationScope = NewDisposeScope())
                {
                    foreach (var evaluator in _evaluators)
                    {
                        foreach (var (name, value) in evaluator(report) ?? [])
                            report.Metrics.Set(name, value);
                    }
                }
                history.Add(report);
                ctx?.Info($"Epoch {epoch}{(_options.MaxEpochs is { } me ? $"/{me}" : "")}: {report.Metrics}");
                progress?.Checkpoint([.. progressNames.Select(n => report.Metrics.Get(n)), epoch, steps]);

                bool patienceOver = false;
                if (stopping is not null)
                {
                    double value = report.Metrics.TryGetValue(stopping.Metric, out double v)
                        ? v
                        : throw new InvalidOperationException(
                            $"Early stopping watches the metric '{stopping.Metric}', which epoch {epoch} does not report; its metrics are: {string.Join(", ", report.Metrics.Keys.Select(k => $"'{k}'"))}.");
                    if (stopping.IsImprovement(value, bestValue))
                    {
                        bestValue = value;
                        bestEpoch = epoch;
                        best = Snapshot(stopping.Weights, best);
                    }
                    else if (epoch - bestEpoch >= stopping.Patience)
                    {
                        patienceOver = true;
                    }
                }
                else
                {
                    bestEpoch = epoch;
                }
                foreach (var callback in _epochCallbacks)
                    callback(report);

                if (patienceOver)
                {
                    reason = TrainingStopReason.EarlyStopping;
                    break;
                }
                if (_stopRequested)
                {
                    reason = TrainingStopReason.Requested;
                    break;
                }
                if (_options.MaxSteps is { } budgetLeft && steps >= budgetLeft)
                {
                    reason = TrainingStopReason.StepBudget;
                    break;
                }
            }
            epoch = history.Count;

            if (stopping is not null)
            {
                if (best is null)
                {
                    throw new InvalidOperationException(
                        $"The early-stopping metric '{stopping.Metric}' was never finite in {history.Count} epochs; check the validation data or lower the learning rate.");
                }
                if (bestEpoch != history.Count)
                {
                    Restore(stopping.Weights, best);
                    ctx?.Info((reason == TrainingStopReason.EarlyStopping ? $"Early stopping after epoch {history.Count}" : StopText(reason, history.Count)) +
                        $"; restored the weights of epoch {bestEpoch} ({(stopping.Maximize ? "highest" : "lowest")} {stopping.Metric}).");
                }
            }
            return new TrainingResult(history, steps, bestEpoch, reason);
        }
        finally
        {
            if (best is not null)
            {
                foreach (var t in best)
                    t.Dispose();
            }
            progress?.Dispose();
            _running = false;
        }
    }

    private string StopText(TrainingStopReason reason, int epochs) => reason switch
    {
        TrainingStopReason.StepBudget => $"Step budget of {_options.MaxSteps} steps spent in epoch {epochs}",
        TrainingStopReason.Requested => $"Stopped on request after epoch {epochs}",
        _ => $"Finished {epochs} epochs",
    };

    private void CheckCancelled()
    {
        _options.Cancellation.ThrowIfCancellationRequested();
        _options.Context?.CheckCancelled();
    }

    private void RunObjective(TrainingObjective<TBatch> o, TrainingStep<TBatch> step)
    {
        bool first = true;
        Tensor? finite = null, firstNorm = null;
        Tensor Evaluate()
        {
            ZeroGradients(o.Parameters);
            var loss = o.Loss(step) ?? throw new InvalidOperationException($"The loss of objective '{o.Name}' returned null.");
            if (loss.numel() != 1)
                throw new InvalidOperationException($"The loss of objective '{o.Name}' must be a scalar, got a tensor of shape [{string.Join(", ", loss.shape)}].");
            if (!o.ComputesOwnGradients)
                loss.backward();
            if (first)
                finite = o.NonFiniteLoss == NonFiniteLossPolicy.SkipStep ? GradientsFinite(o.Parameters) : null;
            if (o.MaxGradientNorm is { } maxNorm)
            {
                var norm = GradientClipping.ClipByGlobalNorm(o.Parameters, maxNorm);
                if (first)
                    firstNorm = norm;
            }
            if (o.MaxGradientValue is { } maxValue)
                GradientClipping.ClipByValue(o.Parameters, maxValue);
            return loss;
        }

        step.IsReevaluation = false;
        var loss = Evaluate();
        first = false;
        o.LastStepSkipped = false;
        double lossValue = ScalarValue(loss);
        if (!double.IsFinite(lossValue) || (finite is not null && !finite.item<bool>()))
        {
            string value = lossValue.ToString("G", CultureInfo.InvariantCulture);
            if (o.NonFiniteLoss == NonFiniteLossPolicy.Throw)
            {
                throw new InvalidOperationException(
                    $"Training diverged at step {step.Step + 1} (epoch {step.Epoch}): the loss '{o.Name}' is {value}." +
                    (_options.DivergenceHint is { } hint ? " " + hint : ""));
            }
            o.SkippedSteps++;
            o.LastStepSkipped = true;
            if (++o.ConsecutiveSkips >= o.MaxConsecutiveSkips)
            {
                throw new InvalidOperationException(
                    $"Objective '{o.Name}' had a non-finite loss or gradient {o.ConsecutiveSkips} steps in a row (step {step.Step + 1}, loss {value})." +
                    (_options.DivergenceHint is { } hint ? " " + hint : ""));
            }
            ZeroGradients(o.Parameters);
            o.Scheduler?.step();
            return;
        }
        o.ConsecutiveSkips = 0;

        // The closure must not throw: a native optimizer (L-BFGS) calls it through native code.
        int calls = 0;
        bool managed = o.Optimizer is OptimizerHelper;
        ExceptionDispatchInfo? failure = null;
        Tensor Closure()
        {
            try
            {
                if (calls++ == 0)
                    return managed ? loss : loss.alias(); // a native optimizer takes over the handle it gets
                step.IsReevaluation = true;
                return Evaluate().alias();
            }
            catch (Exception e)
            {
                failure ??= ExceptionDispatchInfo.Capture(e);
                return tensor(float.NaN);
            }
        }
        try
        {
            o.Optimizer.step(Closure);
        }
        catch when (failure is not null)
        {
            // The optimizer failed on the placeholder returned after the closure's own failure: report the cause.
        }
        step.IsReevaluation = false;
        failure?.Throw();
        o.StepsTaken++;
        o.Scheduler?.step();
        if (firstNorm is not null)
            step.Record(o.GradientNormName, firstNorm);
        step.Record(o.Name, loss);
    }

    /// <summary>The value of a one-element tensor as a double (one host copy).</summary>
    internal static double ScalarValue(Tensor t) => t.dtype switch
    {
        ScalarType.Float32 => t.item<float>(),
        ScalarType.Float64 => t.item<double>(),
        _ => t.detach().to(ScalarType.Float64).item<double>(),
    };

    private static Tensor GradientsFinite(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        using var noGrad = no_grad();
        var finite = tensor(true);
        foreach (var p in parameters)
        {
            if (p.grad is { } g)
                finite = finite.logical_and(g.isfinite().all());
        }
        return finite;
    }

    private static void ZeroGradients(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        foreach (var p in parameters)
        {
            if (p.grad is { } g)
                g.zero_();
        }
    }

    private static List<Tensor> Snapshot(IReadOnlyList<Tensor> weights, List<Tensor>? copies)
    {
        using var noGrad = no_grad();
        if (copies is null)
            return [.. weights.Select(w => w.detach().clone().DetachFromDisposeScope())];
        using var scope = NewDisposeScope();
        for (int i = 0; i < weights.Count; i++)
            copies[i].copy_(weights[i]);
        return copies;
    }

    private static void Restore(IReadOnlyList<Tensor> weights, List<Tensor> copies)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < weights.Count; i++)
            weights[i].copy_(copies[i]);
    }
}
