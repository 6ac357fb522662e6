namespace Components.Core.Training;

/// <summary>
/// Where a <see cref="TrainingEngine{TBatch}"/> gets its mini-batches: one pass of <see cref="TryGetNext"/> calls per
/// epoch. The engine calls <see cref="BeginEpoch"/> inside the epoch's dispose scope (tensors made there, such as a
/// shuffled order, live until the epoch ends) and <see cref="TryGetNext"/> inside the step's dispose scope (the batch's
/// tensors are freed when the step ends).
/// </summary>
/// <typeparam name="TBatch">What one step trains on (tensors, an index, nothing).</typeparam>
public interface IBatchSource<TBatch>
{
    /// <summary>Starts epoch <paramref name="epoch"/> (1-based), e.g. by drawing a new order from the source's own generator.</summary>
    void BeginEpoch(int epoch);

    /// <summary>The next batch of the current epoch, or false when the epoch is over.</summary>
    bool TryGetNext(out TBatch batch);
}

/// <summary>
/// A batch that carries a weight: the engine averages the metrics of an epoch with these weights (for
/// <see cref="TensorBatch"/> the row count, so an epoch's mean loss is the mean over its rows). Batches that do not
/// implement it weigh 1.
/// </summary>
public interface IWeightedBatch
{
    /// <summary>The batch's weight, positive.</summary>
    double Weight { get; }
}
