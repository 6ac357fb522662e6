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

    /// <summary>Matrix-free conjugate gradients; variances from a preconditioned Lanczos approximation (<see cref="NngpLanczosVariance"/>).</summary>
    Lanczos,
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

    internal NngpPosterior(Tensor alpha, Tensor? factor, Tensor? eigenvalues, NngpFactorKind kind, double jitter, double meanDiagonal,
        NngpLanczosVariance? lanczos = null)
    {
        Lanczos = lanczos;
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

    /// <summary>Matrix-free solver's variance approximation (kind <see cref="NngpFactorKind.Lanczos"/>); null otherwise or when variances are not kept.</summary>
    public NngpLanczosVariance? Lanczos { get; }

    /// <summary>True when variances can be predicted.</summary>
    public bool HasVariance => Factor is not null || Lanczos is not null;

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
        => Fit(k, y, regularizer, keepFactor, null, log, cancellation).Posterior;

    /// <summary>
    /// As <see cref="Fit(Tensor, Tensor, double, bool, Action{string}?, CancellationToken)"/>, and also returns the
    /// closed-form leave-one-out means of the rows <paramref name="looRows"/> (see <see cref="LeaveOneOutMeans"/>),
    /// computed before the factor is dropped; null when <paramref name="looRows"/> is null.
    /// </summary>
    internal static (NngpPosterior Posterior, Tensor? LeaveOneOut) Fit(Tensor k, Tensor y, double regularizer, bool keepFactor, Tensor? looRows,
        Action<string>? log, CancellationToken cancellation)
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
                return Finish(new NngpPosterior(alpha, l, null, NngpFactorKind.Cholesky, jitter, meanDiag), keepFactor, y, looRows);
            }
            l.Dispose();
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"Cholesky failed with relative jitter {jitter:G2}; trying a larger one."));
        }
        log?.Invoke("Cholesky failed up to relative jitter 0.1; falling back to an eigendecomposition with floored eigenvalues.");
        k.diagonal().copy_(diag0 + reg);
        var (values, vectors) = torch.linalg.eigh(k);
        var floored = values.clamp_min(FirstJitter * meanDiag);
        var a = torch.mm(vectors, torch.mm(vectors.T, y) / floored.unsqueeze(1));
        return Finish(new NngpPosterior(a, vectors, floored, NngpFactorKind.Eigen, double.NaN, meanDiag), keepFactor, y, looRows);
    }

    /// <summary>Leave-one-out means from the full posterior, then the posterior kept (its tensors detached from the caller's scope).</summary>
    private static (NngpPosterior, Tensor?) Finish(NngpPosterior full, bool keepFactor, Tensor y, Tensor? looRows)
    {
        var loo = looRows is null ? null : full.LeaveOneOutMeans(y, looRows).DetachFromDisposeScope();
        var kept = keepFactor ? full : new NngpPosterior(full.Alpha, null, null, full.Kind, full.Jitter, full.MeanDiagonal);
        kept.Alpha.DetachFromDisposeScope();
        kept.Factor?.DetachFromDisposeScope();
        kept.EigenValues?.DetachFromDisposeScope();
        return (kept, loo);
    }

    /// <summary>
    /// Closed-form leave-one-out posterior means (Rasmussen &amp; Williams 2006, eq. 5.12) of the training rows
    /// <paramref name="rows"/> (indices, strictly ascending): μ_LOO,i = y_i − [C⁻¹Y]_i / [C⁻¹]_ii with C the regularised
    /// kernel this posterior factorised, i.e. the mean at x_i of the GP conditioned on every other row. [m, k]. The
    /// diagonal of C⁻¹ costs one triangular solve per row (Cholesky; of the trailing block only, since L⁻¹e_i vanishes
    /// above row i) or O(n) per row (eigendecomposition).
    /// </summary>
    internal Tensor LeaveOneOutMeans(Tensor y, Tensor rows)
    {
        if (Factor is null)
            throw new InvalidOperationException("This posterior was fitted without its factor; leave-one-out means are unavailable.");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        rows = rows.to(ScalarType.Int64).to(Alpha.device);
        long n = Alpha.shape[0];
        if (rows.shape[0] > 1 && !(rows[1..] > rows[..^1]).all().item<bool>())
            throw new ArgumentException("Leave-one-out rows must be strictly ascending.", nameof(rows));
        Tensor inverseDiagonal;
        if (Kind == NngpFactorKind.Cholesky)
        {
            var sorted = rows.cpu().data<long>().ToArray();
            var parts = new List<Tensor>();
            const int chunk = 256;
            for (int c0 = 0; c0 < sorted.Length; c0 += chunk)
            {
                using var inner = torch.NewDisposeScope();
                int c1 = Math.Min(sorted.Length, c0 + chunk);
                long r0 = sorted[c0];
                // Columns e_i (i ≥ r0) of the identity: L⁻¹e_i is zero above row i, so only the trailing block is solved.
                var block = Factor.narrow(0, r0, n - r0).narrow(1, r0, n - r0);
                var index = torch.tensor(sorted[c0..c1].Select(i => i - r0).ToArray(), device: Alpha.device).unsqueeze(0);
                var e = torch.zeros([n - r0, c1 - c0], ScalarType.Float64, device: Alpha.device)
                    .scatter_(0, index, torch.ones([1, c1 - c0], ScalarType.Float64, device: Alpha.device));
                var z = torch.linalg.solve_triangular(block, e, upper: false);
                parts.Add(z.square().sum(dim: 0).DetachFromDisposeScope());
            }
            inverseDiagonal = torch.cat(parts, 0);
            foreach (var part in parts)
                part.Dispose();
        }
        else
        {
            inverseDiagonal = (Factor.index_select(0, rows).square() / EigenValues!.unsqueeze(0)).sum(dim: 1);
        }
        var loo = y.index_select(0, rows) - Alpha.index_select(0, rows) / inverseDiagonal.unsqueeze(1);
        return loo.DetachFromDisposeScope();
    }

    /// <summary>Posterior mean [m, k] for the cross-kernel <paramref name="kStar"/> [m, n].</summary>
    internal Tensor Mean(Tensor kStar) => torch.mm(kStar, Alpha);

    /// <summary>Posterior variance [m] from the cross-kernel and the prior variances <paramref name="prior"/> [m]; ≥ 0 and ≤ prior.</summary>
    internal Tensor Variance(Tensor kStar, Tensor prior)
    {
        if (Lanczos is not null)
            return (prior - Lanczos.Explained(kStar)).clamp_min(0.0);
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
        Lanczos?.Dispose();
    }
}
