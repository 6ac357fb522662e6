using Components.Core.Internal;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Components.Core.Runtime;

/// <summary>The environment behind an ML.NET catalog, for catalog extension methods.</summary>
public static class CatalogEnvironment
{
    /// <summary>The environment (MLContext) that owns <paramref name="catalog"/>.</summary>
    public static IHostEnvironment Get(object catalog) => MlNetShim.GetEnvironment(catalog);

    /// <summary>Seed, GPU device id and CPU fallback of an environment.</summary>
    public static (int? Seed, int? GpuDeviceId, bool FallbackToCpu) Settings(IHostEnvironment env) => MlNetShim.GetEnvironmentSettings(env);
}
