using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Trainers;
using Components.Kernels.Nngp;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Components.Trainers.Nngp;

/// <summary>
/// A fitted NNGP Gaussian-process classifier: appends <c>Score</c> (the posterior means of the one-hot − 1/K targets,
/// one per class; not probabilities), <c>PredictedLabel</c> (their argmax, as a key with the class names) and, when
/// variances were kept, <c>Variance</c> (the posterior variance of the latent function, shared by all classes).
/// Saved with <c>mlContext.Model.Save</c>: training features, weights and the factor needed for variances.
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class NngpMulticlassModel : NngpModel
{
    internal const string LoaderSignature = "NngpMulticlassModel";
    private static readonly ModelVersion s_version = new("NNGPMCLS", 1, 1, LoaderSignature);
    private readonly string _scoreColumn, _predictedColumn;
    private readonly string[] _classNames;

    internal NngpMulticlassModel(IHostEnvironment env, NngpPredictor predictor, string featureColumn, string scoreColumn, string predictedColumn,
        string varianceColumn, string[] classNames, int batchSize, IReadOnlyList<NngpSelectionEntry>? selection)
        : base(env, nameof(NngpMulticlassModel), predictor, featureColumn, varianceColumn,
            PredictionColumns.Multiclass(classNames, scoreColumn, predictedColumn), batchSize, selection)
    {
        _scoreColumn = scoreColumn;
        _predictedColumn = predictedColumn;
        _classNames = classNames;
    }

    /// <summary>Class names, in score order.</summary>
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        PredictBatch(batch, varianceOutput: 2);
        PredictionColumns.ArgMaxKeys(batch.Output(0), _classNames.Length, batch.Output(1));
    }

    // *** Binary format ***
    // string feature column, score column, predicted-label column, variance column; int batch size; string[] class names
    // then the NngpPredictor block.
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(NngpMulticlassModel));
        w.Writer.Write(FeatureColumn);
        w.Writer.Write(_scoreColumn);
        w.Writer.Write(_predictedColumn);
        w.Writer.Write(VarianceColumn);
        w.Writer.Write(SavedBatchSize);
        w.Writer.WriteStrings(_classNames);
        Predictor.Save(w);
    }

    /// <summary>Loads a model written by <see cref="SaveModel"/> (called by <c>mlContext.Model.Load</c>).</summary>
    public static NngpMulticlassModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        string features = r.ReadString(), score = r.ReadString(), predicted = r.ReadString(), variance = r.ReadString();
        int batch = r.ReadInt32();
        var names = r.ReadStrings(1 << 20);
        BinaryFormat.CheckDecode(batch > 0 && names.Length > 0, "header");
        var predictor = NngpPredictor.Load(reader, r, env, nameof(NngpMulticlassModel));
        BinaryFormat.CheckDecode(predictor.Outputs == names.Length, "class count");
        return new NngpMulticlassModel(env, predictor, features, score, predicted, variance, names, batch, null);
    }

}
