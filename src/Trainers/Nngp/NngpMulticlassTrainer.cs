using System.Globalization;
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
/// Multiclass classification with the NNGP Gaussian process of a deep fully connected network (Lee et al. 2018,
/// arXiv:1711.00165): exact GP regression on targets one-hot − 1/K (the paper's mean-subtracted one-hot labels),
/// prediction = argmax of the posterior means μ, Score = softmax(μ/T) with the temperature T fitted on closed-form
/// leave-one-out means, plus the posterior variance. Memory O(n²), time O(n²d + n³).
/// </summary>
public sealed class NngpMulticlassTrainer : ITrainerEstimator<NngpMulticlassModel, NngpModelParameters>
{
    /// <summary>Options of <see cref="NngpMulticlassTrainer"/>.</summary>
    public sealed class Options : NngpTrainerOptions
    {
        /// <summary>Predicted-label column. Default <c>PredictedLabel</c>.</summary>
        public string PredictedLabelColumnName = PredictionColumns.PredictedLabel;

        /// <summary>Posterior-mean column (Single[K], the GP means of the one-hot − 1/K targets; Score holds their calibrated softmax). Default <c>PosteriorMean</c>.</summary>
        public string PosteriorMeanColumnName = Defaults.PosteriorMeanColumnName;
    }

    private readonly IHostEnvironment _env;
    private readonly Options _options;

    internal NngpMulticlassTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.PredictedLabelColumnName), nameof(options.PredictedLabelColumnName), "Must not be empty.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.PosteriorMeanColumnName), nameof(options.PosteriorMeanColumnName), "Must not be empty.");
        _env = env;
        _options = options;
    }

    /// <summary>No normalisation needed (rows are layer-normalised inside the kernel by default), no caching (the data are read once), no validation set.</summary>
    public TrainerInfo Info { get; } = MlNetShim.CreateTrainerInfo(normalization: false, caching: false, supportsValidation: false);

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var shape = PredictionColumns.MulticlassShape(inputSchema, _options.FeatureColumnName, _options.LabelColumnName, _options.ScoreColumnName, _options.PredictedLabelColumnName);
        shape = SchemaShapes.Append(shape, SchemaShapes.SingleVector(_options.PosteriorMeanColumnName, SchemaShapes.TextVectorAnnotations(AnnotationNames.SlotNames)));
        return _options.PredictVariance ? SchemaShapes.Append(shape, SchemaShapes.Single(_options.VarianceColumnName)) : shape;
    }

    /// <summary>Loads features and labels, optionally searches hyperparameters, computes the kernel and factorises it.</summary>
    public NngpMulticlassModel Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        ColumnRules.CheckVector(input.Schema, "feature", o.FeatureColumnName);
        ColumnRules.CheckKey(input.Schema, "label", o.LabelColumnName);
        using var ctx = ComponentContext.Create(_env, nameof(NngpMulticlassTrainer), o.Seed, o.Device, o.CancellationToken);
        var (x, labels, names) = DataLoading.LoadFeaturesAndKeyLabels(input, o.FeatureColumnName, o.LabelColumnName, cancellation: o.CancellationToken);
        x.DetachFromDisposeScope();
        labels.DetachFromDisposeScope();
        try
        {
            Tensor y;
            using (labels)
            {
                using var scope = torch.NewDisposeScope();
                int k = names.Length;
                y = (torch.nn.functional.one_hot(labels, k).to(ScalarType.Float64) - 1.0 / k).to(ctx.Device).DetachFromDisposeScope();
            }
            using (y)
            {
                var (parameters, selection, loo, looRows) = NngpTraining.Fit(ctx, o, x, y, classification: true);
                double beta;
                using (loo)
                using (var scope = torch.NewDisposeScope())
                {
                    var looLabels = y.cpu().argmax(1).index_select(0, torch.tensor(looRows!)).data<long>().Select(v => (int)v).ToArray();
                    var means = TensorData.ToDoubleArray(loo!.contiguous().view(-1));
                    beta = NngpCalibration.FitInverseTemperature(means, looLabels, names.Length);
                    ctx.Info(string.Create(CultureInfo.InvariantCulture,
                        $"Temperature {1 / beta:G4} from {looLabels.Length} leave-one-out means: log-loss {NngpCalibration.LogLoss(means, looLabels, names.Length, beta):F4} (softmax of the means: {NngpCalibration.LogLoss(means, looLabels, names.Length, 1):F4}; uniform: {Math.Log(names.Length):F4})."));
                }
                return new NngpMulticlassModel(_env, parameters, o.FeatureColumnName, o.ScoreColumnName, o.PredictedLabelColumnName,
                    o.PosteriorMeanColumnName, o.VarianceColumnName, names, beta, o.BatchSize, selection);
            }
        }
        catch
        {
            x.Dispose();
            throw;
        }
    }
}
