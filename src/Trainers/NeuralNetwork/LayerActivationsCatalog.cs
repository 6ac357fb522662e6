using Components.Core.Runtime;
using Microsoft.ML;

namespace Components.Trainers.NeuralNetwork;

/// <summary>Entry points of <see cref="LayerActivationsEstimator"/> on <c>ml.Transforms</c>.</summary>
public static class LayerActivationsCatalog
{
    /// <summary>
    /// Appends the activations of <paramref name="layers"/> (1-based; the last layer is the output) of a trained
    /// neural network as columns <c>Layer{i}</c>, reading the model's feature column.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>ml.Transforms</c>).</param>
    /// <param name="model">A trained <see cref="NeuralNetworkMulticlassModel"/> or <see cref="NeuralNetworkRegressionModel"/>.</param>
    /// <param name="layers">Layer numbers, distinct, in 1..<c>model.Architecture.LayerCount</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A layer does not exist or is repeated.</exception>
    /// <example>
    /// <code>
    /// var acts = ml.Transforms.LayerActivations(model, 1, 2).Fit(data).Transform(data); // columns Layer1, Layer2
    /// </code>
    /// </example>
    public static LayerActivationsEstimator LayerActivations(this TransformsCatalog catalog, NeuralNetworkModel model, params int[] layers)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new LayerActivationsEstimator(CatalogEnvironment.Get(catalog), model, new LayerActivationsEstimator.Options { Layers = layers });
    }

    /// <summary>Appends the activations of chosen layers of a trained neural network, with every option.</summary>
    /// <param name="catalog">The transforms catalog (<c>ml.Transforms</c>).</param>
    /// <param name="model">A trained <see cref="NeuralNetworkMulticlassModel"/> or <see cref="NeuralNetworkRegressionModel"/>.</param>
    /// <param name="options">Layers, output column names, input column and batch size.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named in the message).</exception>
    public static LayerActivationsEstimator LayerActivations(this TransformsCatalog catalog, NeuralNetworkModel model, LayerActivationsEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new LayerActivationsEstimator(CatalogEnvironment.Get(catalog), model, options);
    }
}
