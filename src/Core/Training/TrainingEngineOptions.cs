using Components.Core.Runtime;

namespace Components.Core.Training;

/// <summary>Run-wide settings of a <see cref="TrainingEngine{TBatch}"/>. At least one of <see cref="MaxEpochs"/> and <see cref="MaxSteps"/> must be set.</summary>
public sealed class TrainingEngineOptions
{
    /// <summary>Most epochs to run, positive, or null for no epoch limit. Default null.</summary>
    public int? MaxEpochs { get; init; }

    /// <summary>
    /// Step budget: most optimizer steps (engine steps, whatever the objectives' schedules) over the whole run, positive,
    /// or null. When it runs out inside an epoch, that epoch ends early (its report has <see cref="EpochReport.Complete"/>
    /// false) and training stops. Default null.
    /// </summary>
    public long? MaxSteps { get; init; }

    /// <summary>Early stopping with restoration of the best weights, or null. Default null.</summary>
    public EarlyStopping? EarlyStopping { get; init; }

    /// <summary>
    /// The component's context, or null to train without ML.NET. With a context the engine logs one Info line per epoch
    /// (<c>Epoch 3/10: loss 0.1234, validation loss 0.2345</c>) to the MLContext log under the component's name, reports
    /// progress through an <c>IProgressChannel</c>, and honours <see cref="ComponentContext.Cancellation"/>. Default null.
    /// </summary>
    public ComponentContext? Context { get; init; }

    /// <summary>Checked before every step (as well as the context's token); cancelling makes <c>Run</c> throw <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Appended to the divergence error (a non-finite loss), e.g. which options to lower. Default null.</summary>
    public string? DivergenceHint { get; init; }

    /// <summary>The epoch metrics shown in the progress channel; null shows the objectives' losses. Default null.</summary>
    public IReadOnlyList<string>? ProgressMetrics { get; init; }

    /// <summary>With a context, also log an Info line every this many steps (0: never). Non-negative. Default 0.</summary>
    public int StepLogInterval { get; init; }
}
