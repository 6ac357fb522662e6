using Components.Core.Runtime;

namespace Components.Trainers.Gan;

/// <summary>Adds the GAN to <c>ml.Generative</c>.</summary>
public static class GanCatalog
{
    /// <summary>
    /// A GAN with a density-ratio discriminator and an f-divergence generator objective (arXiv:1612.02780): <c>Fit</c>
    /// trains on the rows of <paramref name="featureColumnName"/>; the model maps <paramref name="noiseColumnName"/>
    /// (N(0, I) rows of the latent size) to <paramref name="outputColumnName"/>, and draws rows with <c>Sample</c>.
    /// </summary>
    /// <param name="catalog">The generative catalog (<c>ml.Generative</c>).</param>
    /// <param name="outputColumnName">Output column of generated rows.</param>
    /// <param name="featureColumnName">Training data column (Single vector).</param>
    /// <param name="noiseColumnName">The model's input column of noise rows.</param>
    /// <param name="objective">Generator objective.</param>
    /// <param name="steps">Generator updates.</param>
    /// <param name="latentSize">Noise dimension.</param>
    /// <example><code language="csharp" source="../../../docs/samples/scripts/Gan.cs"/></example>
    public static GanEstimator Gan(this GenerativeCatalog catalog,
        string outputColumnName = GanEstimator.Defaults.OutputColumnName,
        string featureColumnName = GanEstimator.Defaults.FeatureColumnName,
        string noiseColumnName = GanEstimator.Defaults.NoiseColumnName,
        GanObjective objective = GanEstimator.Defaults.Objective,
        int steps = GanEstimator.Defaults.Steps,
        int latentSize = GanEstimator.Defaults.LatentSize)
        => Gan(catalog, new GanEstimator.Options
        {
            OutputColumnName = outputColumnName,
            FeatureColumnName = featureColumnName,
            NoiseColumnName = noiseColumnName,
            Objective = objective,
            Steps = steps,
            LatentSize = latentSize,
        });

    /// <summary>A GAN with all options.</summary>
    /// <param name="catalog">The generative catalog (<c>ml.Generative</c>).</param>
    /// <param name="options">Options.</param>
    public static GanEstimator Gan(this GenerativeCatalog catalog, GanEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new GanEstimator(CatalogEnvironment.Get(catalog), options);
    }

    /// <summary>
    /// The discriminator of a trained GAN as a transform: appends r(x) = log p_data(x)/q_G(x), a realism score (high:
    /// looks like the training data to the discriminator; low: looks generated or anomalous). The transform holds its
    /// own copy of the discriminator.
    /// </summary>
    /// <param name="catalog">The generative catalog (<c>ml.Generative</c>).</param>
    /// <param name="model">The trained GAN.</param>
    /// <param name="outputColumnName">Output Single column.</param>
    /// <param name="inputColumnName">Input rows (Single vectors of the data's size); null: the model's feature column.</param>
    public static GanLogDensityRatioEstimator GanLogDensityRatio(this GenerativeCatalog catalog, GanModel model,
        string outputColumnName = GanLogDensityRatioEstimator.DefaultOutputColumnName, string? inputColumnName = null)
        => GanLogDensityRatio(catalog, model, new GanLogDensityRatioEstimator.Options { OutputColumnName = outputColumnName, InputColumnName = inputColumnName });

    /// <summary>The discriminator of a trained GAN as a transform, with all options.</summary>
    /// <param name="catalog">The generative catalog (<c>ml.Generative</c>).</param>
    /// <param name="model">The trained GAN.</param>
    /// <param name="options">Options.</param>
    public static GanLogDensityRatioEstimator GanLogDensityRatio(this GenerativeCatalog catalog, GanModel model, GanLogDensityRatioEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new GanLogDensityRatioEstimator(CatalogEnvironment.Get(catalog), model, options);
    }
}
