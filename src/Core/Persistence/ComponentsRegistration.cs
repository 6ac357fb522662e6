using Components.Core.Internal;
using Microsoft.ML;

namespace Components.Core;

/// <summary>Entry point that makes suite components loadable by <c>mlContext.Model.Load</c>.</summary>
public static class ComponentsRegistration
{
    /// <summary>
    /// Registers every suite component with <paramref name="mlContext"/>'s component catalog. Call it once per
    /// MLContext before <c>mlContext.Model.Load</c>; it is idempotent and cheap after the first call. Saving needs no
    /// registration.
    /// </summary>
    /// <exception cref="NotSupportedException">The loaded ML.NET version lacks a member the suite relies on.</exception>
    public static MLContext RegisterComponents(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        MlNetShim.EnsureSupported();
        MlNetShim.RegisterLoaders(mlContext);
        return mlContext;
    }
}
