using Components.Core.Runtime;
using Components.Samplers.Energies;

namespace Components.Samplers.Sampling;

/// <summary>
/// The options every sampler estimator shares (<see cref="Hmc.HmcEstimator.Options"/>,
/// <see cref="L2hmc.L2hmcEstimator.Options"/>): the target, the columns, the number of transitions and leapfrog steps,
/// the initial step size, the chains run during <c>Fit</c> and the log interval. From <see cref="ComponentOptions"/>:
/// the seed of all sampling noise, the device and the cancellation token (checked every transition or training step).
/// </summary>
public abstract class SamplerOptions : ComponentOptions
{
    private protected SamplerOptions()
    {
    }

    /// <summary>The target distribution (required). See <see cref="EnergyFunction"/>.</summary>
    public EnergyFunction? Energy;

    /// <summary>Input column of initial states: known-size Single vector of the energy's dimension. Default <c>Features</c>.</summary>
    public string InitialStateColumnName = SamplerDefaults.InitialStateColumnName;

    /// <summary>Output column: the state after <see cref="Transitions"/> transitions (Single vector). Default <c>Sample</c>.</summary>
    public string OutputColumnName = SamplerDefaults.OutputColumnName;

    /// <summary>Output column: fraction of the row's transitions that were accepted (Single). Default <c>AcceptanceRate</c>.</summary>
    public string AcceptanceColumnName = SamplerDefaults.AcceptanceColumnName;

    /// <summary>Metropolis–Hastings transitions the model applies to each row (one or more). Default 10.</summary>
    public int Transitions = SamplerDefaults.Transitions;

    /// <summary>
    /// Leapfrog steps per transition (L for HMC, T for L2HMC's augmented leapfrog; = gradient evaluations per
    /// transition; one or more). Default 10, as the paper's baselines.
    /// </summary>
    public int LeapfrogSteps = SamplerDefaults.LeapfrogSteps;

    /// <summary>
    /// Initial leapfrog step size ε (positive): where HMC's dual averaging starts (its fixed step size when it adapts
    /// for 0 steps), and L2HMC's ε₀. Default 0.1.
    /// </summary>
    public double StepSize = SamplerDefaults.StepSize;

    /// <summary>
    /// Parallel chains run during <c>Fit</c> (HMC's adaptation, L2HMC's training; one or more); the input rows seed
    /// them (cycled if fewer rows). The model keeps their final states as the start of
    /// <see cref="SamplerModelBase.Sample"/>. Default 200.
    /// </summary>
    public int Chains = SamplerDefaults.Chains;

    /// <summary>Steps of <c>Fit</c> (adaptation or training) between progress lines in the MLContext log (one or more). Default 100.</summary>
    public int LogInterval = SamplerDefaults.LogInterval;
}

/// <summary>Default values shared by the samplers, in one place.</summary>
internal static class SamplerDefaults
{
    public const string InitialStateColumnName = "Features";
    public const string OutputColumnName = "Sample";
    public const string AcceptanceColumnName = "AcceptanceRate";
    public const int Transitions = 10;
    public const int LeapfrogSteps = 10;
    public const double StepSize = 0.1;
    public const int Chains = 200;
    public const int LogInterval = 100;
}
