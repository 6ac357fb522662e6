using Components.Core.Internal;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Components.Core.Persistence;

/// <summary>Reads a component saved with <see cref="ModelSaveWriter"/>; handed to the component's static <c>Load</c>.</summary>
public sealed class ModelLoadReader
{
    private readonly object _ctx;
    private BinaryReader? _reader;

    internal ModelLoadReader(IHostEnvironment env, object ctx)
    {
        Environment = env;
        _ctx = ctx;
    }

    /// <summary>The environment that loads the model (its seed, device settings and log).</summary>
    public IHostEnvironment Environment { get; }

    /// <summary>The format version the model was written with (after <see cref="Begin"/>).</summary>
    public uint VersionWritten { get; private set; }

    /// <summary>The model's main binary stream (after <see cref="Begin"/>).</summary>
    public BinaryReader Reader => _reader ?? throw new InvalidOperationException("Call Begin first.");

    /// <summary>Checks the model header against <paramref name="version"/>; throws if the format is unknown or too new.</summary>
    public BinaryReader Begin(ModelVersion version)
    {
        (_reader, VersionWritten) = MlNetShim.BeginLoad(_ctx, version);
        return _reader;
    }

    /// <summary>Reads a named stream; returns false if the model has none of that name.</summary>
    public bool TryLoadBinaryStream(string name, Action<BinaryReader> read) => MlNetShim.TryLoadBinaryStream(_ctx, name, read);

    /// <summary>Loads a TorchSharp module's state saved with <see cref="ModelSaveWriter.SaveModule"/>.</summary>
    public void LoadModule(torch.nn.Module module, string name = "TSModel")
    {
        if (!TryLoadBinaryStream(name, r => module.load(r)))
            throw new FormatException($"The model has no '{name}' stream; it is corrupt or was written by another component.");
    }
}
