using Components.Core.Runtime;
using Components.Core.Trainers;
using Microsoft.ML;

namespace Components.Trainers.Nngp;

/// <summary>Catalog entry points: <c>ml.MulticlassClassification.Trainers.Nngp(...)</c> and <c>ml.Regression.Trainers.Nngp(...)</c>.</summary>
public static class NngpCatalog
{
    /// <summary>NNGP Gaussian-process classifier of a deep fully connected network (one-hot − 1/K targets, exact GP inference).</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="featureColumnName">Known-size Single vector column.</param>
    /// <param name="depth">Hidden layers (≥ 0).</param>
    /// <param name="weightVariance">σ_w² (a variance).</param>
    /// <param name="biasVariance">σ_b² (a variance).</param>
    /// <param name="regularizer">Trace-scaled regulariser ε.</param>
    /// <example>
    /// <code>var model = ml.MulticlassClassification.Trainers.Nngp(depth: 3, weightVariance: 2.0).Fit(train);</code>
    /// See docs/samples/scripts/Nngp.cs.
    /// </example>
    public static NngpMulticlassTrainer Nngp(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = PredictionColumns.Label, string featureColumnName = PredictionColumns.Features,
        int depth = NngpTrainerOptions.Defaults.Depth, double weightVariance = NngpTrainerOptions.Defaults.WeightVariance,
        double biasVariance = NngpTrainerOptions.Defaults.BiasVariance, double regularizer = NngpTrainerOptions.Defaults.Regularizer)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NngpMulticlassTrainer(CatalogEnvironment.Get(catalog), new NngpMulticlassTrainer.Options
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            Depth = depth,
            WeightVariance = weightVariance,
            BiasVariance = biasVariance,
            Regularizer = regularizer,
        });
    }

    /// <summary>NNGP Gaussian-process classifier with all options.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">Options.</param>
    public static NngpMulticlassTrainer Nngp(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, NngpMulticlassTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NngpMulticlassTrainer(CatalogEnvironment.Get(catalog), options);
    }

    /// <summary>NNGP Gaussian-process regressor of a deep fully connected network (exact GP inference on centred labels).</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="labelColumnName">Single label column.</param>
    /// <param name="featureColumnName">Known-size Single vector column.</param>
    /// <param name="depth">Hidden layers (≥ 0).</param>
    /// <param name="weightVariance">σ_w² (a variance).</param>
    /// <param name="biasVariance">σ_b² (a variance).</param>
    /// <param name="regularizer">Trace-scaled regulariser ε.</param>
    public static NngpRegressionTrainer Nngp(this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName = PredictionColumns.Label, string featureColumnName = PredictionColumns.Features,
        int depth = NngpTrainerOptions.Defaults.Depth, double weightVariance = NngpTrainerOptions.Defaults.WeightVariance,
        double biasVariance = NngpTrainerOptions.Defaults.BiasVariance, double regularizer = NngpTrainerOptions.Defaults.Regularizer)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NngpRegressionTrainer(CatalogEnvironment.Get(catalog), new NngpRegressionTrainer.Options
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            Depth = depth,
            WeightVariance = weightVariance,
            BiasVariance = biasVariance,
            Regularizer = regularizer,
        });
    }

    /// <summary>NNGP Gaussian-process regressor with all options.</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="options">Options.</param>
    public static NngpRegressionTrainer Nngp(this RegressionCatalog.RegressionTrainers catalog, NngpRegressionTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new NngpRegressionTrainer(CatalogEnvironment.Get(catalog), options);
    }
}
