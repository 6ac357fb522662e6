namespace Components.Core.Training;

/// <summary>Step schedules for <see cref="TrainingObjective{TBatch}.Schedule"/>.</summary>
public static class TrainingSchedule
{
    /// <summary>
    /// Runs on steps <c>phase, phase + period, phase + 2·period, …</c> (0-based). For example a generator updated once per five
    /// discriminator updates: discriminator every step, generator <c>Every(5, 4)</c>.
    /// </summary>
    /// <param name="period">Positive period in steps.</param>
    /// <param name="phase">First step, in [0, period).</param>
    public static Func<long, bool> Every(int period, int phase = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(period);
        if (phase < 0 || phase >= period)
            throw new ArgumentOutOfRangeException(nameof(phase), phase, $"Must be in [0, {period}).");
        return step => step % period == phase;
    }

    /// <summary>Runs from step <paramref name="first"/> (0-based) on, e.g. to warm one network up before training another.</summary>
    /// <param name="first">First step, non-negative.</param>
    public static Func<long, bool> From(long first)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        return step => step >= first;
    }
}
