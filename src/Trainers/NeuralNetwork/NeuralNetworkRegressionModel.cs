using System.Globalization;
using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Tensors;
using Components.Core.Trainers;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// A trained regression network: appends <c>Score</c> (Single), the network's output mapped back to label units
/// (output × <see cref="TargetScale"/> + <see cref="TargetMean"/>), so <c>ml.Regression.Evaluate</c> works. Saved and
/// loaded with <c>ml.Model.Save/Load</c> (after <c>ml.RegisterComponents()</c>).
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class NeuralNetworkRegressionModel : NeuralNetworkModel
{
    // At most 24 characters (ML.NET model header).
    internal const string LoaderSignature = "NeuralNetworkRegression";
    private static readonly ModelVersion s_version = new("NNREGRES", 1, 1, LoaderSignature);

    internal NeuralNetworkRegressionModel(IHostEnvironment env, NeuralNetworkModelParameters parameters, string featureColumnName,
        string scoreColumnName, double targetMean, double targetScale, int inferenceBatchSize)
        : base(env, LoaderSignature, parameters, featureColumnName, scoreColumnName, inferenceBatchSize)
    {
        TargetMean = targetMean;
        TargetScale = targetScale;
        Outputs = PredictionColumns.Regression(scoreColumnName);
    }

    /// <summary>Mean of the training labels (the network is trained on (label − mean) / scale).</summary>
    public double TargetMean { get; }

    /// <summary>Standard deviation of the training labels (1 when they are constant).</summary>
    public double TargetScale { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var output = Forward(batch).view(-1).to(ScalarType.Float64).mul(TargetScale).add(TargetMean);
        TensorData.CopyTo(output, batch.Output(0));
    }

    // *** Binary format ***
    // shared prefix: see NeuralNetworkModelState.Write
    // double: target mean
    // double: target scale (positive)
    // stream "TSModel": module state
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(NeuralNetworkRegressionModel));
        CommonState.Write(w.Writer);
        w.Writer.Write(TargetMean);
        w.Writer.Write(TargetScale);
        Model.Owner.Save(w);
    }

    /// <summary>Loads a model saved by <see cref="SaveModel"/>; called by <c>ml.Model.Load</c>.</summary>
    public static NeuralNetworkRegressionModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var state = NeuralNetworkModelState.Read(r);
        double mean = r.ReadDouble(), scale = r.ReadDouble();
        BinaryFormat.CheckDecode(double.IsFinite(mean) && scale > 0 && double.IsFinite(scale),
            string.Create(CultureInfo.InvariantCulture, $"target mean {mean} / scale {scale}"));
        BinaryFormat.CheckDecode(state.Architecture.OutputSize == 1, "a regression network has one output");
        var parameters = NeuralNetworkModelState.LoadParameters(env, reader, state);
        return new NeuralNetworkRegressionModel(env, parameters, state.FeatureColumnName, state.ScoreColumnName, mean, scale,
            state.InferenceBatchSize);
    }
}
