using Components.Core.Runtime;
using Microsoft.ML;

namespace Components.Trainers;

/// <summary>
/// The generative-models area of an <see cref="MLContext"/> (<c>ml.Generative</c>): estimators whose <c>Fit</c> learns a
/// model of the data's distribution and returns a model that generates rows. Component catalogs add extension methods
/// to it (<c>ml.Generative.Gan(…)</c>); the MLContext's seed, log, GpuDeviceId and FallbackToCpu apply.
/// </summary>
public sealed class GenerativeCatalog : AreaCatalog
{
    internal GenerativeCatalog(MLContext context)
        : base(context)
    {
    }
}

/// <summary>Adds the <c>Generative</c> area to <see cref="MLContext"/>.</summary>
public static class GenerativeMLContextExtensions
{
    /// <param name="ml">The MLContext.</param>
    extension(MLContext ml)
    {
        /// <summary>Generative models (GANs) trained on a vector column.</summary>
        public GenerativeCatalog Generative => new(ml);
    }
}
