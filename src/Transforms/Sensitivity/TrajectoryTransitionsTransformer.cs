using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Persistence;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Transforms.Sensitivity;

/// <summary>
/// Appends per row the ReLU transitions along the closed trajectory through the row's anchor points (a Single count).
/// Owns its copy of the network; safe on several threads; saved and loaded with <c>ml.Model.Save/Load</c>.
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class TrajectoryTransitionsTransformer : AppendColumnsTransformer
{
    // At most 24 characters (ML.NET model header).
    internal const string LoaderSignature = "TrajectoryTransitions";
    private static readonly ModelVersion s_version = new("NNTRANSI", 1, 1, LoaderSignature);
    private readonly int _batchSize;
    private readonly TorchModuleOwner<NeuralNetworkModule> _owner;

    internal TrajectoryTransitionsTransformer(IHostEnvironment env, TorchModuleOwner<NeuralNetworkModule> owner, string inputColumnName,
        string outputColumnName, int anchorCount, int points, int batchSize)
        : base(env, LoaderSignature)
    {
        _owner = owner;
        InputColumnName = inputColumnName;
        OutputColumnName = outputColumnName;
        AnchorCount = anchorCount;
        Points = points;
        _batchSize = batchSize;
        Inputs = [new InputColumn(inputColumnName, anchorCount * owner.Module.Architecture.InputSize, "anchor points")];
        Outputs = [OutputColumn.Scalar(outputColumnName)];
    }

    /// <summary>The network's architecture.</summary>
    public NeuralNetworkArchitecture Architecture => _owner.Module.Architecture;

    /// <summary>The anchor-points column.</summary>
    public string InputColumnName { get; }

    /// <summary>The transitions column.</summary>
    public string OutputColumnName { get; }

    /// <summary>Anchor points per row.</summary>
    public int AnchorCount { get; }

    /// <summary>Points sampled per trajectory.</summary>
    public int Points { get; }

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
        int d = Architecture.InputSize;
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, AnchorCount, d], _owner.Device);
        var counts = _owner.Run(m => TrajectoryTransitions.CountBatched(m, x, Points));
        TensorData.CopyTo(counts.to(ScalarType.Float32), batch.Output(0));
    }

    // *** Binary format ***
    // shared prefix: see NeuralNetworkModelState.Write (score column empty, no history)
    // string[]: output column
    // int[]: anchor count, points
    // stream "TSModel": module state
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(TrajectoryTransitionsTransformer));
        new NeuralNetworkModelState(InputColumnName, "", _batchSize, Architecture, [], 0).Write(w.Writer);
        w.Writer.WriteStrings([OutputColumnName]);
        w.Writer.WriteInts([AnchorCount, Points]);
        _owner.Save(w);
    }

    /// <summary>Loads a transformer saved by <see cref="SaveModel"/>; called by <c>ml.Model.Load</c>.</summary>
    public static TrajectoryTransitionsTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var state = NeuralNetworkModelState.Read(r);
        var names = r.ReadStrings(maxLength: 1);
        var ints = r.ReadInts(maxLength: 2);
        try
        {
            if (names.Length != 1 || ints.Length != 2)
                throw new ArgumentException("Expected 1 column name and 2 sizes.");
            TrajectoryTransitionsEstimator.Validate(state.FeatureColumnName, names[0], ints[0], ints[1], state.InferenceBatchSize);
            TrajectoryTransitions.CheckReluMlp(state.Architecture, "architecture");
        }
        catch (ArgumentException ex)
        {
            throw new FormatException("Corrupt model file: " + ex.Message, ex);
        }
        var owner = NeuralNetworkModelState.LoadModule(env, reader, state.Architecture);
        return new TrajectoryTransitionsTransformer(env, owner, state.FeatureColumnName, names[0], ints[0], ints[1], state.InferenceBatchSize);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _owner.Dispose();
        base.Dispose(disposing);
    }
}
