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
/// Trains a TorchSharp neural network (an MLP or a small CNN) for multiclass classification by mini-batch gradient
/// descent on the softmax cross-entropy. Create it with <c>ml.MulticlassClassification.Trainers.NeuralNetwork(...)</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// | Trainer characteristics | |
/// | -- | -- |
/// | Machine learning task | Multiclass classification |
/// | Input columns | `Features`: known-size vector of Single; `Label`: key |
/// | Output columns | `Score`: vector of Single (class probabilities, class names as slot names); `PredictedLabel`: key |
/// | Is normalization required? | Recommended (features of order 1; Fashion-MNIST pixels in [0, 1] are fine) |
/// | Is caching required? | No (the data is read once into a tensor) |
/// | Required NuGet in addition to Microsoft.ML | Components.Trainers, TorchSharp and one native backend (TorchSharp-cpu or -cuda) |
/// | Deterministic | Yes on the CPU for a fixed seed |
///
/// The network computes $h^0 = x$, $h^{l} = \phi(W^{l} h^{l-1} + b^{l})$ for the hidden layers and logits
/// $z = W^{L} h^{L-1} + b^{L}$; the score is $\mathrm{softmax}(z)$ and the loss the mean cross-entropy
/// $-\frac{1}{B}\sum_i \log \mathrm{softmax}(z_i)_{y_i}$. Weights start as $W_{jk} \sim \mathcal{N}(0, \sigma_w^2 / n_{in})$ and biases
/// as $b_j \sim \mathcal{N}(0, \sigma_b^2)$, the convention of Lee et al., "Deep Neural Networks as Gaussian Processes"
/// ([arXiv:1711.00165](https://arxiv.org/abs/1711.00165)).
/// ]]></format>
/// </remarks>
public sealed partial class NeuralNetworkMulticlassTrainer : ITrainerEstimator<NeuralNetworkMulticlassModel, NeuralNetworkModelParameters>
{
    internal const string ComponentName = "NeuralNetworkMulticlassTrainer";
    private readonly IHostEnvironment _env;
    private readonly Options _options;

    internal NeuralNetworkMulticlassTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        NeuralNetworkFitting.Validate(options);
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.PredictedLabelColumnName), nameof(options.PredictedLabelColumnName), "Must be a column name.");
        _env = env;
        _options = options;
    }

    /// <summary>Needs normalized features (recommended), no caching (the data is read once into a tensor), supports a validation set.</summary>
    public TrainerInfo Info { get; } = MlNetShim.CreateTrainerInfo(normalization: true, caching: false, supportsValidation: true);

    /// <summary>Checks the feature and label columns and adds <c>Score</c> and <c>PredictedLabel</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return PredictionColumns.MulticlassShape(inputSchema, _options.FeatureColumnName, _options.LabelColumnName,
            _options.ScoreColumnName, _options.PredictedLabelColumnName);
    }

    /// <summary>Trains the network on <paramref name="input"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type or size; the validation set does not match.</exception>
    /// <exception cref="InvalidOperationException">The data is empty or holds a NaN/infinite feature or a missing label; training diverged.</exception>
    /// <exception cref="OperationCanceledException">The options' cancellation token was cancelled.</exception>
    /// <exception cref="FileNotFoundException">The learned optimizer's weights file does not exist.</exception>
    /// <exception cref="FormatException">The learned optimizer's weights file is corrupt, truncated or not a weights file.</exception>
    public NeuralNetworkMulticlassModel Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        NeuralNetworkFitting.Validate(o);
        int d = ColumnRules.CheckVector(input.Schema, "feature", o.FeatureColumnName);
        int k = ColumnRules.CheckKey(input.Schema, "label", o.LabelColumnName);
        if (o.ValidationSet is { } vs)
        {
            ColumnRules.CheckVector(vs.Schema, "validation feature", o.FeatureColumnName, d);
            int kv = ColumnRules.CheckKey(vs.Schema, "validation label", o.LabelColumnName);
            if (kv != k)
                throw Guard.ExceptSchemaMismatch("validation label", o.LabelColumnName, $"key with {k} classes like the training label", $"key with {kv} classes");
        }

        using var learnedWeights = NeuralNetworkOptimizers.LoadLearnedWeights(o); // a bad weights file fails before any data is read
        using var ctx = ComponentContext.Create(_env, ComponentName, o.Seed, o.Device, o.CancellationToken);
        Tensor? x = null, y = null, xv = null, yv = null;
        try
        {
            NeuralNetworkFitting.CheckFeatures(input, o, "feature", null);
            (x, y, var classNames) = DataLoading.LoadFeaturesAndKeyLabels(input, o.FeatureColumnName, o.LabelColumnName, cancellation: ctx.Cancellation);
            if (o.ValidationSet is { } validation)
            {
                NeuralNetworkFitting.CheckFeatures(validation, o, "validation feature", d);
                (xv, yv, _) = DataLoading.LoadFeaturesAndKeyLabels(validation, o.FeatureColumnName, o.LabelColumnName,
                    "validation feature", "validation label", d, ctx.Cancellation);
            }
            else if (o.ValidationFraction > 0)
            {
                (x, y, xv, yv) = NeuralNetworkFitting.Split(x, y, o.ValidationFraction, ctx.CreateGenerator("validation-split", CPU));
            }
            var architecture = NeuralNetworkFitting.Architecture(o, d, k);
            var (module, result) = NeuralNetworkFitting.Train(ctx, o, architecture, classification: true, x, y, xv, yv, targetScale: 1, learnedWeights);
            var parameters = new NeuralNetworkModelParameters(module, ctx.Device, result.History, result.BestEpoch);
            return new NeuralNetworkMulticlassModel(_env, parameters, o.FeatureColumnName, o.ScoreColumnName, o.PredictedLabelColumnName,
                classNames, o.InferenceBatchSize);
        }
        finally
        {
            x?.Dispose();
            y?.Dispose();
            xv?.Dispose();
            yv?.Dispose();
        }
    }
}
