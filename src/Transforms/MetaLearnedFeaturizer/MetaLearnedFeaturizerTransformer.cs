using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>
/// A fitted meta-learned featurizer: appends the top-layer embedding of the base network that the update rule trained
/// without labels (<see cref="Network"/>), a Single vector of the last hidden width. Batched forward passes under
/// <c>no_grad</c> on the CPU, safe on several threads. Saved and loaded with <c>ml.Model.Save/Load</c> (after
/// <c>ml.RegisterComponents()</c>).
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class MetaLearnedFeaturizerTransformer : AppendColumnsTransformer
{
    internal const string LoaderSignature = "MetaLearnedFeaturizer";
    private const string Role = "feature";
    private const string NetworkStream = "Network.bin";
    private static readonly ModelVersion s_version = new("MLURFEAT", 1, 1, LoaderSignature);
    private readonly int _batchSize;

    internal MetaLearnedFeaturizerTransformer(IHostEnvironment env, MetaLearnedFeaturizerModelParameters network, string inputColumnName,
        string outputColumnName, int batchSize, string ruleSource)
        : base(env, LoaderSignature)
    {
        Network = network;
        InputColumnName = inputColumnName;
        OutputColumnName = outputColumnName;
        RuleSource = ruleSource;
        _batchSize = batchSize;
        Inputs = [new InputColumn(inputColumnName, network.Widths[0], Role)];
        Outputs = [OutputColumn.Vector(outputColumnName, network.Widths[^1])];
    }

    /// <summary>The trained base network with its frozen normalisation.</summary>
    public MetaLearnedFeaturizerModelParameters Network { get; }

    /// <summary>The input column.</summary>
    public string InputColumnName { get; }

    /// <summary>The appended column.</summary>
    public string OutputColumnName { get; }

    /// <summary>Which update rule trained the network: <c>shipped</c> or the rule file's path.</summary>
    public string RuleSource { get; }

    /// <summary>Width of the appended features.</summary>
    public int FeatureCount => Network.Widths[^1];

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
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, Network.Widths[0]]);
        TensorData.CopyTo(Network.Embed(x), batch.Output(0));
    }

    // *** Binary format ***
    // string   input column, output column, rule source
    // int      transform batch size
    // stream "Network.bin": MetaLearnedFeaturizerModelParameters (activation, widths, per layer W, b, mean, scale)
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(MetaLearnedFeaturizerTransformer));
        w.Writer.Write(InputColumnName);
        w.Writer.Write(OutputColumnName);
        w.Writer.Write(RuleSource);
        w.Writer.Write(_batchSize);
        w.SaveBinaryStream(NetworkStream, Network.Write);
    }

    /// <summary>Loads a transformer saved by <see cref="SaveModel"/>; called by <c>ml.Model.Load</c>.</summary>
    public static MetaLearnedFeaturizerTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var input = r.ReadString();
        var output = r.ReadString();
        var ruleSource = r.ReadString();
        int batchSize = r.ReadInt32();
        BinaryFormat.CheckDecode(!string.IsNullOrWhiteSpace(input) && !string.IsNullOrWhiteSpace(output), "column names");
        BinaryFormat.CheckDecode(batchSize > 0, "batch size");
        MetaLearnedFeaturizerModelParameters? network = null;
        BinaryFormat.CheckDecode(reader.TryLoadBinaryStream(NetworkStream, br => network = MetaLearnedFeaturizerModelParameters.Read(br)), $"missing {NetworkStream}");
        return new MetaLearnedFeaturizerTransformer(env, network!, input, output, batchSize, ruleSource);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Network.Dispose();
        base.Dispose(disposing);
    }
}
