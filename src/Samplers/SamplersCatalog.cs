using Components.Core.Runtime;
using Microsoft.ML;

namespace Components.Samplers;

/// <summary>
/// The samplers area of an <see cref="MLContext"/> (<c>ml.Samplers</c>): Markov chain Monte Carlo samplers whose
/// <c>Fit</c> tunes or trains the sampler and returns a model mapping initial states to states after N transitions.
/// Component catalogs add extension methods to it (<c>ml.Samplers.Hmc(…)</c>, <c>ml.Samplers.L2hmc(…)</c>); the
/// MLContext's seed, log, GpuDeviceId and FallbackToCpu apply.
/// </summary>
public sealed class SamplersCatalog : AreaCatalog
{
    internal SamplersCatalog(MLContext context)
        : base(context)
    {
    }
}

/// <summary>Adds the <c>Samplers</c> area to <see cref="MLContext"/>.</summary>
public static class SamplersMLContextExtensions
{
    /// <param name="ml">The MLContext.</param>
    extension(MLContext ml)
    {
        /// <summary>Markov chain Monte Carlo samplers (HMC, L2HMC) that fit to a target energy.</summary>
        public SamplersCatalog Samplers => new(ml);
    }
}
