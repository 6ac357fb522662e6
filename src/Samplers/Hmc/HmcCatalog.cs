using Components.Samplers.Sampling;
using Components.Core.Runtime;
using Components.Samplers.Energies;

namespace Components.Samplers.Hmc;

/// <summary>Adds HMC to <c>ml.Samplers</c>.</summary>
public static class HmcCatalog
{
    /// <summary>
    /// Hamiltonian Monte Carlo with dual-averaging step-size adaptation. <c>Fit</c> adapts ε on parallel chains seeded
    /// by the initial-state column; the model maps initial states to states after <paramref name="transitions"/>
    /// transitions.
    /// </summary>
    /// <param name="catalog">The samplers catalog (<c>ml.Samplers</c>).</param>
    /// <param name="energy">The target.</param>
    /// <param name="outputColumnName">Output column of final states.</param>
    /// <param name="initialStateColumnName">Input column of initial states (vector of the energy's dimension).</param>
    /// <param name="transitions">Transitions applied to each row.</param>
    /// <param name="leapfrogSteps">Leapfrog steps per transition.</param>
    /// <param name="targetAcceptance">Target acceptance probability of the adaptation.</param>
    /// <example><code language="csharp" source="../../../docs/samples/scripts/Hmc.cs"/></example>
    public static HmcEstimator Hmc(this SamplersCatalog catalog, EnergyFunction energy,
        string outputColumnName = SamplerDefaults.OutputColumnName,
        string initialStateColumnName = SamplerDefaults.InitialStateColumnName,
        int transitions = SamplerDefaults.Transitions,
        int leapfrogSteps = SamplerDefaults.LeapfrogSteps,
        double targetAcceptance = HmcEstimator.Defaults.TargetAcceptance)
        => Hmc(catalog, new HmcEstimator.Options
        {
            Energy = energy,
            OutputColumnName = outputColumnName,
            InitialStateColumnName = initialStateColumnName,
            Transitions = transitions,
            LeapfrogSteps = leapfrogSteps,
            TargetAcceptance = targetAcceptance,
        });

    /// <summary>Hamiltonian Monte Carlo with all options.</summary>
    /// <param name="catalog">The samplers catalog (<c>ml.Samplers</c>).</param>
    /// <param name="options">Options.</param>
    public static HmcEstimator Hmc(this SamplersCatalog catalog, HmcEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new HmcEstimator(CatalogEnvironment.Get(catalog), options);
    }
}
