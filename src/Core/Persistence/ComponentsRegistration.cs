using System.Reflection;
using System.Runtime.ExceptionServices;
using Components.Core.Internal;
using Microsoft.ML;

namespace Components.Core;

/// <summary>Entry points that make suite components loadable by <c>mlContext.Model.Load</c>.</summary>
public static class ComponentsRegistration
{
    /// <summary>
    /// Registers every suite component with <paramref name="mlContext"/>'s component catalog. Call it once per
    /// MLContext before <c>mlContext.Model.Load</c>; it is idempotent and cheap after the first call. Saving needs no
    /// registration. Without it, <c>Model.Load</c> of a model that contains a suite component fails inside ML.NET
    /// with <c>FormatException: Couldn't load model: '…'</c>; <see cref="LoadWithComponents(ModelOperationsCatalog, Stream, out DataViewSchema)"/>
    /// registers by itself.
    /// </summary>
    /// <exception cref="NotSupportedException">The loaded ML.NET version lacks a member the suite relies on.</exception>
    public static MLContext RegisterComponents(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        MlNetShim.EnsureSupported();
        MlNetShim.RegisterLoaders(mlContext);
        return mlContext;
    }

    /// <summary>
    /// <c>Model.Load</c> for models that contain suite components: registers the components with the catalog's
    /// MLContext (no <see cref="RegisterComponents"/> call needed), loads, and reports failures as the exception the
    /// failing loader threw, not wrapped in ML.NET's <see cref="TargetInvocationException"/>s: a damaged or
    /// truncated model gives a <see cref="FormatException"/> that names the zip entry, a sampler whose user-defined
    /// energy is not defined in this process an <see cref="InvalidOperationException"/>.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="stream">The model zip (seekable streams let a damaged ML.NET header be traced to its entry).</param>
    /// <param name="inputSchema">The input schema saved with the model, or null.</param>
    /// <exception cref="FormatException">The model is damaged, truncated or of an unknown format.</exception>
    public static ITransformer LoadWithComponents(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(stream);
        MlNetShim.EnsureSupported();
        MlNetShim.RegisterLoaders(MlNetShim.GetEnvironment(catalog));
        long start = stream.CanSeek ? stream.Position : -1;
        try
        {
            return catalog.Load(stream, out inputSchema);
        }
        catch (Exception e)
        {
            var cause = Unwrap(e);
            if (cause is FormatException && start >= 0 && !cause.Message.Contains("model entry '", StringComparison.Ordinal))
            {
                string? damaged = null;
                try
                {
                    stream.Position = start;
                    damaged = MlNetShim.FindDamagedModelHeader(stream);
                }
                catch (Exception diagnosis) when (diagnosis is IOException or InvalidDataException or NotSupportedException or ObjectDisposedException)
                {
                    // Not a readable zip: keep ML.NET's own message.
                }
                if (damaged is not null)
                    throw new FormatException(damaged, cause);
            }
            if (ReferenceEquals(cause, e))
                throw;
            ExceptionDispatchInfo.Capture(cause).Throw();
            throw;
        }
    }

    /// <summary>Loads a model file; see <see cref="LoadWithComponents(ModelOperationsCatalog, Stream, out DataViewSchema)"/>.</summary>
    public static ITransformer LoadWithComponents(this ModelOperationsCatalog catalog, string filePath, out DataViewSchema inputSchema)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        using var stream = File.OpenRead(filePath);
        return catalog.LoadWithComponents(stream, out inputSchema);
    }

    // ML.NET calls each loader by reflection (a TargetInvocationException per nesting level) and wraps exceptions it
    // raised itself in "Error during class instantiation".
    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            if (e is TargetInvocationException { InnerException: { } inner })
                e = inner;
            else if (e is InvalidOperationException { InnerException: TargetInvocationException tie } && e.Message.StartsWith("Error during class instantiation", StringComparison.Ordinal))
                e = tie;
            else
                return e;
        }
    }
}
