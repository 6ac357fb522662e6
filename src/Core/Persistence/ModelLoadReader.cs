using Components.Core.Internal;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Components.Core.Persistence;

/// <summary>
/// Reads a component saved with <see cref="ModelSaveWriter"/>; handed to the component's static <c>Load</c>. It
/// verifies the integrity block (checksum and length) of every stream before the component reads it: a damaged or
/// truncated stream fails with a <see cref="FormatException"/> that names its zip entry. Models saved before
/// integrity blocks existed (<see cref="HasIntegrityBlocks"/> false) are read unchanged.
/// </summary>
public sealed class ModelLoadReader
{
    private readonly object _ctx;
    private BinaryReader? _reader;

    internal ModelLoadReader(IHostEnvironment env, object ctx)
    {
        Environment = env;
        _ctx = ctx;
        HasIntegrityBlocks = MlNetShim.HasIntegrityFlag(ctx);
    }

    /// <summary>The environment that loads the model (its seed, device settings and log).</summary>
    public IHostEnvironment Environment { get; }

    /// <summary>The format version the model was written with (after <see cref="Begin"/>).</summary>
    public uint VersionWritten { get; private set; }

    /// <summary>Whether the model's streams carry integrity blocks (false for models saved by older versions of the suite).</summary>
    public bool HasIntegrityBlocks { get; }

    /// <summary>The model's main binary stream (after <see cref="Begin"/>).</summary>
    public BinaryReader Reader => _reader ?? throw new InvalidOperationException("Call Begin first.");

    /// <summary>Checks the model header against <paramref name="version"/>; throws if the format is unknown, too old or too new.</summary>
    public BinaryReader Begin(ModelVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        var (reader, written, integrity, bytes) = MlNetShim.BeginLoad(_ctx, version);
        VersionWritten = written;
        _reader = integrity ? StreamIntegrity.OpenBlock(reader.BaseStream, bytes, MlNetShim.EntryName(_ctx, "Model.key")) : reader;
        return _reader;
    }

    /// <summary>Reads a named stream; returns false if the model has none of that name.</summary>
    public bool TryLoadBinaryStream(string name, Action<BinaryReader> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        if (!HasIntegrityBlocks)
            return MlNetShim.TryLoadBinaryStream(_ctx, name, read);
        var entry = MlNetShim.EntryName(_ctx, name);
        return MlNetShim.TryLoadBinaryStream(_ctx, name, r =>
        {
            var s = r.BaseStream;
            using var verified = StreamIntegrity.OpenBlock(s, s.CanSeek ? s.Length - s.Position : null, entry);
            read(verified);
        });
    }

    /// <summary>Loads a TorchSharp module's state saved with <see cref="ModelSaveWriter.SaveModule"/>.</summary>
    public void LoadModule(torch.nn.Module module, string name = "TSModel")
    {
        if (!TryLoadBinaryStream(name, r => module.load(r)))
            throw new FormatException($"The model has no '{name}' stream; it is corrupt or was written by another component.");
    }
}
