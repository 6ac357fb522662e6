namespace Components.Core.Persistence;

/// <summary>
/// Version header of a component's binary model format, in ML.NET's terms: an 8-character model signature, the
/// version this code writes and the oldest version it can still read back.
/// </summary>
/// <param name="ModelSignature">Exactly 8 ASCII characters identifying the format (e.g. <c>"NNETMODL"</c>).</param>
/// <param name="VersionWritten">Format version written by this code (below <see cref="IntegrityFlag"/>).</param>
/// <param name="VersionReadableBack">Oldest format version this code can read (at most <paramref name="VersionWritten"/>).</param>
/// <param name="LoaderSignature">Loader signature; must equal the type's <see cref="ComponentModelAttribute.LoaderSignature"/>.</param>
public sealed record ModelVersion(string ModelSignature, uint VersionWritten, uint VersionReadableBack, string LoaderSignature)
{
    /// <summary>Validates the fields.</summary>
    public string ModelSignature { get; } = ModelSignature is { Length: 8 } ? ModelSignature
        : throw new ArgumentException("A model signature must be exactly 8 characters.", nameof(ModelSignature));

    /// <summary>Format version written by this code.</summary>
    public uint VersionWritten { get; } = VersionWritten < IntegrityFlag ? VersionWritten
        : throw new ArgumentOutOfRangeException(nameof(VersionWritten), VersionWritten, "Format versions must be below 2^31 (the top bit is the suite's integrity flag).");

    /// <summary>Oldest format version this code can read.</summary>
    public uint VersionReadableBack { get; } = VersionReadableBack <= VersionWritten ? VersionReadableBack
        : throw new ArgumentOutOfRangeException(nameof(VersionReadableBack), VersionReadableBack, "The oldest readable version cannot exceed the version written.");

    /// <summary>
    /// Set in the versions stored in a model's ML.NET header when every binary stream of the component starts with
    /// an integrity block (checksum and length, see <c>StreamIntegrity</c>); models saved before integrity blocks
    /// existed lack it and load as before. Component code never sees it.
    /// </summary>
    public const uint IntegrityFlag = 0x8000_0000;

    /// <summary>The loader signature, at most <see cref="ComponentModelAttribute.MaxLoaderSignatureLength"/> characters.</summary>
    public string LoaderSignature { get; } = LoaderSignature is { Length: > 0 and <= ComponentModelAttribute.MaxLoaderSignatureLength } ? LoaderSignature
        : throw new ArgumentException($"A loader signature must have 1 to {ComponentModelAttribute.MaxLoaderSignatureLength} characters.", nameof(LoaderSignature));
}
