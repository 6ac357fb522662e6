using Components.Core.Runtime;
using Microsoft.ML;
using static Components.Trainers.NeuralNetwork.NeuralNetworkOptions;

namespace Components.Trainers.NeuralNetwork;

/// <summary>Entry points of the neural-network trainers on ML.NET's trainer catalogs.</summary>
public static class NeuralNetworkCatalog
{
    /// <summary>
    /// A TorchSharp MLP classifier: <paramref name="hiddenLayerWidths"/> fully connected hidden layers with
    /// <paramref name="activation"/>, trained with Adam on the cross-entropy. Use the options overload for the CNN,
    /// other optimizers, validation and early stopping, device and cancellation.
    /// </summary>
    /// <param name="catalog">The multiclass trainer catalog (<c>ml.MulticlassClassification.Trainers</c>).</param>
    /// <param name="labelColumnName">Label column: a key (use <c>MapValueToKey</c>).</param>
    /// <param name="featureColumnName">Feature column: a known-size vector of Single.</param>
    /// <param name="hiddenLayerWidths">Widths of the hidden layers, each positive; null means <c>[128]</c>.</param>
    /// <param name="activation">Nonlinearity after each hidden layer.</param>
    /// <param name="numberOfEpochs">Passes over the training data, positive.</param>
    /// <param name="batchSize">Examples per mini-batch, positive.</param>
    /// <param name="learningRate">Adam's learning rate, positive.</param>
    /// <param name="seed">Seed of the initial weights and the shuffling; null takes one from the MLContext.</param>
    /// <example>
    /// <code>
    /// var pipeline = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [256, 128], numberOfEpochs: 5, seed: 1)
    ///     .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
    /// </code>
    /// See docs/samples/scripts/NeuralNetwork.cs for a complete program.
    /// </example>
    public static NeuralNetworkMulticlassTrainer NeuralNetwork(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = Defaults.LabelColumnName, string featureColumnName = Defaults.FeatureColumnName, int[]? hiddenLayerWidths = null,
        NeuralNetworkActivation activation = Defaults.Activation, int numberOfEpochs = Defaults.NumberOfEpochs, int batchSize = Defaults.BatchSize,
        double learningRate = Defaults.LearningRate, int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NeuralNetworkMulticlassTrainer(CatalogEnvironment.Get(catalog), new NeuralNetworkMulticlassTrainer.Options
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            HiddenLayerWidths = hiddenLayerWidths ?? Defaults.HiddenLayerWidths(),
            Activation = activation,
            NumberOfEpochs = numberOfEpochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
            Seed = seed,
        });
    }

    /// <summary>A TorchSharp neural-network classifier (MLP or CNN) with every option.</summary>
    /// <param name="catalog">The multiclass trainer catalog (<c>ml.MulticlassClassification.Trainers</c>).</param>
    /// <param name="options">The options; see <see cref="NeuralNetworkMulticlassTrainer.Options"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named in the message).</exception>
    /// <example>
    /// <code>
    /// var trainer = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
    /// {
    ///     Architecture = NeuralNetworkArchitectureKind.Cnn,
    ///     Optimizer = NeuralNetworkOptimizerKind.Momentum, LearningRate = 0.05,
    ///     ValidationFraction = 0.1, EarlyStoppingPatience = 3, NumberOfEpochs = 20, Seed = 1,
    /// });
    /// </code>
    /// </example>
    public static NeuralNetworkMulticlassTrainer NeuralNetwork(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        NeuralNetworkMulticlassTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NeuralNetworkMulticlassTrainer(CatalogEnvironment.Get(catalog), options);
    }

    /// <summary>
    /// A TorchSharp MLP regressor: <paramref name="hiddenLayerWidths"/> fully connected hidden layers with
    /// <paramref name="activation"/>, trained with Adam on the squared error of the standardised label. Use the options
    /// overload for the CNN, other optimizers, validation and early stopping, device and cancellation.
    /// </summary>
    /// <param name="catalog">The regression trainer catalog (<c>ml.Regression.Trainers</c>).</param>
    /// <param name="labelColumnName">Label column: Single.</param>
    /// <param name="featureColumnName">Feature column: a known-size vector of Single.</param>
    /// <param name="hiddenLayerWidths">Widths of the hidden layers, each positive; null means <c>[128]</c>.</param>
    /// <param name="activation">Nonlinearity after each hidden layer.</param>
    /// <param name="numberOfEpochs">Passes over the training data, positive.</param>
    /// <param name="batchSize">Examples per mini-batch, positive.</param>
    /// <param name="learningRate">Adam's learning rate, positive.</param>
    /// <param name="seed">Seed of the initial weights and the shuffling; null takes one from the MLContext.</param>
    public static NeuralNetworkRegressionTrainer NeuralNetwork(this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName = Defaults.LabelColumnName, string featureColumnName = Defaults.FeatureColumnName, int[]? hiddenLayerWidths = null,
        NeuralNetworkActivation activation = Defaults.Activation, int numberOfEpochs = Defaults.NumberOfEpochs, int batchSize = Defaults.BatchSize,
        double learningRate = Defaults.LearningRate, int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NeuralNetworkRegressionTrainer(CatalogEnvironment.Get(catalog), new NeuralNetworkRegressionTrainer.Options
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            HiddenLayerWidths = hiddenLayerWidths ?? Defaults.HiddenLayerWidths(),
            Activation = activation,
            NumberOfEpochs = numberOfEpochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
            Seed = seed,
        });
    }

    /// <summary>A TorchSharp neural-network regressor (MLP or CNN) with every option.</summary>
    /// <param name="catalog">The regression trainer catalog (<c>ml.Regression.Trainers</c>).</param>
    /// <param name="options">The options; see <see cref="NeuralNetworkRegressionTrainer.Options"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named in the message).</exception>
    public static NeuralNetworkRegressionTrainer NeuralNetwork(this RegressionCatalog.RegressionTrainers catalog, NeuralNetworkRegressionTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NeuralNetworkRegressionTrainer(CatalogEnvironment.Get(catalog), options);
    }
}
