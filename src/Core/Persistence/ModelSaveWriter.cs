using Components.Core.Internal;
using Microsoft.ML;
using TorchSharp;

namespace Components.Core.Persistence;

/// <summary>
/// Writes a component inside an ML.NET model zip: scalars and arrays through <see cref="Writer"/>, larger state
/// (TorchSharp modules, matrices) as named binary streams. Obtain one with <see cref="Begin"/> from
/// <c>ICanSaveModel.Save</c>.
/// </summary>
public sealed class ModelSaveWriter
{
    private readonly ModelSaveContext _ctx;

    private ModelSaveWriter(ModelSaveContext ctx, BinaryWriter writer)
    {
        _ctx = ctx;
        Writer = writer;
    }

    /// <summary>The model's main binary stream.</summary>
    public BinaryWriter Writer { get; }

    /// <summary>Starts saving: validates the context and writes the version header.</summary>
    public static ModelSaveWriter Begin(ModelSaveContext ctx, ModelVersion version, Type componentType)
        => new(ctx, MlNetShim.BeginSave(ctx, version, componentType));

    /// <summary>Writes a separate named stream inside the model's folder of the zip.</summary>
    public void SaveBinaryStream(string name, Action<BinaryWriter> write) => MlNetShim.SaveBinaryStream(_ctx, name, write);

    /// <summary>Saves a TorchSharp module's state dictionary as a named stream (default <c>TSModel</c>).</summary>
    public void SaveModule(torch.nn.Module module, string name = "TSModel")
        => SaveBinaryStream(name, w => module.save(w));
}
