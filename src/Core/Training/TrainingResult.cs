namespace Components.Core.Training;

/// <summary>How a <see cref="TrainingEngine{TBatch}"/> run ended.</summary>
/// <param name="Epochs">One report per epoch run.</param>
/// <param name="Steps">Steps taken.</param>
/// <param name="BestEpoch">With early stopping, the epoch whose weights were restored; otherwise the last epoch.</param>
/// <param name="StopReason">Why the run ended.</param>
public sealed record TrainingResult(IReadOnlyList<EpochReport> Epochs, long Steps, int BestEpoch, TrainingStopReason StopReason);

/// <summary>Why a <see cref="TrainingEngine{TBatch}"/> run ended.</summary>
public enum TrainingStopReason
{
    /// <summary>All <see cref="TrainingEngineOptions.MaxEpochs"/> epochs ran.</summary>
    EpochLimit,

    /// <summary>The step budget <see cref="TrainingEngineOptions.MaxSteps"/> ran out.</summary>
    StepBudget,

    /// <summary>The early-stopping metric did not improve for its patience.</summary>
    EarlyStopping,

    /// <summary>A callback called <see cref="TrainingEngine{TBatch}.RequestStop"/>.</summary>
    Requested,
}
