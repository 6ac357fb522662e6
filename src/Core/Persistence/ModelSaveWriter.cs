using Components.Core.Internal;
using Microsoft.ML;
using TorchSharp;

namespace Components.Core.Persistence;

/// <summary>
/// Writes a component inside an ML.NET model zip: scalars and arrays through <see cref="Writer"/>, larger state
/// (TorchSharp modules, matrices) as named binary streams. Obtain one with <see cref="Begin"/> from
/// <c>ICanSaveModel.Save</c>. Every stream written here (the main one and each named one) is preceded by an
/// integrity block (checksum and length) that the load verifies; components need no code of their own for it.
/// </summary>
public sealed class ModelSaveWriter
{
    private readonly ModelSaveContext _ctx;
    private readonly bool _integrity;

    private ModelSaveWriter(ModelSaveContext ctx, BinaryWriter writer, bool integrity)
    {
        _ctx = ctx;
        Writer = writer;
        _integrity = integrity;
    }

    /// <summary>The model's main binary stream.</summary>
    public BinaryWriter Writer { get; }

    /// <summary>Starts saving: validates the context and writes the version header.</summary>
    public static ModelSaveWriter Begin(ModelSaveContext ctx, ModelVersion version, Type componentType)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(componentType);
        var (writer, integrity) = MlNetShim.BeginSave(ctx, version, componentType);
        if (!integrity)
            return new(ctx, writer, false);
        // ML.NET closes the main stream after Save returns, out of our sight, so the block header is kept current
        // after every write.
        var body = new StreamIntegrity.ChecksumWriteStream(writer.BaseStream, rewriteHeaderOnEveryWrite: true);
        return new(ctx, new BinaryWriter(body, System.Text.Encoding.UTF8, leaveOpen: true), true);
    }

    /// <summary>Writes a separate named stream inside the model's folder of the zip.</summary>
    public void SaveBinaryStream(string name, Action<BinaryWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (_integrity)
            MlNetShim.SaveBinaryStream(_ctx, name, w => StreamIntegrity.WriteBlock(w.BaseStream, write));
        else
            MlNetShim.SaveBinaryStream(_ctx, name, write);
    }

    /// <summary>Saves a TorchSharp module's state dictionary as a named stream (default <c>TSModel</c>).</summary>
    public void SaveModule(torch.nn.Module module, string name = "TSModel")
        => SaveBinaryStream(name, w => module.save(w));
}
