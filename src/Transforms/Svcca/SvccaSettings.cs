using TorchSharp;

namespace Components.Transforms.Svcca;

/// <summary>
/// Settings of the SVCCA math core (<see cref="SvccaAnalysis"/>, <see cref="SvccaAccumulator"/>, <see cref="DftCca"/>,
/// <see cref="RepresentationComparison"/>). The defaults are the paper's: keep the singular directions that explain
/// 99% of the variance (computed on squared singular values), then CCA without regularisation.
/// </summary>
public sealed record SvccaSettings
{
    /// <summary>Default values, in one place.</summary>
    internal static class Defaults
    {
        /// <summary>Fraction of variance (Σs² of the kept directions over Σs²) kept by the SVD step.</summary>
        public const double VarianceFraction = 0.99;

        /// <summary>CCA regularisation ε (the reference's default).</summary>
        public const double Epsilon = 0.0;

        /// <summary>The reference's cut for the thresholded mean: the smallest prefix of ρ holding this share of Σρ.</summary>
        public const double Threshold = 0.98;
    }

    /// <summary>
    /// Directions whose variance is at most this fraction of the largest variance of a side are numerically null
    /// (rank deficiency, constant neurons) and are never kept, whatever <see cref="VarianceFraction"/> or
    /// <see cref="Dimensions"/> ask for.
    /// </summary>
    public const double RankTolerance = 1e-12;

    /// <summary>
    /// SVD step: keep the smallest number of top singular directions whose squared singular values hold at least this
    /// fraction of the total (0 &lt; f ≤ 1). 1 disables the SVD step (plain CCA on every non-null direction).
    /// Ignored when <see cref="Dimensions"/> is set. Default 0.99.
    /// </summary>
    public double VarianceFraction { get; init; } = Defaults.VarianceFraction;

    /// <summary>SVD step with a fixed number of directions per side (clamped to the numerical rank); null uses <see cref="VarianceFraction"/>.</summary>
    public int? Dimensions { get; init; }

    /// <summary>
    /// Regularisation ε ≥ 0 added to the diagonal of each side's covariance after rescaling it to a largest variance
    /// of 1 (as the reference <c>cca_core.py</c> does). Default 0.
    /// </summary>
    public double Epsilon { get; init; } = Defaults.Epsilon;

    /// <summary>Share of Σρ for <see cref="SvccaResult.ThresholdMean"/> (0 &lt; t ≤ 1). Default 0.98.</summary>
    public double Threshold { get; init; } = Defaults.Threshold;

    /// <summary>Device of the float64 linear algebra; null = CPU.</summary>
    public torch.Device? Device { get; init; }

    /// <summary>The paper's SVCCA: 99% of variance, ε = 0.</summary>
    public static SvccaSettings Default { get; } = new();

    /// <summary>Plain CCA (no SVD step), as the reference's <c>get_cca_similarity</c>.</summary>
    public static SvccaSettings Cca { get; } = new() { VarianceFraction = 1.0 };

    /// <summary>True when the SVD step truncates (a fixed k or a variance fraction below 1).</summary>
    internal bool HasSvdStep => Dimensions is not null || VarianceFraction < 1.0;

    internal torch.Device ResolvedDevice => Device ?? torch.CPU;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for an invalid setting.</summary>
    public void Validate()
    {
        if (!(VarianceFraction > 0 && VarianceFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(VarianceFraction), VarianceFraction, "VarianceFraction must be in (0, 1].");
        if (Dimensions is int k && k <= 0)
            throw new ArgumentOutOfRangeException(nameof(Dimensions), k, "Dimensions must be positive (or null to use VarianceFraction).");
        if (!(Epsilon >= 0 && double.IsFinite(Epsilon)))
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "Epsilon must be finite and non-negative.");
        if (!(Threshold > 0 && Threshold <= 1))
            throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "Threshold must be in (0, 1].");
    }
}
