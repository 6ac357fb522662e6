using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Training;

/// <summary>
/// Early stopping for a <see cref="TrainingEngine{TBatch}"/>: after every epoch the engine reads <see cref="Metric"/>
/// (usually a validation metric from <see cref="TrainingEngine{TBatch}.AddEpochMetrics"/>), copies <see cref="Weights"/>
/// when it improves (strictly), stops after <see cref="Patience"/> epochs without improvement and, at the end of the
/// run however it ends, restores the weights of the best epoch. A non-finite value never counts as an improvement.
/// </summary>
public sealed class EarlyStopping
{
    /// <summary>Creates the rule.</summary>
    /// <param name="metric">The epoch metric to watch, e.g. <c>"validation loss"</c>.</param>
    /// <param name="patience">Epochs without improvement before stopping, positive (<see cref="int.MaxValue"/>: never stop, only restore the best).</param>
    /// <param name="weights">The tensors to snapshot and restore (parameters, and buffers such as running statistics).</param>
    /// <param name="maximize">True when larger is better (accuracy); false for losses.</param>
    public EarlyStopping(string metric, int patience, IEnumerable<Tensor> weights, bool maximize = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(metric);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(patience);
        ArgumentNullException.ThrowIfNull(weights);
        Metric = metric;
        Patience = patience;
        Weights = [.. weights];
        Maximize = maximize;
        if (Weights.Count == 0 || Weights.Any(w => w is null))
            throw new ArgumentException("At least one weight tensor is needed, and none may be null.", nameof(weights));
    }

    /// <summary>Early stopping on the parameters and buffers of <paramref name="module"/>.</summary>
    public static EarlyStopping ForModule(string metric, int patience, nn.Module module, bool maximize = false)
    {
        ArgumentNullException.ThrowIfNull(module);
        return new EarlyStopping(metric, patience, module.parameters().Cast<Tensor>().Concat(module.buffers()), maximize);
    }

    /// <summary>The watched metric.</summary>
    public string Metric { get; }

    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }

    /// <summary>The tensors restored to their best-epoch values.</summary>
    public IReadOnlyList<Tensor> Weights { get; }

    /// <summary>Whether larger values are better.</summary>
    public bool Maximize { get; }

    internal bool IsImprovement(double value, double best)
        => double.IsFinite(value) && (double.IsNaN(best) || (Maximize ? value > best : value < best));
}
