using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// Gauss–Hermite layer maps for any φ (neural-tangents' <c>ElementwiseNumerical</c>): with nodes x_i and weights
/// w_i for ∫e^{−x²}f(x)dx, and z = √2·x,
/// <c>E[φ(u)φ(v)] ≈ (1/π) Σ_ij w_i w_j φ(√(2q1)·x_i) φ(√(2q2)·(c·x_i + √(1−c²)·x_j))</c>.
/// Accurate for smooth φ (deg ≈ 25); converges slowly for kinks (ReLU, Abs). Cost O(deg²) per entry.
/// </summary>
internal sealed class NngpGaussHermite
{
    private readonly NngpNonlinearity _phi;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, (double[] Nodes, double[] Weights)> s_rules = new();

    internal NngpGaussHermite(NngpNonlinearity phi, int degree)
    {
        _phi = phi;
        (Nodes, Weights) = s_rules.GetOrAdd(degree, Rule);
    }

    internal double[] Nodes { get; }

    internal double[] Weights { get; }

    /// <summary>Nodes and weights of the physicists' Gauss–Hermite rule (Golub–Welsch: eigenvalues of the Jacobi matrix).</summary>
    internal static (double[] Nodes, double[] Weights) Rule(int degree)
    {
        using var scope = torch.NewDisposeScope();
        var j = torch.zeros([degree, degree], ScalarType.Float64);
        for (int k = 1; k < degree; k++)
        {
            double b = Math.Sqrt(k / 2.0);
            j[k - 1, k] = b;
            j[k, k - 1] = b;
        }
        var (values, vectors) = torch.linalg.eigh(j);
        var nodes = TensorData.ToDoubleArray(values);
        var first = TensorData.ToDoubleArray(vectors[0]);
        var weights = first.Select(v => Math.Sqrt(Math.PI) * v * v).ToArray();
        return (nodes, weights);
    }

    /// <summary>E[φ(u)φ(v)] and optionally E[φ′(u)φ′(v)] for a tile (q1 [b1,1], q2 [1,b2] or same shape as k).</summary>
    internal (Tensor G, Tensor? Dot) Map(Tensor k, Tensor q1, Tensor q2, bool needDot)
    {
        var device = k.device;
        var x = torch.tensor(Nodes, ScalarType.Float64, device);
        var w = torch.tensor(Weights, ScalarType.Float64, device);
        var prod = q1 * q2;
        var sq = prod.sqrt();
        var c = torch.where(sq.gt(0), k / sq, torch.zeros_like(k)).clamp(-1.0, 1.0);
        var sc = (1.0 - c.square()).clamp_min(0.0).sqrt();
        var s1 = (q1 * 2.0).sqrt();
        var s2 = (q2 * 2.0).sqrt();
        var g = torch.zeros_like(k);
        var d = needDot ? torch.zeros_like(k) : null;
        var cu = c.unsqueeze(-1);
        var scu = sc.unsqueeze(-1) * x;                       // [.., .., deg]: √(1−c²)·x_j
        var s2u = s2.unsqueeze(-1);
        for (int i = 0; i < Nodes.Length; i++)
        {
            using var inner = torch.NewDisposeScope();
            var u = s1 * Nodes[i];                             // shape of q1
            var v = s2u * (cu * Nodes[i] + scu);               // [.., .., deg]
            var fv = (_phi.Apply(v) * w).sum(-1);
            g.add_(_phi.Apply(u) * fv * Weights[i]);
            if (d is not null)
            {
                var dv = (_phi.Derivative(v) * w).sum(-1);
                d.add_(_phi.Derivative(u) * dv * Weights[i]);
            }
        }
        g.div_(Math.PI);
        d?.div_(Math.PI);
        return (g, d);
    }

    /// <summary>E[φ(u)²] and E[φ′(u)²] for u ~ N(0, q), q a vector.</summary>
    internal (Tensor F, Tensor Dot) Diagonal(Tensor q)
    {
        var x = torch.tensor(Nodes, ScalarType.Float64, q.device);
        var w = torch.tensor(Weights, ScalarType.Float64, q.device);
        var u = (q * 2.0).sqrt().unsqueeze(-1) * x;
        var f = (_phi.Apply(u).square() * w).sum(-1) / Math.Sqrt(Math.PI);
        var d = (_phi.Derivative(u).square() * w).sum(-1) / Math.Sqrt(Math.PI);
        return (f, d);
    }
}
