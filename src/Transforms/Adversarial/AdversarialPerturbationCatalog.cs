using Components.Core.Runtime;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Transforms.Adversarial;

/// <summary>Entry points of <see cref="AdversarialPerturbationEstimator"/> on <c>ml.Transforms</c>.</summary>
public static class AdversarialPerturbationCatalog
{
    /// <summary>
    /// Appends <paramref name="outputColumnName"/> (adversarial images) and <paramref name="perturbationColumnName"/>
    /// (their perturbations) for an ensemble of trained neural-network classifiers: a targeted iterative L∞ attack
    /// towards the class in the key column <paramref name="targetColumnName"/>, with the defaults of
    /// <see cref="AdversarialPerturbationEstimator.Options"/> (20 steps of 4/255, 2 random shifts ± 2 px with noise per step).
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>ml.Transforms</c>).</param>
    /// <param name="models">The ensemble: trained <see cref="NeuralNetworkMulticlassModel"/>s over the same images and classes (at least one).</param>
    /// <param name="epsilon">L∞ budget ε in [0, 1] (pixels in [0, 1]). Default 32/255.</param>
    /// <param name="targetColumnName">Key column of each row's target class (over the models' classes). Default "Target".</param>
    /// <param name="outputColumnName">Adversarial image column. Default "Adversarial".</param>
    /// <param name="perturbationColumnName">Perturbation column. Default "Perturbation".</param>
    /// <param name="inputColumnName">Image column (pixels in [0, 1]); null uses the first model's feature column.</param>
    /// <exception cref="ArgumentOutOfRangeException">The ensemble is empty or inconsistent, or ε is outside [0, 1].</exception>
    /// <example>
    /// <code>
    /// var attacked = ml.Transforms.AdversarialPerturbation([cnnA, cnnB], epsilon: 0.1).Fit(data).Transform(data);
    /// </code>
    /// </example>
    public static AdversarialPerturbationEstimator AdversarialPerturbation(this TransformsCatalog catalog, IReadOnlyList<NeuralNetworkMulticlassModel> models,
        double epsilon = AdversarialPerturbationEstimator.Defaults.Epsilon,
        string targetColumnName = AdversarialPerturbationEstimator.Defaults.TargetColumnName,
        string outputColumnName = AdversarialPerturbationEstimator.Defaults.OutputColumnName,
        string perturbationColumnName = AdversarialPerturbationEstimator.Defaults.PerturbationColumnName,
        string? inputColumnName = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AdversarialPerturbationEstimator(CatalogEnvironment.Get(catalog), models, new AdversarialPerturbationEstimator.Options
        {
            Epsilon = epsilon,
            TargetColumnName = targetColumnName,
            OutputColumnName = outputColumnName,
            PerturbationColumnName = perturbationColumnName,
            InputColumnName = inputColumnName,
        });
    }

    /// <summary>Appends adversarial images and perturbations for an ensemble, with every option (target mapping, untargeted mode, steps, transformations, seed).</summary>
    /// <param name="catalog">The transforms catalog (<c>ml.Transforms</c>).</param>
    /// <param name="models">The ensemble (at least one model).</param>
    /// <param name="options">Columns, target, budget, steps, transformations, batch size, seed, device, cancellation.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or the ensemble is empty or inconsistent (named in the message).</exception>
    public static AdversarialPerturbationEstimator AdversarialPerturbation(this TransformsCatalog catalog, IReadOnlyList<NeuralNetworkMulticlassModel> models,
        AdversarialPerturbationEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AdversarialPerturbationEstimator(CatalogEnvironment.Get(catalog), models, options);
    }
}
