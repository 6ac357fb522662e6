using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// Signal-propagation quantities of the variance map q ↦ σ_w²·E[φ(z)²] + σ_b², z ~ N(0, q) (Schoenholz et al. 2017;
/// the paper finds the best GP hyperparameters near the order-to-chaos line χ₁ = 1).
/// </summary>
public static class NngpSignalPropagation
{
    private const int QuadratureDegree = 64;

    /// <summary>E[φ(z)²] and E[φ′(z)²] for z ~ N(0, q): closed forms for ABReLU and Erf, Gauss–Hermite (degree 64) otherwise.</summary>
    public static (double Second, double DerivativeSecond) Moments(NngpNonlinearity nonlinearity, double q)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        if (!(q >= 0) || double.IsPositiveInfinity(q))
            throw new ArgumentOutOfRangeException(nameof(q), q, "The variance must be non-negative and finite.");
        var p = nonlinearity.Parameters;
        switch (nonlinearity.Kind)
        {
            case NngpNonlinearityKind.ABRelu:
                {
                    double beta = (p[0] * p[0] + p[1] * p[1]) / 2;
                    return (beta * q, beta);
                }
            case NngpNonlinearityKind.Erf:
                {
                    double a = p[0], b = p[1], c = p[2], t = 1 + 2 * b * b * q;
                    return (a * a * 2 / Math.PI * Math.Asin(2 * b * b * q / t) + c * c, 4 * a * a * b * b / (Math.PI * Math.Sqrt(1 + 4 * b * b * q)));
                }
            default:
                {
                    using var scope = torch.NewDisposeScope();
                    using var noGrad = torch.no_grad();
                    var gh = new NngpGaussHermite(nonlinearity, QuadratureDegree);
                    var (f, d) = gh.Diagonal(torch.tensor(new[] { q }, ScalarType.Float64));
                    return (f.item<double>(), d.item<double>());
                }
        }
    }

    /// <summary>The fixed point q* of q ↦ σ_w²E[φ(z)²] + σ_b² reached from <paramref name="start"/>, or +∞ when the map diverges.</summary>
    /// <remarks>For ReLU, q* = σ_b²/(1 − σ_w²/2) when σ_w² &lt; 2.</remarks>
    public static double FixedPoint(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double start = 1.0, double tolerance = 1e-12, int maxIterations = 100_000)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        double q = start;
        for (int i = 0; i < maxIterations; i++)
        {
            double next = weightVariance * Moments(nonlinearity, q).Second + biasVariance;
            if (!double.IsFinite(next) || next > 1e300)
                return double.PositiveInfinity;
            if (Math.Abs(next - q) <= tolerance * Math.Max(1.0, Math.Abs(q)))
                return next;
            q = next;
        }
        return q > 1e12 ? double.PositiveInfinity : q;
    }

    /// <summary>χ₁ = σ_w²·E[φ′(z)²] at the fixed point (at a large variance if the map diverges): &lt; 1 ordered, &gt; 1 chaotic.</summary>
    public static double Chi1(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance)
    {
        double q = FixedPoint(nonlinearity, weightVariance, biasVariance);
        if (double.IsPositiveInfinity(q))
            q = 1e6;
        return weightVariance * Moments(nonlinearity, q).DerivativeSecond;
    }

    /// <summary>
    /// The weight variance on the order-to-chaos line (χ₁ = 1) for a bias variance, by bisection on σ_w² in
    /// [1e-3, 1e3]; exactly 2/(a² + b²) for ABReLU (2 for ReLU).
    /// </summary>
    public static double CriticalWeightVariance(NngpNonlinearity nonlinearity, double biasVariance)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        if (nonlinearity.Kind == NngpNonlinearityKind.ABRelu)
        {
            var p = nonlinearity.Parameters;
            return 2.0 / (p[0] * p[0] + p[1] * p[1]);
        }
        double lo = 1e-3, hi = 1e3;
        if (Chi1(nonlinearity, hi, biasVariance) < 1)
            return hi;
        if (Chi1(nonlinearity, lo, biasVariance) > 1)
            return lo;
        for (int i = 0; i < 60; i++)
        {
            double mid = Math.Sqrt(lo * hi);
            if (Chi1(nonlinearity, mid, biasVariance) < 1)
                lo = mid;
            else
                hi = mid;
        }
        return Math.Sqrt(lo * hi);
    }
}
