using static TorchSharp.torch;

namespace Components.Core.Training;

/// <summary>
/// One step of a <see cref="TrainingEngine{TBatch}"/>: what the loss functions and the step callbacks receive. It lives
/// only during the step (its batch's and metrics' tensors are freed with the step's dispose scope).
/// </summary>
/// <typeparam name="TBatch">The batch type of the engine.</typeparam>
public sealed class TrainingStep<TBatch>
{
    private readonly MetricAccumulator _epoch;
    private readonly List<(string Name, Tensor? Tensor, double Value, double Weight)> _records = [];

    internal TrainingStep(TBatch batch, int epoch, long step, long stepInEpoch, MetricAccumulator epochMetrics)
    {
        Batch = batch;
        Epoch = epoch;
        Step = step;
        StepInEpoch = stepInEpoch;
        Weight = batch is IWeightedBatch w ? w.Weight : 1;
        _epoch = epochMetrics;
    }

    /// <summary>The batch of this step.</summary>
    public TBatch Batch { get; }

    /// <summary>1-based epoch.</summary>
    public int Epoch { get; }

    /// <summary>0-based index of this step over the whole run (the number of steps taken before it).</summary>
    public long Step { get; }

    /// <summary>0-based index of this step within its epoch.</summary>
    public long StepInEpoch { get; }

    /// <summary>The batch's weight in the epoch means (<see cref="IWeightedBatch.Weight"/>, else 1).</summary>
    public double Weight { get; }

    /// <summary>
    /// True while an optimizer re-evaluates the loss inside <c>step(closure)</c> (L-BFGS, line searches): the parameters
    /// have moved since the first evaluation. <see cref="Record(string, Tensor, double?)"/> ignores these evaluations, so the
    /// metrics describe the parameters at the start of the step.
    /// </summary>
    public bool IsReevaluation { get; internal set; }

    /// <summary>
    /// Reports a named metric for this step (a single-element tensor, kept on its device; the epoch mean is taken in
    /// float64 without a host round trip per step). Ignored during re-evaluations.
    /// </summary>
    /// <param name="name">Metric name, e.g. <c>"train accuracy"</c>.</param>
    /// <param name="value">One-element tensor.</param>
    /// <param name="weight">Weight in the epoch mean; default <see cref="Weight"/>.</param>
    /// <exception cref="ArgumentException">The tensor has more than one element.</exception>
    public void Record(string name, Tensor value, double? weight = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MetricAccumulator.CheckScalar(name, value);
        if (IsReevaluation)
            return;
        double w = CheckWeight(weight);
        _records.Add((name, value, 0, w));
        _epoch.Add(name, value, w);
    }

    /// <summary>Reports a named metric for this step as a number. Ignored during re-evaluations.</summary>
    /// <param name="name">Metric name.</param>
    /// <param name="value">The value.</param>
    /// <param name="weight">Weight in the epoch mean; default <see cref="Weight"/>.</param>
    public void Record(string name, double value, double? weight = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (IsReevaluation)
            return;
        double w = CheckWeight(weight);
        _records.Add((name, null, value, w));
        _epoch.Add(name, value, w);
    }

    /// <summary>
    /// The metrics reported so far in this step (the optimizers' losses under their names, gradient norms as
    /// <c>"{name} gradient norm"</c>, and everything recorded), as numbers. Reading it copies tensors to the host.
    /// </summary>
    public TrainingMetrics Metrics
    {
        get
        {
            var sums = new Dictionary<string, (double Sum, double Weight)>(StringComparer.Ordinal);
            var order = new List<string>();
            foreach (var (name, tensor, value, weight) in _records)
            {
                double v = tensor is null ? value : TrainingEngine<TBatch>.ScalarValue(tensor);
                if (!sums.TryGetValue(name, out var s))
                    order.Add(name);
                sums[name] = (s.Sum + v * weight, s.Weight + weight);
            }
            var metrics = new TrainingMetrics();
            foreach (var name in order)
                metrics.Set(name, sums[name].Sum / sums[name].Weight);
            return metrics;
        }
    }

    private double CheckWeight(double? weight)
    {
        double w = weight ?? Weight;
        if (!(w > 0) || !double.IsFinite(w))
            throw new ArgumentOutOfRangeException(nameof(weight), w, "A metric's weight must be positive and finite.");
        return w;
    }
}
