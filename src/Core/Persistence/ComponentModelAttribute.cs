namespace Components.Core.Persistence;

/// <summary>
/// Marks a suite transformer that <c>mlContext.Model.Save/Load</c> can persist. The type must have a static method
/// <c>Load(IHostEnvironment env, ModelLoadReader reader)</c> (or the name given in <see cref="LoadMethodName"/>) that
/// rebuilds it, and its <c>ICanSaveModel.Save</c> must start with <see cref="ModelSaveWriter.Begin"/> using the same
/// loader signature.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class ComponentModelAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="loaderSignature">Unique name of the loader, stored in the model file (e.g. <c>"NeuralNetworkModel"</c>);
    /// at most <see cref="MaxLoaderSignatureLength"/> ASCII characters (ML.NET's model header holds 24 bytes).</param>
    public ComponentModelAttribute(string loaderSignature)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(loaderSignature);
        if (loaderSignature.Length > MaxLoaderSignatureLength || loaderSignature.Any(c => c > 127))
            throw new ArgumentException($"Loader signature '{loaderSignature}' must be at most {MaxLoaderSignatureLength} ASCII characters.", nameof(loaderSignature));
        LoaderSignature = loaderSignature;
    }

    /// <summary>Longest loader signature ML.NET's model header can store.</summary>
    public const int MaxLoaderSignatureLength = 23;

    /// <summary>Unique name of the loader, stored in the model file.</summary>
    public string LoaderSignature { get; }

    /// <summary>Name of the static load method; default <c>Load</c>.</summary>
    public string LoadMethodName { get; init; } = "Load";
}
