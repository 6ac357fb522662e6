using Components.Core.Tensors;
using Components.Kernels.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.SignalPropagation;

/// <summary>
/// The Gaussian expectations of the mean-field theory, taken from the NNGP kernel's own layer maps so that both
/// components integrate φ the same way: closed forms for the ABReLU family and Erf (<see cref="NngpClosedForm"/>),
/// Gauss–Hermite quadrature of degree <see cref="QuadratureDegree"/> otherwise (<see cref="NngpGaussHermite"/>).
/// The fluctuation moments of the lattice theory (E[φ⁴], E[z²φ²], dE[φ²]/dq) are closed forms for ABReLU and the same
/// Gauss–Hermite rule otherwise.
/// </summary>
internal static class GaussianExpectations
{
    /// <summary>Degree of the Gauss–Hermite rule for non-closed-form nonlinearities.</summary>
    internal const int QuadratureDegree = 64;

    /// <summary>E[φ(z)²] and E[φ′(z)²] for z ~ N(0, q).</summary>
    internal static (double Second, double DerivativeSecond) Moments(NngpNonlinearity nonlinearity, double q)
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

    /// <summary>
    /// E[φ(u)φ(v)] and E[φ′(u)φ′(v)] for (u, v) ~ N(0, [[q1, k], [k, q2]]), elementwise over the arrays, through the
    /// NNGP kernel's layer map.
    /// </summary>
    internal static (double[] G, double[] Dot) Pair(NngpNonlinearity nonlinearity, double[] q1, double[] q2, double[] k)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tq1 = torch.tensor(q1, ScalarType.Float64);
        var tq2 = torch.tensor(q2, ScalarType.Float64);
        var tk = torch.tensor(k, ScalarType.Float64);
        Tensor g, dot;
        if (nonlinearity.HasClosedForm)
        {
            var arch = new NngpArchitecture(1, nonlinearity, 1.0, 0.0);
            var schedule = NngpSchedule.Create(arch, 1, rescale: false);
            var (gg, dd) = NngpClosedForm.Map(arch, schedule, tk, tq1, tq2, needDot: true);
            (g, dot) = (gg, dd!);
        }
        else
        {
            var (gg, dd) = new NngpGaussHermite(nonlinearity, QuadratureDegree).Map(tk, tq1, tq2, needDot: true);
            (g, dot) = (gg, dd!);
        }
        return (TensorData.ToDoubleArray(g), TensorData.ToDoubleArray(dot));
    }

    /// <summary>
    /// Fluctuation moments at variance q, z ~ N(0, q), g = z/√q: F = E[φ²], its slope dF/dq, Var(φ²) and
    /// Cov(g², φ²) = E[g²φ²] − F.
    /// </summary>
    internal static (double F, double Slope, double SquareVariance, double CrossCovariance) Fluctuations(NngpNonlinearity nonlinearity, double q)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        if (!(q >= 0) || !double.IsFinite(q))
            throw new ArgumentOutOfRangeException(nameof(q), q, "The variance must be non-negative and finite.");
        if (nonlinearity.Kind == NngpNonlinearityKind.ABRelu)
        {
            double a = nonlinearity.Parameters[0], b = nonlinearity.Parameters[1];
            double beta = (a * a + b * b) / 2, quartic = (Math.Pow(a, 4) + Math.Pow(b, 4)) / 2;
            // E[φ⁴] = 3q²(a⁴ + b⁴)/2, E[g²φ²] = 3βq (half-Gaussian moments).
            return (beta * q, beta, 3 * q * q * quartic - beta * beta * q * q, 2 * beta * q);
        }
        double qq = Math.Max(q, 1e-12);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var gh = new NngpGaussHermite(nonlinearity, QuadratureDegree);
        var x = torch.tensor(gh.Nodes, ScalarType.Float64);
        var w = torch.tensor(gh.Weights, ScalarType.Float64) / Math.Sqrt(Math.PI);
        var gStd = x * Math.Sqrt(2.0);                         // standard normal nodes
        var z = gStd * Math.Sqrt(qq);
        var phi = nonlinearity.Apply(z);
        var dphi = nonlinearity.Derivative(z);
        var phi2 = phi.square();
        double f = (w * phi2).sum().item<double>();
        double fourth = (w * phi2.square()).sum().item<double>();
        double cross = (w * gStd.square() * phi2).sum().item<double>();
        // d/dq E[φ(√q g)²] = E[g φ φ′] / √q (differentiating under the integral).
        double slope = (w * gStd * phi * dphi).sum().item<double>() / Math.Sqrt(qq);
        return (f, slope, fourth - f * f, cross - f);
    }
}
