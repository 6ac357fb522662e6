using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>How the training kernel was factorised.</summary>
public enum NngpFactorKind
{
    /// <summary>Cholesky factor L of K + (ε + jitter)·I.</summary>
    Cholesky,

    /// <summary>Eigendecomposition Q·diag(λ)·Qᵀ with eigenvalues floored (fallback when Cholesky fails).</summary>
    Eigen,
}

/// <summary>
/// Exact GP regression posterior on a fixed kernel (brain-research/nngp <c>gpr.py</c>, neural-tangents
/// <c>predict.gp_inference</c>): α = (K + ε·tr(K)/n·I)⁻¹Y for all output columns at once (multiple right-hand sides),
/// predictive mean k*ᵀα and variance k** − k*ᵀ(K + εI)⁻¹k*. The factor is computed once and reused for every test
/// batch. Owns its tensors.
/// </summary>
internal sealed class NngpPosterior : IDisposable
{
    internal const double FirstJitter = 1e-10, LastJitter = 1e-1;

    internal NngpPosterior(Tensor alpha, Tensor? factor, Tensor? eigenvalues, NngpFactorKind kind, double jitter, double meanDiagonal)
    {
        Alpha = alpha;
        Factor = factor;
        EigenValues = eigenvalues;
        Kind = kind;
        Jitter = jitter;
        MeanDiagonal = meanDiagonal;
    }

    /// <summary>[n, k] weights.</summary>
    public Tensor Alpha { get; }

    /// <summary>Lower Cholesky factor or eigenvectors, [n, n]; null when the variance is not kept.</summary>
    public Tensor? Factor { get; }

    /// <summary>Floored eigenvalues of K + εI (eigen fallback only).</summary>
    public Tensor? EigenValues { get; }

    public NngpFactorKind Kind { get; }

    /// <summary>Relative jitter that made the Cholesky factorisation succeed (times tr(K)/n); NaN for the eigen fallback.</summary>
    public double Jitter { get; }

    /// <summary>tr(K)/n of the training kernel.</summary>
    public double MeanDiagonal { get; }

    /// <summary>
    /// Factorises <paramref name="k"/> (whose diagonal is modified in place) and solves for <paramref name="y"/>:
    /// Cholesky with relative jitter 1e-10, 1e-9, …, 1e-1 (times tr(K)/n) on top of the regulariser, then an
    /// eigendecomposition with eigenvalues floored at 1e-10·tr(K)/n.
    /// </summary>
    internal static NngpPosterior Fit(Tensor k, Tensor y, double regularizer, bool keepFactor, Action<string>? log, CancellationToken cancellation)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        long n = k.shape[0];
        var diag0 = k.diagonal().clone();
        double meanDiag = diag0.mean().item<double>();
        if (!double.IsFinite(meanDiag) || meanDiag <= 0)
            throw new InvalidOperationException($"The training kernel has mean diagonal {meanDiag}; it must be positive and finite.");
        double reg = regularizer * meanDiag;
        for (double jitter = FirstJitter; jitter <= LastJitter * 1.0001; jitter *= 10)
        {
            cancellation.ThrowIfCancellationRequested();
            k.diagonal().copy_(diag0 + (reg + jitter * meanDiag));
            Tensor l;
            bool ok;
            if (k.device_type == DeviceType.CPU)
            {
                l = k.contiguous().clone();
                ok = NngpCholesky.FactorInPlace(l, cancellation);
            }
            else
            {
                var (lc, info) = torch.linalg.cholesky_ex(k, check_errors: false);
                l = lc;
                ok = info.item<int>() == 0;
                info.Dispose();
            }
            if (ok && torch.isfinite(l.diagonal()).all().item<bool>())
            {
                var alpha = torch.cholesky_solve(y, l);
                log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"Cholesky factorisation of the {n}x{n} kernel succeeded with relative jitter {jitter:G2}."));
                return new NngpPosterior(alpha.DetachFromDisposeScope(), keepFactor ? l.DetachFromDisposeScope() : null, null, NngpFactorKind.Cholesky, jitter, meanDiag);
            }
            l.Dispose();
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"Cholesky failed with relative jitter {jitter:G2}; trying a larger one."));
        }
        log?.Invoke("Cholesky failed up to relative jitter 0.1; falling back to an eigendecomposition with floored eigenvalues.");
        k.diagonal().copy_(diag0 + reg);
        var (values, vectors) = torch.linalg.eigh(k);
        var floored = values.clamp_min(FirstJitter * meanDiag);
        var a = torch.mm(vectors, torch.mm(vectors.T, y) / floored.unsqueeze(1));
        return new NngpPosterior(a.DetachFromDisposeScope(), keepFactor ? vectors.DetachFromDisposeScope() : null,
            keepFactor ? floored.DetachFromDisposeScope() : null, NngpFactorKind.Eigen, double.NaN, meanDiag);
    }

    /// <summary>Posterior mean [m, k] for the cross-kernel <paramref name="kStar"/> [m, n].</summary>
    internal Tensor Mean(Tensor kStar) => torch.mm(kStar, Alpha);

    /// <summary>Posterior variance [m] from the cross-kernel and the prior variances <paramref name="prior"/> [m]; ≥ 0 and ≤ prior.</summary>
    internal Tensor Variance(Tensor kStar, Tensor prior)
    {
        if (Factor is null)
            throw new InvalidOperationException("This posterior was fitted without its factor; variances are unavailable.");
        Tensor explained;
        if (Kind == NngpFactorKind.Cholesky)
        {
            var v = torch.linalg.solve_triangular(Factor, kStar.T, upper: false);
            explained = v.square().sum(dim: 0);
        }
        else
        {
            var w = torch.mm(Factor.T, kStar.T);
            explained = (w.square() / EigenValues!.unsqueeze(1)).sum(dim: 0);
        }
        return (prior - explained).clamp_min(0.0);
    }

    public void Dispose()
    {
        Alpha.Dispose();
        Factor?.Dispose();
        EigenValues?.Dispose();
    }
}
