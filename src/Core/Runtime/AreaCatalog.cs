using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Components.Core.Runtime;

/// <summary>
/// Base of the catalog of a new area on <see cref="MLContext"/> (for example <c>ml.Samplers</c>), for areas that
/// none of ML.NET's catalogs fits. It holds the MLContext's environment; component catalogs add extension methods to
/// the derived class and create their components from <see cref="CatalogEnvironment.Get"/>, exactly as on ML.NET's
/// own catalogs. The area itself is a C# 14 extension property on <see cref="MLContext"/>.
/// </summary>
/// <example>
/// <code>
/// public sealed class SamplersCatalog : AreaCatalog
/// {
///     internal SamplersCatalog(MLContext context) : base(context) { }
/// }
///
/// public static class SamplersMLContextExtensions
/// {
///     extension(MLContext ml)
///     {
///         public SamplersCatalog Samplers => new(ml);
///     }
/// }
///
/// public static HmcEstimator Hmc(this SamplersCatalog catalog, HmcEstimator.Options options)
///     => new(CatalogEnvironment.Get(catalog), options);
/// </code>
/// </example>
public abstract class AreaCatalog
{
    /// <summary>Creates the catalog of <paramref name="environment"/>.</summary>
    /// <param name="environment">The MLContext (its seed, log, GpuDeviceId and FallbackToCpu apply to the area's components).</param>
    protected AreaCatalog(IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        Environment = environment;
    }

    /// <summary>The environment the area's components are created from (read through <see cref="CatalogEnvironment.Get"/>).</summary>
    internal IHostEnvironment Environment { get; }
}
