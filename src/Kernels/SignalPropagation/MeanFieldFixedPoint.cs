using Components.Kernels.Nngp;

namespace Components.Kernels.SignalPropagation;

/// <summary>The mean-field quantities at the fixed point of one (φ, σ_w², σ_b²), from <see cref="MeanField.Analyze"/>.</summary>
/// <param name="Nonlinearity">φ.</param>
/// <param name="WeightVariance">σ_w².</param>
/// <param name="BiasVariance">σ_b².</param>
/// <param name="Variance">q*, +∞ when the variance map diverges.</param>
/// <param name="Correlation">c*: 1 in the ordered phase and on the critical line, below 1 in the chaotic phase.</param>
/// <param name="Chi1">χ₁ = σ_w²E[φ′(z)²] at q*: &lt; 1 ordered, &gt; 1 chaotic.</param>
/// <param name="VarianceSlope">χ_q, the slope of the variance map at q*.</param>
/// <param name="CorrelationSlope">χ_c, the slope of the correlation map at c* (χ₁ when c* = 1).</param>
/// <param name="VarianceDepthScale">ξ_q = −1/ln χ_q: layers over which the variance relaxes to q*.</param>
/// <param name="CorrelationDepthScale">ξ_c = −1/ln χ_c: layers over which correlations relax to c* (+∞ on the critical line).</param>
public sealed record MeanFieldFixedPoint(NngpNonlinearity Nonlinearity, double WeightVariance, double BiasVariance, double Variance, double Correlation,
    double Chi1, double VarianceSlope, double CorrelationSlope, double VarianceDepthScale, double CorrelationDepthScale)
{
    /// <summary>The phase: ordered (χ₁ &lt; 1), critical (|χ₁ − 1| ≤ 1e-9) or chaotic.</summary>
    public SignalPropagationPhase Phase => Math.Abs(Chi1 - 1) <= 1e-9 ? SignalPropagationPhase.Critical : Chi1 < 1 ? SignalPropagationPhase.Ordered : SignalPropagationPhase.Chaotic;
}

/// <summary>Phase of a deep random network.</summary>
public enum SignalPropagationPhase
{
    /// <summary>χ₁ &lt; 1: nearby inputs converge (c → 1), gradients vanish.</summary>
    Ordered,

    /// <summary>χ₁ = 1: the order-to-chaos line, ξ_c = ∞.</summary>
    Critical,

    /// <summary>χ₁ &gt; 1: nearby inputs decorrelate (c → c* &lt; 1), gradients explode.</summary>
    Chaotic,
}

/// <summary>χ₁ and ξ_c over a (σ_w², σ_b²) grid, and the critical line, from <see cref="MeanField.ComputePhaseDiagram"/>.</summary>
/// <param name="Nonlinearity">φ.</param>
/// <param name="WeightVariances">Grid σ_w² (columns).</param>
/// <param name="BiasVariances">Grid σ_b² (rows).</param>
/// <param name="Chi1">χ₁[row = σ_b² index, column = σ_w² index].</param>
/// <param name="CorrelationDepthScale">ξ_c on the same grid (NaN where q* is infinite).</param>
/// <param name="CriticalWeightVariance">σ_w² on the critical line at each grid σ_b².</param>
public sealed record PhaseDiagram(NngpNonlinearity Nonlinearity, double[] WeightVariances, double[] BiasVariances, double[,] Chi1,
    double[,] CorrelationDepthScale, double[] CriticalWeightVariance);
