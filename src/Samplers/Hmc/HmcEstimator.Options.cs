using Components.Core.Runtime;
using Components.Samplers.Energies;

namespace Components.Samplers.Hmc;

public sealed partial class HmcEstimator
{
    /// <summary>Default values, in one place.</summary>
    internal static class Defaults
    {
        public const string InitialStateColumnName = "Features";
        public const string OutputColumnName = "Sample";
        public const string AcceptanceColumnName = "AcceptanceRate";
        public const int Transitions = 10;
        public const int LeapfrogSteps = 10;
        public const double StepSize = 0.1;
        public const double TargetAcceptance = 0.65;
        public const int AdaptationSteps = 500;
        public const int Chains = 200;
        public const int LogInterval = 100;
    }

    /// <summary>
    /// Options of <see cref="HmcEstimator"/> (<c>ml.Samplers.Hmc(options)</c>): Hamiltonian Monte Carlo with L leapfrog
    /// steps and a step size tuned by dual averaging to a target acceptance probability during <c>Fit</c>.
    /// From <see cref="ComponentOptions"/>: the seed of all sampling noise (adaptation, the row mapping,
    /// <c>Sample</c>), the device, and the cancellation token (checked every transition of adaptation and sampling).
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>The target distribution (required). See <see cref="EnergyFunction"/>.</summary>
        public EnergyFunction? Energy;

        /// <summary>Input column of initial states: known-size Single vector of the energy's dimension. Default <c>Features</c>.</summary>
        public string InitialStateColumnName = Defaults.InitialStateColumnName;

        /// <summary>Output column: the state after <see cref="Transitions"/> transitions (Single vector). Default <c>Sample</c>.</summary>
        public string OutputColumnName = Defaults.OutputColumnName;

        /// <summary>Output column: fraction of the row's transitions that were accepted (Single). Default <c>AcceptanceRate</c>.</summary>
        public string AcceptanceColumnName = Defaults.AcceptanceColumnName;

        /// <summary>Metropolis–Hastings transitions the model applies to each row (one or more). Default 10.</summary>
        public int Transitions = Defaults.Transitions;

        /// <summary>Leapfrog steps L per transition (= gradient evaluations per transition; one or more). Default 10 (as the paper's baselines).</summary>
        public int LeapfrogSteps = Defaults.LeapfrogSteps;

        /// <summary>Step size ε (positive): the start of the adaptation, or the fixed step size when <see cref="AdaptationSteps"/> is 0. Default 0.1.</summary>
        public double StepSize = Defaults.StepSize;

        /// <summary>
        /// Target mean acceptance probability δ of the dual-averaging adaptation, in (0, 1). Default 0.65 (the
        /// optimum for HMC in high dimension, Beskos et al. 2013).
        /// </summary>
        public double TargetAcceptance = Defaults.TargetAcceptance;

        /// <summary>Dual-averaging transitions during <c>Fit</c> (0 keeps <see cref="StepSize"/>). Default 500.</summary>
        public int AdaptationSteps = Defaults.AdaptationSteps;

        /// <summary>
        /// Parallel chains during adaptation (one or more); the input rows seed them (cycled if fewer rows). The model
        /// keeps their final states as the start of <see cref="Sampling.SamplerModelBase.Sample"/>. Default 200.
        /// </summary>
        public int Chains = Defaults.Chains;

        /// <summary>Adaptation transitions between progress lines in the MLContext log (one or more). Default 100.</summary>
        public int LogInterval = Defaults.LogInterval;
    }
}
