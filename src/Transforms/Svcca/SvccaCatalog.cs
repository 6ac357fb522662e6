using Components.Core.Runtime;
using Microsoft.ML;

namespace Components.Transforms.Svcca;

/// <summary>Catalog entry points: <c>ml.Transforms.Svcca(...)</c>.</summary>
public static class SvccaCatalog
{
    /// <summary>
    /// SVCCA between two activation columns (rows = datapoints): appends the CCA-aligned projections and exposes ρ,
    /// the means, PWCCA and the kept dimensions on the fitted <see cref="SvccaTransformer.Result"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="columnA">Known-size Single vector column with the first representation.</param>
    /// <param name="columnB">Known-size Single vector column with the second representation.</param>
    /// <param name="output">Which projections to append (columns <c>SvccaA</c>, <c>SvccaB</c>).</param>
    /// <param name="varianceFraction">SVD step: fraction of variance (on s²) kept per side; 1 = plain CCA.</param>
    /// <param name="dimensions">SVD step with a fixed number of directions instead; null uses the fraction.</param>
    public static SvccaEstimator Svcca(this TransformsCatalog catalog, string columnA = SvccaEstimator.Defaults.ColumnA,
        string columnB = SvccaEstimator.Defaults.ColumnB, SvccaOutput output = SvccaEstimator.Defaults.Output,
        double varianceFraction = SvccaEstimator.Defaults.VarianceFraction, int? dimensions = null)
        => new(CatalogEnvironment.Get(catalog), new SvccaEstimator.Options
        {
            ColumnA = columnA,
            ColumnB = columnB,
            Output = output,
            VarianceFraction = varianceFraction,
            Dimensions = dimensions,
        });

    /// <summary>SVCCA between two activation columns, with every option.</summary>
    public static SvccaEstimator Svcca(this TransformsCatalog catalog, SvccaEstimator.Options options)
        => new(CatalogEnvironment.Get(catalog), options);
}
