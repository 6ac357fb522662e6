using Components.Core.Internal;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Core.Trainers;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>
/// Regression with the NNGP Gaussian process of a deep fully connected network (Lee et al. 2018,
/// arXiv:1711.00165): exact GP regression on the centred labels, posterior mean and predictive variance.
/// Memory O(n²), time O(n²d + n³).
/// </summary>
public sealed class NngpRegressionTrainer : ITrainerEstimator<NngpRegressionModel, NngpModelParameters>
{
    /// <summary>Options of <see cref="NngpRegressionTrainer"/>.</summary>
    public sealed class Options : NngpTrainerOptions
    {
    }

    private readonly IHostEnvironment _env;
    private readonly Options _options;

    internal NngpRegressionTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _env = env;
        _options = options;
    }

    /// <summary>No normalisation needed (rows are layer-normalised inside the kernel by default), no caching (the data are read once), no validation set.</summary>
    public TrainerInfo Info { get; } = MlNetShim.CreateTrainerInfo(normalization: false, caching: false, supportsValidation: false);

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var shape = PredictionColumns.RegressionShape(inputSchema, _options.FeatureColumnName, _options.LabelColumnName, _options.ScoreColumnName);
        return _options.PredictVariance ? SchemaShapes.Append(shape, SchemaShapes.Single(_options.VarianceColumnName)) : shape;
    }

    /// <summary>Loads features and labels, optionally searches hyperparameters, computes the kernel and factorises it.</summary>
    public NngpRegressionModel Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        ColumnRules.CheckVector(input.Schema, "feature", o.FeatureColumnName);
        ColumnRules.CheckSingle(input.Schema, "label", o.LabelColumnName);
        using var ctx = ComponentContext.Create(_env, nameof(NngpRegressionTrainer), o.Seed, o.Device, o.CancellationToken);
        var (x, labels) = DataLoading.LoadFeaturesAndSingle(input, o.FeatureColumnName, o.LabelColumnName, cancellation: o.CancellationToken);
        x.DetachFromDisposeScope();
        labels.DetachFromDisposeScope();
        try
        {
            Tensor y;
            double mean;
            using (labels)
            {
                using var scope = torch.NewDisposeScope();
                var l64 = labels.to(ScalarType.Float64);
                mean = l64.mean().item<double>();
                y = (l64 - mean).unsqueeze(1).to(ctx.Device).DetachFromDisposeScope();
            }
            using (y)
            {
                var (parameters, selection, _, _) = NngpTraining.Fit(ctx, o, x, y, classification: false);
                return new NngpRegressionModel(_env, parameters, o.FeatureColumnName, o.ScoreColumnName, o.VarianceColumnName, mean, o.BatchSize, selection);
            }
        }
        catch
        {
            x.Dispose();
            throw;
        }
    }
}
