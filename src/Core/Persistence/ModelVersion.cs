namespace Components.Core.Persistence;

/// <summary>
/// Version header of a component's binary model format, in ML.NET's terms: an 8-character model signature, the
/// version this code writes and the oldest version it can still read back.
/// </summary>
/// <param name="ModelSignature">Exactly 8 ASCII characters identifying the format (e.g. <c>"NNETMODL"</c>).</param>
/// <param name="VersionWritten">Format version written by this code.</param>
/// <param name="VersionReadableBack">Oldest format version this code can read.</param>
/// <param name="LoaderSignature">Loader signature; must equal the type's <see cref="ComponentModelAttribute.LoaderSignature"/>.</param>
public sealed record ModelVersion(string ModelSignature, uint VersionWritten, uint VersionReadableBack, string LoaderSignature)
{
    /// <summary>Validates the fields.</summary>
    public string ModelSignature { get; } = ModelSignature is { Length: 8 } ? ModelSignature
        : throw new ArgumentException("A model signature must be exactly 8 characters.", nameof(ModelSignature));

    /// <summary>The loader signature, at most <see cref="ComponentModelAttribute.MaxLoaderSignatureLength"/> characters.</summary>
    public string LoaderSignature { get; } = LoaderSignature is { Length: > 0 and <= ComponentModelAttribute.MaxLoaderSignatureLength } ? LoaderSignature
        : throw new ArgumentException($"A loader signature must have 1 to {ComponentModelAttribute.MaxLoaderSignatureLength} characters.", nameof(LoaderSignature));
}
