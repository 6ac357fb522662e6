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
public sealed class NngpMulticlassModel : AppendColumnsTransformer
{
    internal const string LoaderSignature = "NngpMulticlassModel";
    private static readonly ModelVersion s_version = new("NNGPMCLS", 1, 1, LoaderSignature);
    private readonly NngpPredictor _predictor;
    private readonly string _featureColumn, _scoreColumn, _predictedColumn, _varianceColumn;
    private readonly string[] _classNames;
    private readonly int _batchSize;

    internal NngpMulticlassModel(IHostEnvironment env, NngpPredictor predictor, string featureColumn, string scoreColumn, string predictedColumn,
        string varianceColumn, string[] classNames, int batchSize, IReadOnlyList<NngpSelectionEntry>? selection)
        : base(env, nameof(NngpMulticlassModel))
    {
        _predictor = predictor;
        _featureColumn = featureColumn;
        _scoreColumn = scoreColumn;
        _predictedColumn = predictedColumn;
        _varianceColumn = varianceColumn;
        _classNames = classNames;
        _batchSize = batchSize;
        SelectionResults = selection ?? [];
        Inputs = [new InputColumn(featureColumn, predictor.Features, "feature")];
        var outputs = PredictionColumns.Multiclass(classNames, scoreColumn, predictedColumn).ToList();
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

    /// <summary>Trace-scaled regulariser used (the selected one after a search).</summary>
    public double Regularizer => _predictor.Regularizer;

    /// <summary>Relative jitter of the successful Cholesky factorisation (NaN for the eigendecomposition fallback).</summary>
    public double Jitter => _predictor.Posterior.Jitter;

    /// <summary>How the training kernel was factorised.</summary>
    public NngpFactorKind FactorKind => _predictor.Posterior.Kind;

    /// <summary>Number of training rows the GP conditions on.</summary>
    public int TrainingRows => _predictor.Rows;

    /// <summary>Class names, in score order.</summary>
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <summary>Every candidate evaluated by the hyperparameter search (empty without search; not saved).</summary>
    public IReadOnlyList<NngpSelectionEntry> SelectionResults { get; }

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        var scores = batch.Output(0);
        _predictor.Predict(batch.Input(0), batch.Rows, scores, _predictor.HasVariance ? batch.Output(2) : Span<float>.Empty);
        PredictionColumns.ArgMaxKeys(scores, _classNames.Length, batch.Output(1));
    }

    // *** Binary format ***
    // string feature column, score column, predicted-label column, variance column; int batch size; string[] class names
    // then the NngpPredictor block.
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(NngpMulticlassModel));
        w.Writer.Write(_featureColumn);
        w.Writer.Write(_scoreColumn);
        w.Writer.Write(_predictedColumn);
        w.Writer.Write(_varianceColumn);
        w.Writer.Write(_batchSize);
        w.Writer.WriteStrings(_classNames);
        _predictor.Save(w);
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

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => _predictor.Dispose();
}
