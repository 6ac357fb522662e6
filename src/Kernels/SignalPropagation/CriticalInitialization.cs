using Components.Kernels.Nngp;

namespace Components.Kernels.SignalPropagation;

/// <summary>
/// Picks an initialisation (σ_w², σ_b²) on the order-to-chaos critical line χ₁ = 1 for a nonlinearity and depth, and
/// the band of σ_w² around it that the mean-field depth scales predict trainable at that depth
/// (L ≤ <see cref="TrainableDepthMultiple"/>·ξ_c, Schoenholz et al. 2017). Used by the NeuralNetwork trainers'
/// <c>CriticalInitialization</c> option; the NNGP search near the critical line uses the same
/// <see cref="MeanField.CriticalWeightVariance"/>.
/// </summary>
public static class CriticalInitialization
{
    /// <summary>Default values.</summary>
    internal static class Defaults
    {
        /// <summary>σ_b² for bounded nonlinearities (tanh, erf, custom): small, as in the deep tanh experiments of Schoenholz et al. 2017.</summary>
        public const double BoundedBiasVariance = 0.05;

        /// <summary>σ_b² for the ABReLU family: 0 (any σ_b² &gt; 0 makes the variance grow linearly with depth at criticality).</summary>
        public const double ReluBiasVariance = 0.0;
    }

    /// <summary>Networks train when their depth is at most this multiple of ξ_c (Schoenholz et al. 2017 find about 6).</summary>
    public const double TrainableDepthMultiple = 6.0;

    /// <summary>
    /// The critical initialisation for <paramref name="nonlinearity"/> at <paramref name="depth"/> hidden layers.
    /// </summary>
    /// <param name="nonlinearity">φ; not null.</param>
    /// <param name="depth">Number of hidden (nonlinear) layers, positive.</param>
    /// <param name="biasVariance">σ_b², non-negative; null for the default (0 for the ABReLU family, 0.05 otherwise).</param>
    /// <exception cref="ArgumentNullException"><paramref name="nonlinearity"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The depth is not positive or σ_b² is negative or not finite.</exception>
    public static CriticalInitializationResult Choose(NngpNonlinearity nonlinearity, int depth, double? biasVariance = null)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        MeanField.CheckDepth(depth);
        double sb = biasVariance ?? (nonlinearity.Kind == NngpNonlinearityKind.ABRelu ? Defaults.ReluBiasVariance : Defaults.BoundedBiasVariance);
        MeanField.CheckVariances(1.0, sb);
        double sw = CriticalWeightVariance(nonlinearity, sb);
        // ξ_c ≥ L / multiple ⇔ χ_c ≥ exp(−multiple / L) on the ordered side (and the same slope on the chaotic side).
        double target = Math.Exp(-TrainableDepthMultiple / depth);
        double lo, hi;
        if (nonlinearity.Kind == NngpNonlinearityKind.ABRelu)
        {
            // χ₁ = σ_w²(a² + b²)/2; beyond the critical line the variance grows by χ₁ per layer, so the band is symmetric in ln χ₁.
            lo = sw * target;
            hi = sw / target;
        }
        else
        {
            lo = Bisect(s => MeanField.Analyze(nonlinearity, s, sb).CorrelationSlope >= target, sw / 16, sw, towardHigh: false);
            hi = Bisect(s => MeanField.Analyze(nonlinearity, s, sb).CorrelationSlope >= target, sw, sw * 16, towardHigh: true);
        }
        return new CriticalInitializationResult(nonlinearity, depth, sw, sb, lo, hi);
    }

    /// <summary>σ_w² on the critical line, with the exact value 1/φ′(0)² for tanh and erf (φ(0) = 0) at σ_b² = 0.</summary>
    internal static double CriticalWeightVariance(NngpNonlinearity nonlinearity, double biasVariance)
    {
        if (biasVariance == 0)
        {
            if (nonlinearity.Kind == NngpNonlinearityKind.Tanh)
                return 1.0;
            if (nonlinearity.Kind == NngpNonlinearityKind.Erf && nonlinearity.Parameters[2] == 0)
            {
                double slope = 2 * nonlinearity.Parameters[0] * nonlinearity.Parameters[1] / Math.Sqrt(Math.PI);
                return 1.0 / (slope * slope);
            }
        }
        return MeanField.CriticalWeightVariance(nonlinearity, biasVariance);
    }

    // Finds the boundary in [lo, hi] where inside(s) flips; towardHigh: inside at lo, outside at hi.
    private static double Bisect(Func<double, bool> inside, double lo, double hi, bool towardHigh)
    {
        if (towardHigh ? inside(hi) : inside(lo))
            return towardHigh ? hi : lo;
        for (int i = 0; i < 16; i++)
        {
            double mid = Math.Sqrt(lo * hi);
            bool ok = inside(mid);
            if (towardHigh == ok)
                lo = mid;
            else
                hi = mid;
        }
        return Math.Sqrt(lo * hi);
    }
}

/// <summary>A critical initialisation from <see cref="CriticalInitialization.Choose"/>.</summary>
/// <param name="Nonlinearity">φ.</param>
/// <param name="Depth">Hidden layers it was chosen for.</param>
/// <param name="WeightVariance">σ_w² on the critical line: initialise W_ij ~ N(0, σ_w²/fan_in).</param>
/// <param name="BiasVariance">σ_b²: initialise b_i ~ N(0, σ_b²).</param>
/// <param name="MinTrainableWeightVariance">Smallest σ_w² (ordered side) with Depth ≤ 6ξ_c.</param>
/// <param name="MaxTrainableWeightVariance">Largest σ_w² (chaotic side) with Depth ≤ 6ξ_c.</param>
public sealed record CriticalInitializationResult(NngpNonlinearity Nonlinearity, int Depth, double WeightVariance, double BiasVariance,
    double MinTrainableWeightVariance, double MaxTrainableWeightVariance);
