using Components.Core.Internal;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Components.Core.Runtime;

/// <summary>The environment behind an ML.NET catalog, for catalog extension methods.</summary>
public static class CatalogEnvironment
{
    /// <summary>The environment (MLContext) that owns <paramref name="catalog"/>: one of ML.NET's catalogs or an <see cref="AreaCatalog"/>.</summary>
    public static IHostEnvironment Get(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return catalog is AreaCatalog area ? area.Environment : MlNetShim.GetEnvironment(catalog);
    }

    /// <summary>Seed, GPU device id and CPU fallback of an environment.</summary>
    public static (int? Seed, int? GpuDeviceId, bool FallbackToCpu) Settings(IHostEnvironment env) => MlNetShim.GetEnvironmentSettings(env);
}
