using Components.Core.Mapping;
using Components.Core.Trainers;
using Microsoft.ML.Runtime;

namespace Components.Trainers.Nngp;

/// <summary>
/// What the fitted NNGP classifier and regressor share: the GP state they own as their typed
/// <see cref="SingleFeaturePredictionTransformer{TModel}.Model"/> (<see cref="NngpModelParameters"/>: hyperparameters,
/// training set factorisation, output scale), the feature input, the task's outputs plus an optional <c>Variance</c>
/// column, and the results of the hyperparameter search.
/// </summary>
public abstract class NngpModel : SingleFeaturePredictionTransformer<NngpModelParameters>
{
    private readonly int _batchSize;

    private protected NngpModel(IHostEnvironment env, string name, NngpModelParameters parameters, string featureColumn, string varianceColumn,
        IEnumerable<OutputColumn> taskOutputs, int batchSize, IReadOnlyList<NngpSelectionEntry>? selection)
        : base(env, name, parameters, featureColumn, parameters.Features)
    {
        VarianceColumn = varianceColumn;
        _batchSize = batchSize;
        SelectionResults = selection ?? [];
        var outputs = taskOutputs.ToList();
        if (parameters.HasVariance)
            outputs.Add(OutputColumn.Scalar(varianceColumn));
        Outputs = outputs;
    }

    private protected string VarianceColumn { get; }

    private protected int SavedBatchSize => _batchSize;

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _batchSize;

    /// <summary>Every candidate evaluated by the hyperparameter search (empty without search; not saved).</summary>
    public IReadOnlyList<NngpSelectionEntry> SelectionResults { get; }

    /// <summary>Runs the GP on a batch: posterior means into <paramref name="meanOutput"/>, variances (when kept) into <paramref name="varianceOutput"/>.</summary>
    private protected void PredictBatch(BatchData batch, int meanOutput, int varianceOutput, bool includeNoise)
        => Model.Predict(batch.Input(0), batch.Rows, batch.Output(meanOutput),
            Model.HasVariance ? batch.Output(varianceOutput) : Span<float>.Empty, includeNoise);
}
