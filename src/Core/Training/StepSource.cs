namespace Components.Core.Training;

/// <summary>
/// A batch source without data, for training that draws what it needs inside the loss (samplers, GANs' noise, synthetic
/// problems): every batch is the step's 0-based index within its epoch. With <c>stepsPerEpoch</c> null an epoch never
/// ends by itself, so the run is bounded by <see cref="TrainingEngineOptions.MaxSteps"/>.
/// </summary>
public sealed class StepSource : IBatchSource<long>
{
    private long _next;

    /// <summary>Creates the source.</summary>
    /// <param name="stepsPerEpoch">Steps per epoch, positive, or null for one unbounded epoch.</param>
    public StepSource(long? stepsPerEpoch = null)
    {
        if (stepsPerEpoch is { } s)
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s, nameof(stepsPerEpoch));
        StepsPerEpoch = stepsPerEpoch;
    }

    /// <summary>Steps per epoch, or null.</summary>
    public long? StepsPerEpoch { get; }

    /// <inheritdoc/>
    public void BeginEpoch(int epoch) => _next = 0;

    /// <inheritdoc/>
    public bool TryGetNext(out long batch)
    {
        batch = _next;
        if (StepsPerEpoch is { } s && _next >= s)
            return false;
        _next++;
        return true;
    }
}
