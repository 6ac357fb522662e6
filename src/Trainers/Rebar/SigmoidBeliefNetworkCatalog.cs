using Components.Core.Runtime;
using Microsoft.ML;

namespace Components.Trainers.Rebar;

/// <summary>Catalog entry points: <c>ml.Transforms.SigmoidBeliefNetwork(...)</c>.</summary>
public static class SigmoidBeliefNetworkCatalog
{
    /// <summary>
    /// Trains a sigmoid belief network on a binary vector column with a low-variance unbiased gradient estimator (REBAR,
    /// Tucker et al. 2017, by default) and appends the posterior probabilities of its first latent layer and the row's ELBO.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="latentColumnName">Appended vector column q(b₁ = 1 | x).</param>
    /// <param name="inputColumnName">Known-size Single vector column of 0/1 values.</param>
    /// <param name="latentWidth">Bernoulli variables per latent layer.</param>
    /// <param name="gradientEstimator">The gradient estimator.</param>
    /// <param name="steps">Training steps.</param>
    public static SigmoidBeliefNetworkEstimator SigmoidBeliefNetwork(this TransformsCatalog catalog,
        string latentColumnName = SigmoidBeliefNetworkEstimator.Defaults.LatentColumnName,
        string inputColumnName = SigmoidBeliefNetworkEstimator.Defaults.InputColumnName,
        int latentWidth = SigmoidBeliefNetworkEstimator.Defaults.LatentWidth,
        GradientEstimatorKind gradientEstimator = SigmoidBeliefNetworkEstimator.Defaults.GradientEstimator,
        int steps = SigmoidBeliefNetworkEstimator.Defaults.Steps)
        => new(CatalogEnvironment.Get(catalog), new SigmoidBeliefNetworkEstimator.Options
        {
            LatentColumnName = latentColumnName,
            InputColumnName = inputColumnName,
            LatentWidth = latentWidth,
            GradientEstimator = gradientEstimator,
            Steps = steps,
        });

    /// <summary>The sigmoid belief network with every option.</summary>
    public static SigmoidBeliefNetworkEstimator SigmoidBeliefNetwork(this TransformsCatalog catalog, SigmoidBeliefNetworkEstimator.Options options)
        => new(CatalogEnvironment.Get(catalog), options);
}
