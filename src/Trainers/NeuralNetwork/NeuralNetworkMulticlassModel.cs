using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Tensors;
using Components.Core.Trainers;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// A trained multiclass network: appends <c>Score</c> (Single[K], the softmax class probabilities, with the class
/// names as slot names) and <c>PredictedLabel</c> (key of the most probable class, with the class names as key values),
/// so <c>Evaluate</c>, <c>MapKeyToValue</c> and PredictionEngine work. Saved and loaded with <c>ml.Model.Save/Load</c>
/// (after <c>ml.RegisterComponents()</c>).
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class NeuralNetworkMulticlassModel : NeuralNetworkModel
{
    // At most 24 characters (ML.NET model header).
    internal const string LoaderSignature = "NeuralNetworkMulticlass";
    private static readonly ModelVersion s_version = new("NNMCLASS", 1, 1, LoaderSignature);
    private readonly string[] _classNames;

    internal NeuralNetworkMulticlassModel(IHostEnvironment env, NeuralNetworkModelParameters parameters, string featureColumnName,
        string scoreColumnName, string predictedLabelColumnName, IReadOnlyList<string> classNames, int inferenceBatchSize)
        : base(env, LoaderSignature, parameters, featureColumnName, scoreColumnName, inferenceBatchSize)
    {
        _classNames = [.. classNames];
        PredictedLabelColumnName = predictedLabelColumnName;
        Outputs = PredictionColumns.Multiclass(_classNames, scoreColumnName, predictedLabelColumnName);
    }

    /// <summary>The class names (key values of the training label), in score-slot order.</summary>
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <summary>The predicted-label column the model appends.</summary>
    public string PredictedLabelColumnName { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var probabilities = nn.functional.softmax(Forward(batch), 1);
        TensorData.CopyTo(probabilities, batch.Output(0));
        PredictionColumns.ArgMaxKeys(batch.Output(0), _classNames.Length, batch.Output(1));
    }

    // *** Binary format ***
    // shared prefix: see NeuralNetworkModelState.Write
    // string: predicted-label column name
    // string[]: class names (length-prefixed; must equal the architecture's output size)
    // stream "TSModel": module state
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(NeuralNetworkMulticlassModel));
        CommonState.Write(w.Writer);
        w.Writer.Write(PredictedLabelColumnName);
        w.Writer.WriteStrings(_classNames);
        Model.Owner.Save(w);
    }

    /// <summary>Loads a model saved by <see cref="SaveModel"/>; called by <c>ml.Model.Load</c>.</summary>
    public static NeuralNetworkMulticlassModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var state = NeuralNetworkModelState.Read(r);
        var predicted = r.ReadString();
        var names = r.ReadStrings(maxLength: 1 << 20);
        BinaryFormat.CheckDecode(names.Length == state.Architecture.OutputSize, "class names do not match the output layer");
        var parameters = NeuralNetworkModelState.LoadParameters(env, reader, state);
        return new NeuralNetworkMulticlassModel(env, parameters, state.FeatureColumnName, state.ScoreColumnName, predicted, names,
            state.InferenceBatchSize);
    }
}
