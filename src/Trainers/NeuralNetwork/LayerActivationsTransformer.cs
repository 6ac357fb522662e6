using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Persistence;
using Components.Core.Schema;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// Appends the activations of chosen layers of a neural network as Single-vector columns: hidden layers after the
/// activation (convolution blocks after pooling, flattened channel-major, the column carrying its
/// <see cref="ImageShape"/>: channels × height × width, CHW), the output layer as raw outputs (logits).
/// Owns its copy of the network; batched forward passes under <c>no_grad</c>, safe on several threads. Saved and loaded with
/// <c>ml.Model.Save/Load</c> (after <c>ml.RegisterComponents()</c>).
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class LayerActivationsTransformer : AppendColumnsTransformer
{
    // At most 24 characters (ML.NET model header).
    internal const string LoaderSignature = "LayerActivations";
    private static readonly ModelVersion s_version = new("NNLAYACT", 1, 1, LoaderSignature);
    private readonly int[] _layers;
    private readonly string[] _names;
    private readonly int _batchSize;

    private readonly TorchModuleOwner<NeuralNetworkModule> _owner;

    internal LayerActivationsTransformer(IHostEnvironment env, TorchModuleOwner<NeuralNetworkModule> owner, string inputColumnName,
        int[] layers, string[] outputColumnNames, int batchSize)
        : base(env, LoaderSignature)
    {
        _owner = owner;
        InputColumnName = inputColumnName;
        _layers = layers;
        _names = outputColumnNames;
        _batchSize = batchSize;
        var arch = owner.Module.Architecture;
        Inputs = [new InputColumn(inputColumnName, arch.InputSize, "feature")];
        Outputs = layers.Select((l, i) => OutputColumn.Vector(outputColumnNames[i], arch.LayerSizes[l - 1], imageShape: LayerImageShape(arch, l))).ToArray();
    }

    /// <summary>
    /// The image shape of a convolution layer's activations (channels × side × side after pooling, CHW: the layer's
    /// NCHW tensor flattened per row), or null for fully connected layers.
    /// </summary>
    internal static ImageShape? LayerImageShape(NeuralNetworkArchitecture arch, int layer)
    {
        if (arch.Kind != NeuralNetworkArchitectureKind.Cnn || layer > arch.ConvolutionChannels.Count)
            return null;
        int h = arch.ImageHeight, w = arch.ImageWidth;
        for (int i = 0; i < layer; i++)
        {
            h /= 2;
            w /= 2;
        }
        return new ImageShape(arch.ConvolutionChannels[layer - 1], h, w, ImageLayout.Chw);
    }

    /// <summary>This transformer's copy of the network (read-only use; owned by the transformer).</summary>
    public NeuralNetworkModule Module => _owner.Module;

    /// <summary>The network's architecture.</summary>
    public NeuralNetworkArchitecture Architecture => Module.Architecture;

    /// <summary>The device the network lives on.</summary>
    public Device Device => _owner.Device;

    /// <summary>The input (feature) column.</summary>
    public string InputColumnName { get; }

    /// <summary>The exposed layers, 1-based, in output-column order.</summary>
    public IReadOnlyList<int> Layers => _layers;

    /// <summary>The appended columns, one per entry of <see cref="Layers"/>.</summary>
    public IReadOnlyList<string> OutputColumnNames => _names;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _batchSize;

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, Architecture.InputSize], Device);
        var activations = _owner.Run(m => m.ForwardLayers(x, _layers));
        for (int i = 0; i < activations.Length; i++)
            TensorData.CopyTo(activations[i], batch.Output(i));
    }

    // *** Binary format ***
    // shared prefix: see NeuralNetworkModelState.Write (score column empty, no history)
    // int[]: layers
    // string[]: output column names
    // stream "TSModel": module state
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(LayerActivationsTransformer));
        new NeuralNetworkModelState(InputColumnName, "", _batchSize, Architecture, [], 0).Write(w.Writer);
        w.Writer.WriteInts(_layers);
        w.Writer.WriteStrings(_names);
        _owner.Save(w);
    }

    /// <summary>Loads a transformer saved by <see cref="SaveModel"/>; called by <c>ml.Model.Load</c>.</summary>
    public static LayerActivationsTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var state = NeuralNetworkModelState.Read(r);
        var layers = r.ReadInts(maxLength: 1 << 16);
        var names = r.ReadStrings(maxLength: 1 << 16);
        try
        {
            LayerActivationsEstimator.ValidateLayers(state.Architecture, layers, names);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException("Corrupt model file: " + ex.Message, ex);
        }
        var owner = NeuralNetworkModelState.LoadModule(env, reader, state.Architecture);
        return new LayerActivationsTransformer(env, owner, state.FeatureColumnName, layers, names, state.InferenceBatchSize);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _owner.Dispose();
        base.Dispose(disposing);
    }
}
