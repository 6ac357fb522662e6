using Components.Core.Runtime;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Transforms.Sensitivity;

/// <summary>Entry points of <see cref="InputSensitivityEstimator"/> on <c>ml.Transforms</c>.</summary>
public static class InputSensitivityCatalog
{
    /// <summary>
    /// Appends <c>JacobianNorm</c>: per row ‖∂softmax(f(x))/∂x‖_F of a trained neural-network classifier, reading the
    /// model's feature column.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>ml.Transforms</c>).</param>
    /// <param name="model">A trained <see cref="NeuralNetworkMulticlassModel"/>.</param>
    /// <example>
    /// <code>
    /// var scored = ml.Transforms.InputSensitivity(model).Fit(test).Transform(test); // column JacobianNorm
    /// </code>
    /// </example>
    public static InputSensitivityEstimator InputSensitivity(this TransformsCatalog catalog, NeuralNetworkMulticlassModel model)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new InputSensitivityEstimator(CatalogEnvironment.Get(catalog), model, new InputSensitivityEstimator.Options());
    }

    /// <summary>Appends the input sensitivity of a trained neural-network classifier, with every option.</summary>
    /// <param name="catalog">The transforms catalog (<c>ml.Transforms</c>).</param>
    /// <param name="model">A trained <see cref="NeuralNetworkMulticlassModel"/>.</param>
    /// <param name="options">Output columns (softmax and optionally logits), input column, batch size, device.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named in the message).</exception>
    public static InputSensitivityEstimator InputSensitivity(this TransformsCatalog catalog, NeuralNetworkMulticlassModel model, InputSensitivityEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new InputSensitivityEstimator(CatalogEnvironment.Get(catalog), model, options);
    }
}
