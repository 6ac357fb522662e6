using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// The paper's lookup table (brain-research/nngp <c>_compute_qmap_grid</c>): a uniform grid of n_g (odd) points z in
/// [−G, G], variances linear in [1e-8, V] and correlations linear in [−0.99999, 0.99999]. For each (variance, correlation)
/// the Gaussian expectation is a reweighted sum over the z grid, with weights softmax(log N(z1, z2; 0, Σ)), not a
/// quadrature rule. Values are read by linear interpolation in the variance and bilinear interpolation in
/// (variance, correlation). Besides the paper's E[φφ] tables it keeps E[φ′φ′] tables for the NTK. Entries with
/// unequal variances are read at the geometric mean √(q1q2) (exact when inputs are layer-normalised, so that all rows
/// share one variance, and for positively homogeneous φ).
/// </summary>
internal sealed class NngpLookupGrid : IDisposable
{
    private readonly Tensor _qab, _qabDot, _qaa, _qaaDot;
    private readonly double _v0, _dv, _c0, _dc;
    private readonly int _nv, _nc;

    internal NngpLookupGrid(NngpNonlinearity phi, int gaussPoints, int variancePoints, int correlationPoints, double maxVariance, double maxGauss, Device device)
    {
        if (gaussPoints % 2 != 1)
            throw new ArgumentOutOfRangeException(nameof(gaussPoints), gaussPoints, "The number of grid integration points must be odd so that 0 is a grid point.");
        _nv = variancePoints;
        _nc = correlationPoints;
        _v0 = NngpKernelOptions.Defaults.GridMinVariance;
        _dv = (maxVariance - _v0) / (variancePoints - 1);
        _c0 = -NngpKernelOptions.Defaults.GridMaxCorrelation;
        _dc = 2 * NngpKernelOptions.Defaults.GridMaxCorrelation / (correlationPoints - 1);
        MaxVariance = maxVariance;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var z = torch.linspace(-maxGauss, maxGauss, gaussPoints, ScalarType.Float64);
        var variances = torch.linspace(_v0, maxVariance, variancePoints, ScalarType.Float64);
        var corr = torch.linspace(_c0, -_c0, correlationPoints, ScalarType.Float64);
        var f = phi.Apply(z);
        var df = phi.Derivative(z);

        // q_aa: softmax over z of -z²/(2v).
        var logitsAa = -(z.square().unsqueeze(0) / (variances.unsqueeze(1) * 2.0));
        var wAa = torch.softmax(logitsAa, 1);
        var qaa = (wAa * f.square()).sum(1);
        var qaaDot = (wAa * df.square()).sum(1);

        // q_ab: softmax over (z1, z2) of -(z1² + z2² - 2c·z1z2) / (2v(1-c²)). The logits are a non-positive quadratic
        // form that is 0 at the origin (a grid point), so exp needs no max shift; logits and the three weighted sums
        // (normaliser, φφ, φ'φ') are matrix products.
        var basis = torch.stack([(z.square().unsqueeze(1) + z.square().unsqueeze(0)).flatten(), (z.unsqueeze(1) * z.unsqueeze(0)).flatten()]); // [2, ng²]
        var sums = torch.stack([torch.ones(basis.shape[1], ScalarType.Float64), (f.unsqueeze(1) * f.unsqueeze(0)).flatten(),
            (df.unsqueeze(1) * df.unsqueeze(0)).flatten()], 1);                                                                                // [ng², 3]
        var qab = torch.empty([variancePoints, correlationPoints], ScalarType.Float64);
        var qabDot = torch.empty([variancePoints, correlationPoints], ScalarType.Float64);
        long cells = (long)gaussPoints * gaussPoints;
        int chunk = (int)Math.Max(1, Math.Min(correlationPoints, (1L << 22) / cells));
        var vArr = Components.Core.Tensors.TensorData.ToDoubleArray(variances);
        var cArr = Components.Core.Tensors.TensorData.ToDoubleArray(corr);
        for (int iv = 0; iv < variancePoints; iv++)
        {
            for (int c0 = 0; c0 < correlationPoints; c0 += chunk)
            {
                using var inner = torch.NewDisposeScope();
                int c1 = Math.Min(correlationPoints, c0 + chunk);
                var coef = new double[(c1 - c0) * 2];
                for (int ic = c0; ic < c1; ic++)
                {
                    double c = cArr[ic], scale = 2.0 * vArr[iv] * (1.0 - c * c);
                    coef[(ic - c0) * 2] = -1.0 / scale;
                    coef[(ic - c0) * 2 + 1] = 2.0 * c / scale;
                }
                var w = torch.mm(torch.tensor(coef, [c1 - c0, 2], ScalarType.Float64), basis).exp_();
                var r = torch.mm(w, sums);                                                  // [m, 3]
                qab[iv, c0..c1] = r[.., 1] / r[.., 0];
                qabDot[iv, c0..c1] = r[.., 2] / r[.., 0];
            }
        }
        _qab = qab.flatten().to(device).DetachFromDisposeScope();
        _qabDot = qabDot.flatten().to(device).DetachFromDisposeScope();
        _qaa = qaa.to(device).DetachFromDisposeScope();
        _qaaDot = qaaDot.to(device).DetachFromDisposeScope();
    }

    internal double MaxVariance { get; }

    /// <summary>The variance grid points (for tests).</summary>
    internal double[] VarianceGrid => Enumerable.Range(0, _nv).Select(i => i == _nv - 1 ? MaxVariance : _v0 + i * _dv).ToArray();

    /// <summary>The correlation grid points (for tests).</summary>
    internal double[] CorrelationGrid => Enumerable.Range(0, _nc).Select(i => i == _nc - 1 ? -_c0 : _c0 + i * _dc).ToArray();

    /// <summary>Raw q_aa table (for tests).</summary>
    internal Tensor Qaa => _qaa;

    /// <summary>Raw q_ab table, [n_v, n_c] (for tests).</summary>
    internal Tensor Qab => _qab.view(_nv, _nc);

    internal (Tensor G, Tensor? Dot) Map(Tensor k, Tensor q1, Tensor q2, bool needDot)
    {
        var v = (q1 * q2).sqrt();
        var c = torch.where(v.gt(0), k / v, torch.zeros_like(k)).clamp(_c0, -_c0);
        var (i0, tv) = Locate(v, _v0, _dv, _nv);
        var (j0, tc) = Locate(c, _c0, _dc, _nc);
        var idx = i0 * _nc + j0;
        var g = Bilinear(_qab, idx, tv, tc);
        var d = needDot ? Bilinear(_qabDot, idx, tv, tc) : null;
        return (g, d);
    }

    internal (Tensor F, Tensor Dot) Diagonal(Tensor q)
    {
        var (i0, t) = Locate(q, _v0, _dv, _nv);
        return (Linear(_qaa, i0, t), Linear(_qaaDot, i0, t));
    }

    private static (Tensor Index, Tensor Frac) Locate(Tensor x, double x0, double dx, int n)
    {
        var f = (x - x0) / dx;
        var i = f.floor().clamp(0, n - 2);
        var t = (f - i).clamp(0.0, 1.0);
        return (i.to(ScalarType.Int64), t);
    }

    private Tensor Bilinear(Tensor table, Tensor idx, Tensor tv, Tensor tc)
    {
        var g00 = table.take(idx);
        var g01 = table.take(idx + 1);
        var g10 = table.take(idx + _nc);
        var g11 = table.take(idx + (_nc + 1));
        var uv = 1.0 - tv;
        var uc = 1.0 - tc;
        return uv * uc * g00 + uv * tc * g01 + tv * uc * g10 + tv * tc * g11;
    }

    private static Tensor Linear(Tensor table, Tensor idx, Tensor t)
        => (1.0 - t) * table.take(idx) + t * table.take(idx + 1);

    public void Dispose()
    {
        _qab.Dispose();
        _qabDot.Dispose();
        _qaa.Dispose();
        _qaaDot.Dispose();
    }
}
