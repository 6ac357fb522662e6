using Components.Core.Mapping;
using Components.Kernels.Nngp;
using Microsoft.ML.Runtime;

namespace Components.Trainers.Nngp;

/// <summary>
/// What the fitted NNGP classifier and regressor share: the GP predictor they own, the feature input, the task's
/// outputs plus an optional <c>Variance</c> column, and the fitted hyperparameters.
/// </summary>
public abstract class NngpModel : AppendColumnsTransformer
{
    private readonly int _batchSize;

    private protected NngpModel(IHostEnvironment env, string name, NngpPredictor predictor, string featureColumn, string varianceColumn,
        IEnumerable<OutputColumn> taskOutputs, int batchSize, IReadOnlyList<NngpSelectionEntry>? selection)
        : base(env, name)
    {
        Predictor = predictor;
        FeatureColumn = featureColumn;
        VarianceColumn = varianceColumn;
        _batchSize = batchSize;
        SelectionResults = selection ?? [];
        Inputs = [new InputColumn(featureColumn, predictor.Features, "feature")];
        var outputs = taskOutputs.ToList();
        if (predictor.HasVariance)
            outputs.Add(OutputColumn.Scalar(varianceColumn));
        Outputs = outputs;
    }

    private protected NngpPredictor Predictor { get; }

    private protected string FeatureColumn { get; }

    private protected string VarianceColumn { get; }

    private protected int SavedBatchSize => _batchSize;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _batchSize;

    /// <summary>The architecture used (the selected one after a search).</summary>
    public NngpArchitecture Architecture => Predictor.Architecture;

    /// <summary>NNGP kernel or NTK.</summary>
    public NngpKernelKind Kernel => Predictor.KernelKind;

    /// <summary>Trace-scaled regulariser used (the selected one after a search).</summary>
    public double Regularizer => Predictor.Regularizer;

    /// <summary>Relative jitter of the successful Cholesky factorisation (NaN for the eigendecomposition fallback).</summary>
    public double Jitter => Predictor.Posterior.Jitter;

    /// <summary>How the training kernel was factorised.</summary>
    public NngpFactorKind FactorKind => Predictor.Posterior.Kind;

    /// <summary>Number of training rows the GP conditions on.</summary>
    public int TrainingRows => Predictor.Rows;

    /// <summary>Every candidate evaluated by the hyperparameter search (empty without search; not saved).</summary>
    public IReadOnlyList<NngpSelectionEntry> SelectionResults { get; }

    /// <summary>
    /// Fitted output scale σ̂² = tr(YᵀC⁻¹Y)/(nk) of the (centred or one-hot − 1/K) targets, the factor that puts the
    /// variances on the targets' scale; NaN for a model saved in format 1 (variances on the kernel's scale).
    /// </summary>
    public double OutputScale => Predictor.OutputScale;

    /// <summary>Observation-noise variance the GP assumed, (ε + jitter)·tr(K)/n, in kernel units (times <see cref="OutputScale"/> on the targets' scale).</summary>
    public double NoiseVariance => Predictor.Noise;

    /// <summary>Runs the GP on a batch: posterior means into <paramref name="meanOutput"/>, variances (when kept) into <paramref name="varianceOutput"/>.</summary>
    private protected void PredictBatch(BatchData batch, int meanOutput, int varianceOutput, bool includeNoise)
        => Predictor.Predict(batch.Input(0), batch.Rows, batch.Output(meanOutput),
            Predictor.HasVariance ? batch.Output(varianceOutput) : Span<float>.Empty, includeNoise);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Predictor.Dispose();
}
