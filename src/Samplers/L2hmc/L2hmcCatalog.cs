using Components.Samplers.Sampling;
using Components.Core.Runtime;
using Components.Samplers.Energies;

namespace Components.Samplers.L2hmc;

/// <summary>Adds L2HMC to <c>ml.Samplers</c>.</summary>
public static class L2hmcCatalog
{
    /// <summary>
    /// L2HMC (arXiv:1711.09268): HMC generalised with neural networks, trained during <c>Fit</c> to maximise
    /// expected squared jumped distance; the model maps initial states to states after
    /// <paramref name="transitions"/> transitions.
    /// </summary>
    /// <param name="catalog">The samplers catalog (<c>ml.Samplers</c>).</param>
    /// <param name="energy">The target.</param>
    /// <param name="outputColumnName">Output column of final states.</param>
    /// <param name="initialStateColumnName">Input column of initial states (vector of the energy's dimension).</param>
    /// <param name="transitions">Transitions applied to each row.</param>
    /// <param name="leapfrogSteps">Augmented leapfrog steps per transition.</param>
    /// <param name="trainingSteps">Adam training steps.</param>
    /// <example><code language="csharp" source="../../../docs/samples/scripts/L2hmc.cs"/></example>
    public static L2hmcEstimator L2hmc(this SamplersCatalog catalog, EnergyFunction energy,
        string outputColumnName = SamplerDefaults.OutputColumnName,
        string initialStateColumnName = SamplerDefaults.InitialStateColumnName,
        int transitions = SamplerDefaults.Transitions,
        int leapfrogSteps = SamplerDefaults.LeapfrogSteps,
        int trainingSteps = L2hmcEstimator.Defaults.TrainingSteps)
        => L2hmc(catalog, new L2hmcEstimator.Options
        {
            Energy = energy,
            OutputColumnName = outputColumnName,
            InitialStateColumnName = initialStateColumnName,
            Transitions = transitions,
            LeapfrogSteps = leapfrogSteps,
            TrainingSteps = trainingSteps,
        });

    /// <summary>L2HMC with all options.</summary>
    /// <param name="catalog">The samplers catalog (<c>ml.Samplers</c>).</param>
    /// <param name="options">Options.</param>
    public static L2hmcEstimator L2hmc(this SamplersCatalog catalog, L2hmcEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new L2hmcEstimator(CatalogEnvironment.Get(catalog), options);
    }
}
