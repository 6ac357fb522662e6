using System.Globalization;

namespace Components.Kernels.Nngp;

/// <summary>
/// One fully connected architecture, (Dense → φ) × <see cref="Depth"/> → Dense, in the NTK parameterisation of the
/// paper: every Dense layer has weights of variance <see cref="WeightVariance"/>/fan-in and biases of variance
/// <see cref="BiasVariance"/>. It defines both infinite-width kernels, the NNGP kernel K and the neural tangent kernel Θ:
/// <c>K⁰ = σ_w²·x·x′/d + σ_b²</c>; <c>K^{l+1} = σ_w²·E[φ(u)φ(v)] + σ_b²</c> and
/// <c>Θ^{l+1} = K^{l+1} + σ_w²·Θ^l·E[φ′(u)φ′(v)]</c> with (u, v) ~ N(0, K^l), Θ⁰ = K⁰.
/// </summary>
public sealed class NngpArchitecture : IEquatable<NngpArchitecture>
{
    /// <summary>Defaults shared by the kernel and the trainers.</summary>
    internal static class Defaults
    {
        public const int Depth = 3;
        public const double WeightVariance = 2.0;
        public const double BiasVariance = 0.1;
        public const bool InputLayerNorm = false;
    }

    /// <summary>Creates an architecture.</summary>
    /// <param name="depth">Number of hidden layers (nonlinearities), ≥ 0; 0 is the linear kernel σ_w²·x·x′/d + σ_b².</param>
    /// <param name="nonlinearity">The nonlinearity φ.</param>
    /// <param name="weightVariance">σ_w², a variance (not a standard deviation); &gt; 0.</param>
    /// <param name="biasVariance">σ_b², a variance; ≥ 0.</param>
    /// <param name="inputLayerNorm">Normalise each input row to zero mean and unit variance over its features before the first layer, as the paper does (x·x/d = 1 then).</param>
    public NngpArchitecture(int depth, NngpNonlinearity nonlinearity, double weightVariance = Defaults.WeightVariance,
        double biasVariance = Defaults.BiasVariance, bool inputLayerNorm = Defaults.InputLayerNorm)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        if (depth < 0 || depth > 100_000)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "Depth must be between 0 and 100000.");
        if (!double.IsFinite(weightVariance) || weightVariance <= 0)
            throw new ArgumentOutOfRangeException(nameof(weightVariance), weightVariance, "The weight variance σ_w² must be positive and finite.");
        if (!double.IsFinite(biasVariance) || biasVariance < 0)
            throw new ArgumentOutOfRangeException(nameof(biasVariance), biasVariance, "The bias variance σ_b² must be non-negative and finite.");
        Depth = depth;
        Nonlinearity = nonlinearity;
        WeightVariance = weightVariance;
        BiasVariance = biasVariance;
        InputLayerNorm = inputLayerNorm;
    }

    /// <summary>Number of hidden layers.</summary>
    public int Depth { get; }

    /// <summary>The nonlinearity φ.</summary>
    public NngpNonlinearity Nonlinearity { get; }

    /// <summary>σ_w², the weight variance.</summary>
    public double WeightVariance { get; }

    /// <summary>σ_b², the bias variance.</summary>
    public double BiasVariance { get; }

    /// <summary>Whether input rows are layer-normalised first.</summary>
    public bool InputLayerNorm { get; }

    /// <summary>A copy with some values replaced.</summary>
    public NngpArchitecture With(int? depth = null, double? weightVariance = null, double? biasVariance = null, NngpNonlinearity? nonlinearity = null, bool? inputLayerNorm = null)
        => new(depth ?? Depth, nonlinearity ?? Nonlinearity, weightVariance ?? WeightVariance, biasVariance ?? BiasVariance, inputLayerNorm ?? InputLayerNorm);

    /// <inheritdoc/>
    public bool Equals(NngpArchitecture? other) => other is not null && Depth == other.Depth && Nonlinearity.Equals(other.Nonlinearity)
        && WeightVariance == other.WeightVariance && BiasVariance == other.BiasVariance && InputLayerNorm == other.InputLayerNorm;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as NngpArchitecture);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Depth, Nonlinearity, WeightVariance, BiasVariance, InputLayerNorm);

    /// <summary>The paper's label, e.g. <c>GP-3-2-0.1 (ReLU)</c> (depth, σ_w², σ_b²).</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"GP-{Depth}-{WeightVariance:G4}-{BiasVariance:G4} ({Nonlinearity.Name}{(InputLayerNorm ? ", layer-norm" : "")})");
}
