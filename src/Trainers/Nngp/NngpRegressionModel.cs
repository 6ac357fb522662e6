using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Trainers;
using Components.Kernels.Nngp;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Components.Trainers.Nngp;

/// <summary>
/// A fitted NNGP Gaussian-process regressor: appends <c>Score</c> (posterior mean, the training label mean added
/// back) and, when variances were kept, <c>Variance</c> (posterior variance of the latent function). Saved with
/// <c>mlContext.Model.Save</c>: training features, weights and the factor needed for variances.
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class NngpRegressionModel : AppendColumnsTransformer
{
    internal const string LoaderSignature = "NngpRegressionModel";
    private static readonly ModelVersion s_version = new("NNGPREGR", 1, 1, LoaderSignature);
    private readonly NngpPredictor _predictor;
    private readonly string _featureColumn, _scoreColumn, _varianceColumn;
    private readonly double _labelMean;
    private readonly int _batchSize;

    internal NngpRegressionModel(IHostEnvironment env, NngpPredictor predictor, string featureColumn, string scoreColumn, string varianceColumn,
        double labelMean, int batchSize, IReadOnlyList<NngpSelectionEntry>? selection)
        : base(env, nameof(NngpRegressionModel))
    {
        _predictor = predictor;
        _featureColumn = featureColumn;
        _scoreColumn = scoreColumn;
        _varianceColumn = varianceColumn;
        _labelMean = labelMean;
        _batchSize = batchSize;
        SelectionResults = selection ?? [];
        Inputs = [new InputColumn(featureColumn, predictor.Features, "feature")];
        var outputs = PredictionColumns.Regression(scoreColumn).ToList();
        if (predictor.HasVariance)
            outputs.Add(OutputColumn.Scalar(varianceColumn));
        Outputs = outputs;
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _batchSize;

    /// <summary>The architecture used (the selected one after a search).</summary>
    public NngpArchitecture Architecture => _predictor.Architecture;

    /// <summary>NNGP kernel or NTK.</summary>
    public NngpKernelKind Kernel => _predictor.KernelKind;

    /// <summary>Trace-scaled regulariser used.</summary>
    public double Regularizer => _predictor.Regularizer;

    /// <summary>Relative jitter of the successful Cholesky factorisation (NaN for the eigendecomposition fallback).</summary>
    public double Jitter => _predictor.Posterior.Jitter;

    /// <summary>How the training kernel was factorised.</summary>
    public NngpFactorKind FactorKind => _predictor.Posterior.Kind;

    /// <summary>Number of training rows the GP conditions on.</summary>
    public int TrainingRows => _predictor.Rows;

    /// <summary>Mean training label (the GP models the centred labels).</summary>
    public double LabelMean => _labelMean;

    /// <summary>Every candidate evaluated by the hyperparameter search (empty without search; not saved).</summary>
    public IReadOnlyList<NngpSelectionEntry> SelectionResults { get; }

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        var score = batch.Output(0);
        _predictor.Predict(batch.Input(0), batch.Rows, score, _predictor.HasVariance ? batch.Output(1) : Span<float>.Empty);
        for (int i = 0; i < score.Length; i++)
            score[i] = (float)(score[i] + _labelMean);
    }

    // *** Binary format ***
    // string feature column, score column, variance column; int batch size; double label mean; then the NngpPredictor block.
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(NngpRegressionModel));
        w.Writer.Write(_featureColumn);
        w.Writer.Write(_scoreColumn);
        w.Writer.Write(_varianceColumn);
        w.Writer.Write(_batchSize);
        w.Writer.Write(_labelMean);
        _predictor.Save(w);
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
        var predictor = NngpPredictor.Load(reader, r, env, nameof(NngpRegressionModel));
        BinaryFormat.CheckDecode(predictor.Outputs == 1, "output count");
        return new NngpRegressionModel(env, predictor, features, score, variance, mean, batch, null);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => _predictor.Dispose();
}
