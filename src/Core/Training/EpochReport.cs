namespace Components.Core.Training;

/// <summary>What an epoch of a <see cref="TrainingEngine{TBatch}"/> achieved.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Steps">Steps taken in the whole run by the end of this epoch.</param>
/// <param name="Metrics">The epoch's metrics: the weighted means of the step metrics (the objectives' losses first), then
/// those of the epoch evaluators (validation).</param>
/// <param name="Complete">False when the step budget or a stop request ended the epoch before its batches ran out.</param>
public sealed record EpochReport(int Epoch, long Steps, TrainingMetrics Metrics, bool Complete);
