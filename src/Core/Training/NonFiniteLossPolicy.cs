namespace Components.Core.Training;

/// <summary>What a <see cref="TrainingObjective{TBatch}"/> does when its loss is NaN or infinite.</summary>
public enum NonFiniteLossPolicy
{
    /// <summary>Stop training with an <see cref="InvalidOperationException"/> naming the step, the objective and the value (divergence).</summary>
    Throw,

    /// <summary>
    /// Skip the optimizer step when the loss or any gradient is not finite (the optimizer's state is untouched) and go on;
    /// <see cref="TrainingObjective{TBatch}.MaxConsecutiveSkips"/> skips in a row stop training with an error.
    /// </summary>
    SkipStep,
}
