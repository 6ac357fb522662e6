using Components.Samplers.Sampling;

namespace Components.Samplers.Hmc;

public sealed partial class HmcEstimator
{
    /// <summary>Default values, in one place.</summary>
    internal static class Defaults
    {
        public const double TargetAcceptance = 0.65;
        public const int AdaptationSteps = 500;
    }

    /// <summary>
    /// Options of <see cref="HmcEstimator"/> (<c>ml.Samplers.Hmc(options)</c>): Hamiltonian Monte Carlo with L leapfrog
    /// steps and a step size tuned by dual averaging to a target acceptance probability during <c>Fit</c>.
    /// Shared fields (energy, columns, transitions, leapfrog steps, step size, chains) are on <see cref="SamplerOptions"/>; from <see cref="Core.Runtime.ComponentOptions"/>: the seed of all sampling noise (adaptation, the row mapping,
    /// <c>Sample</c>), the device, and the cancellation token (checked every transition of adaptation and sampling).
    /// </summary>
    public sealed class Options : SamplerOptions
    {
        /// <summary>
        /// Target mean acceptance probability δ of the dual-averaging adaptation, in (0, 1). Default 0.65 (the
        /// optimum for HMC in high dimension, Beskos et al. 2013).
        /// </summary>
        public double TargetAcceptance = Defaults.TargetAcceptance;

        /// <summary>Dual-averaging transitions during <c>Fit</c> (0 keeps <see cref="SamplerOptions.StepSize"/>). Default 500.</summary>
        public int AdaptationSteps = Defaults.AdaptationSteps;
    }
}
