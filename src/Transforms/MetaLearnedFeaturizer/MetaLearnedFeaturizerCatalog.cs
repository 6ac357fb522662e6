using Components.Core.Runtime;
using Microsoft.ML;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>Catalog entry points: <c>ml.Transforms.MetaLearnedFeaturizer(...)</c>.</summary>
public static class MetaLearnedFeaturizerCatalog
{
    /// <summary>
    /// Trains a base MLP on the input column without labels, with the meta-learned update rule (Metz et al., ICLR 2019),
    /// and appends its top-layer embedding as a Single vector column.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Appended column (width <paramref name="embeddingWidth"/>).</param>
    /// <param name="inputColumnName">Known-size Single vector column to featurize.</param>
    /// <param name="embeddingWidth">Width of the top layer (the appended features); one hidden layer of 64 units lies below it.</param>
    /// <param name="innerSteps">Unsupervised steps of the rule.</param>
    /// <param name="rulePath">An update-rule file; null uses the shipped rule.</param>
    public static MetaLearnedFeaturizerEstimator MetaLearnedFeaturizer(this TransformsCatalog catalog,
        string outputColumnName = MetaLearnedFeaturizerEstimator.Defaults.OutputColumnName,
        string inputColumnName = MetaLearnedFeaturizerEstimator.Defaults.InputColumnName,
        int embeddingWidth = MetaLearnedFeaturizerEstimator.Defaults.EmbeddingWidth,
        int innerSteps = MetaLearnedFeaturizerEstimator.Defaults.InnerSteps,
        string? rulePath = null)
        => new(CatalogEnvironment.Get(catalog), new MetaLearnedFeaturizerEstimator.Options
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            HiddenWidths = [MetaLearnedFeaturizerEstimator.Defaults.HiddenWidth, embeddingWidth],
            InnerSteps = innerSteps,
            RulePath = rulePath,
        });

    /// <summary>The meta-learned featurizer with every option.</summary>
    public static MetaLearnedFeaturizerEstimator MetaLearnedFeaturizer(this TransformsCatalog catalog, MetaLearnedFeaturizerEstimator.Options options)
        => new(CatalogEnvironment.Get(catalog), options);
}
