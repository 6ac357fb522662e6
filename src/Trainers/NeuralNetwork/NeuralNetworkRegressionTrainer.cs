using Components.Core.Internal;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Core.Trainers;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// Trains a TorchSharp neural network (an MLP or a small CNN) for regression by mini-batch gradient descent on the
/// squared error. Create it with <c>ml.Regression.Trainers.NeuralNetwork(...)</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// | Trainer characteristics | |
/// | -- | -- |
/// | Machine learning task | Regression |
/// | Input columns | `Features`: known-size vector of Single; `Label`: Single |
/// | Output columns | `Score`: Single |
/// | Is normalization required? | Recommended for the features; the label is standardised internally |
/// | Is caching required? | No (the data is read once into a tensor) |
/// | Required NuGet in addition to Microsoft.ML | Components.Trainers, TorchSharp and one native backend (TorchSharp-cpu or -cuda) |
/// | Deterministic | Yes on the CPU for a fixed seed |
///
/// With $\mu, s$ the mean and standard deviation of the training labels, the network $f$ is trained on the mean of
/// $(f(x_i) - (y_i - \mu)/s)^2$ and predicts $\hat y = s\,f(x) + \mu$. Architecture and initialisation
/// ($W \sim \mathcal{N}(0, \sigma_w^2/n_{in})$, $b \sim \mathcal{N}(0, \sigma_b^2)$, as in
/// [arXiv:1711.00165](https://arxiv.org/abs/1711.00165)) are those of <see cref="NeuralNetworkMulticlassTrainer"/>.
/// ]]></format>
/// </remarks>
public sealed partial class NeuralNetworkRegressionTrainer : ITrainerEstimator<NeuralNetworkRegressionModel, NeuralNetworkModelParameters>
{
    internal const string ComponentName = "NeuralNetworkRegressionTrainer";
    private readonly IHostEnvironment _env;
    private readonly Options _options;

    internal NeuralNetworkRegressionTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        NeuralNetworkFitting.Validate(options);
        _env = env;
        _options = options;
    }

    /// <summary>Needs normalized features (recommended), no caching (the data is read once into a tensor), supports a validation set.</summary>
    public TrainerInfo Info { get; } = MlNetShim.CreateTrainerInfo(normalization: true, caching: false, supportsValidation: true);

    /// <summary>Checks the feature and label columns and adds <c>Score</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return PredictionColumns.RegressionShape(inputSchema, _options.FeatureColumnName, _options.LabelColumnName, _options.ScoreColumnName);
    }

    /// <summary>Trains the network on <paramref name="input"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type or size; the validation set does not match.</exception>
    /// <exception cref="InvalidOperationException">The data is empty or holds a NaN/infinite feature or label; training diverged.</exception>
    /// <exception cref="OperationCanceledException">The options' cancellation token was cancelled.</exception>
    /// <exception cref="FileNotFoundException">The learned optimizer's weights file does not exist.</exception>
    /// <exception cref="FormatException">The learned optimizer's weights file is corrupt, truncated or not a weights file.</exception>
    public NeuralNetworkRegressionModel Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        NeuralNetworkFitting.Validate(o);
        int d = ColumnRules.CheckVector(input.Schema, "feature", o.FeatureColumnName);
        ColumnRules.CheckSingle(input.Schema, "label", o.LabelColumnName);
        if (o.ValidationSet is { } vs)
        {
            ColumnRules.CheckVector(vs.Schema, "validation feature", o.FeatureColumnName, d);
            ColumnRules.CheckSingle(vs.Schema, "validation label", o.LabelColumnName);
        }

        using var learnedWeights = NeuralNetworkOptimizers.LoadLearnedWeights(o); // a bad weights file fails before any data is read
        using var ctx = ComponentContext.Create(_env, ComponentName, o.Seed, o.Device, o.CancellationToken);
        Tensor? x = null, y = null, xv = null, yv = null;
        try
        {
            NeuralNetworkFitting.CheckFeatures(input, o, "feature", null);
            (x, y) = DataLoading.LoadFeaturesAndSingle(input, o.FeatureColumnName, o.LabelColumnName, cancellation: ctx.Cancellation);
            if (o.ValidationSet is { } validation)
            {
                NeuralNetworkFitting.CheckFeatures(validation, o, "validation feature", d);
                (xv, yv) = DataLoading.LoadFeaturesAndSingle(validation, o.FeatureColumnName, o.LabelColumnName,
                    "validation feature", "validation label", d, ctx.Cancellation);
            }
            else if (o.ValidationFraction > 0)
            {
                (x, y, xv, yv) = NeuralNetworkFitting.Split(x, y, o.ValidationFraction, ctx.CreateGenerator("validation-split", CPU));
            }

            // Standardise the target with the training rows' statistics (in double precision).
            double mean, scale;
            using (var scope = NewDisposeScope())
            {
                var yd = y.to(ScalarType.Float64);
                mean = yd.mean().item<double>();
                scale = y.shape[0] > 1 ? yd.std().item<double>() : 0;
            }
            if (!(scale > 1e-12) || !double.IsFinite(scale))
                scale = 1;
            Standardize(ref y, mean, scale);
            if (yv is not null)
                Standardize(ref yv, mean, scale);

            var architecture = NeuralNetworkFitting.Architecture(o, d, 1);
            var (module, result) = NeuralNetworkFitting.Train(ctx, o, architecture, classification: false, x, y, xv, yv, scale, learnedWeights);
            var parameters = new NeuralNetworkModelParameters(module, ctx.Device, result.History, result.BestEpoch);
            return new NeuralNetworkRegressionModel(_env, parameters, o.FeatureColumnName, o.ScoreColumnName, mean, scale,
                o.InferenceBatchSize);
        }
        finally
        {
            x?.Dispose();
            y?.Dispose();
            xv?.Dispose();
            yv?.Dispose();
        }
    }

    private static void Standardize(ref Tensor y, double mean, double scale)
    {
        Tensor standardized;
        using (var scope = NewDisposeScope())
            standardized = ((y.to(ScalarType.Float64) - mean) / scale).to(ScalarType.Float32).MoveToOuterDisposeScope();
        y.Dispose();
        y = standardized;
    }
}
