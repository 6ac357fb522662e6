using Components.Core.Runtime;

namespace Components.Transforms.Svcca;

public sealed partial class SvccaEstimator
{
    /// <summary>Default values, in one place.</summary>
    internal static class Defaults
    {
        /// <summary>Input column of the first representation.</summary>
        public const string ColumnA = "ActivationsA";

        /// <summary>Input column of the second representation.</summary>
        public const string ColumnB = "ActivationsB";

        /// <summary>Output column of A's canonical variates.</summary>
        public const string OutputColumnA = "SvccaA";

        /// <summary>Output column of B's canonical variates.</summary>
        public const string OutputColumnB = "SvccaB";

        /// <summary>Appended projections.</summary>
        public const SvccaOutput Output = SvccaOutput.Both;

        /// <summary>SVD step variance fraction.</summary>
        public const double VarianceFraction = SvccaSettings.Defaults.VarianceFraction;

        /// <summary>CCA regularisation.</summary>
        public const double Epsilon = SvccaSettings.Defaults.Epsilon;

        /// <summary>Threshold of the thresholded mean.</summary>
        public const double Threshold = SvccaSettings.Defaults.Threshold;

        /// <summary>Rows per accumulation batch during Fit.</summary>
        public const int BatchSize = 4096;
    }

    /// <summary>
    /// Options of <see cref="SvccaEstimator"/>. Deterministic: <see cref="ComponentOptions.Seed"/> is not used;
    /// <see cref="ComponentOptions.Device"/> runs the float64 linear algebra, <see cref="ComponentOptions.CancellationToken"/>
    /// is checked after every batch of Fit.
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>Known-size Single vector column with the first representation (one row per datapoint). Default <c>ActivationsA</c>.</summary>
        public string ColumnA = Defaults.ColumnA;

        /// <summary>Known-size Single vector column with the second representation. Default <c>ActivationsB</c>.</summary>
        public string ColumnB = Defaults.ColumnB;

        /// <summary>Name of the appended canonical variates of A. Default <c>SvccaA</c>.</summary>
        public string OutputColumnA = Defaults.OutputColumnA;

        /// <summary>Name of the appended canonical variates of B. Default <c>SvccaB</c>.</summary>
        public string OutputColumnB = Defaults.OutputColumnB;

        /// <summary>Which projections to append. Default <see cref="SvccaOutput.Both"/>.</summary>
        public SvccaOutput Output = Defaults.Output;

        /// <summary>SVD step: fraction of variance (on s²) kept per side, in (0, 1]; 1 = plain CCA. Default 0.99.</summary>
        public double VarianceFraction = Defaults.VarianceFraction;

        /// <summary>SVD step with a fixed number of directions per side instead of <see cref="VarianceFraction"/>; null (default) uses the fraction.</summary>
        public int? Dimensions;

        /// <summary>CCA regularisation ε ≥ 0 on the rescaled covariances (the reference's epsilon). Default 0.</summary>
        public double Epsilon = Defaults.Epsilon;

        /// <summary>Share of Σρ used by the thresholded mean, in (0, 1]. Default 0.98.</summary>
        public double Threshold = Defaults.Threshold;

        /// <summary>Rows read per covariance-accumulation batch (memory ∝ BatchSize·neurons + neurons²). Default 4096.</summary>
        public int BatchSize = Defaults.BatchSize;
    }
}
