using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Trainers;
using Components.Kernels.Nngp;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Components.Trainers.Nngp;

/// <summary>
/// A fitted NNGP Gaussian-process regressor: appends <c>Score</c> (posterior mean, the training label mean added
/// back) and, when variances were kept, <c>Variance</c>: the predictive variance of a new label on the label's scale,
/// σ̂²·(k** − k*ᵀC⁻¹k* + noise) with the output scale σ̂² fitted by maximum likelihood, so that
/// Score ± 2√Variance is a ≈95% predictive interval. Models saved in format 1 load with their old <c>Variance</c>
/// (the latent variance on the kernel's scale). Saved with <c>mlContext.Model.Save</c>: training features, weights,
/// the factor needed for variances and σ̂².
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class NngpRegressionModel : NngpModel
{
    internal const string LoaderSignature = "NngpRegressionModel";
    private static readonly ModelVersion s_version = new("NNGPREGR", 2, 1, LoaderSignature);
    private readonly string _scoreColumn;
    private readonly double _labelMean;

    internal NngpRegressionModel(IHostEnvironment env, NngpModelParameters parameters, string featureColumn, string scoreColumn, string varianceColumn,
        double labelMean, int batchSize, IReadOnlyList<NngpSelectionEntry>? selection)
        : base(env, nameof(NngpRegressionModel), parameters, featureColumn, varianceColumn, PredictionColumns.Regression(scoreColumn), batchSize, selection)
    {
        _scoreColumn = scoreColumn;
        _labelMean = labelMean;
    }

    /// <summary>Mean training label (the GP models the centred labels).</summary>
    public double LabelMean => _labelMean;

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        PredictBatch(batch, meanOutput: 0, varianceOutput: 1, includeNoise: true);
        var score = batch.Output(0);
        for (int i = 0; i < score.Length; i++)
            score[i] = (float)(score[i] + _labelMean);
    }

    // *** Binary format ***
    // string feature column, score column, variance column; int batch size; double label mean; then the NngpModelParameters block
    // (format 2 adds the output scale there).
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(NngpRegressionModel));
        w.Writer.Write(FeatureColumnName);
        w.Writer.Write(_scoreColumn);
        w.Writer.Write(VarianceColumn);
        w.Writer.Write(SavedBatchSize);
        w.Writer.Write(_labelMean);
        Model.Save(w);
    }

    /// <summary>Loads a model written by <see cref="SaveModel"/> (called by <c>mlContext.Model.Load</c>).</summary>
    public static NngpRegressionModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        string features = r.ReadString(), score = r.ReadString(), variance = r.ReadString();
        int batch = r.ReadInt32();
        double mean = r.ReadDouble();
        BinaryFormat.CheckDecode(batch > 0 && double.IsFinite(mean), "header");
        var parameters = NngpModelParameters.Load(reader, r, env, nameof(NngpRegressionModel));
        BinaryFormat.CheckDecode(parameters.Outputs == 1, "output count");
        return new NngpRegressionModel(env, parameters, features, score, variance, mean, batch, null);
    }

}
