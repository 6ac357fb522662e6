using System.Globalization;
using Components.Kernels.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>
/// Low-rank pivoted-Cholesky preconditioner P = L·Lᵀ + s·I of C = K + s·I (Harbrecht, Peters &amp; Schneider 2012;
/// as GPyTorch's BBMM, Gardner et al. 2018, and Wang et al., NeurIPS 2019): L [n, k] is the partial Cholesky factor
/// of K with greedy diagonal pivoting, so K − L·Lᵀ is positive semi-definite (a Schur complement) and C ⪰ P.
/// P⁻¹ is applied by the Woodbury identity, P⁻¹r = (r − L(s·I + LᵀL)⁻¹Lᵀr)/s, and P^{-1/2} through the thin SVD
/// L = U·S·Vᵀ: P^{-1/2} = U·diag((S² + s)^{-1/2})·Uᵀ + s^{-1/2}(I − U·Uᵀ). Owns its tensors.
/// </summary>
internal sealed class NngpPivotedCholesky : IDisposable
{
    private readonly Tensor _l;          // [n, k]
    private readonly Tensor _innerChol;  // cholesky(s·I + LᵀL), [k, k]

    internal NngpPivotedCholesky(Tensor l, Tensor u, Tensor scale, double noise)
    {
        _l = l;
        U = u;
        Scale = scale;
        Noise = noise;
        using var scope = torch.NewDisposeScope();
        int k = (int)l.shape[1];
        var inner = torch.mm(l.T, l) + noise * torch.eye(k, dtype: ScalarType.Float64, device: l.device);
        _innerChol = torch.linalg.cholesky(inner).DetachFromDisposeScope();
    }

    /// <summary>Rank k.</summary>
    internal int Rank => (int)_l.shape[1];

    /// <summary>Left singular vectors of L, [n, k'] (k' ≤ k: numerically zero singular values dropped).</summary>
    internal Tensor U { get; }

    /// <summary>(S² + s)^{-1/2} for the columns of <see cref="U"/>, [k'].</summary>
    internal Tensor Scale { get; }

    /// <summary>s, the noise variance added to K.</summary>
    internal double Noise { get; }

    /// <summary>Greedy pivoted Cholesky of rank ≤ <paramref name="rank"/> of the operator's K: k kernel rows, O(n·k²).</summary>
    internal static NngpPivotedCholesky Create(INngpKernelOperator op, Tensor diagonal, int rank, double noise, Action<string>? log, CancellationToken cancellation)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        int n = op.Count;
        rank = Math.Min(rank, n);
        var d = diagonal.to(ScalarType.Float64).clone();
        double trace = d.sum().item<double>();
        var factor = torch.zeros([rank, n], ScalarType.Float64, d.device);   // row m = column m of L
        int count = 0;
        for (int m = 0; m < rank; m++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            long i = d.argmax().item<long>();
            double pivot = d[i].item<double>();
            if (!(pivot > 1e-12 * trace))
                break;
            var row = op.Rows([i], cancellation)[0].to(ScalarType.Float64).to(d.device);
            if (m > 0)
            {
                var prev = factor.narrow(0, 0, m);               // [m, n]
                row = row - torch.mv(prev.T, prev[.., i]);
            }
            var lm = row / Math.Sqrt(pivot);
            d.sub_(lm.square());
            d[i] = 0;
            d.clamp_min_(0);
            factor[m].copy_(lm);
            count++;
        }
        var l = factor.narrow(0, 0, count).T.contiguous();
        double residual = d.sum().item<double>();
        log?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"Pivoted-Cholesky preconditioner of rank {count}: residual trace {residual / trace:G3} of tr(K)."));
        Tensor u, scale;
        if (count == 0)
        {
            u = torch.zeros([n, 0], ScalarType.Float64, d.device);
            scale = torch.zeros([0], ScalarType.Float64, d.device);
        }
        else
        {
            var (values, vectors) = torch.linalg.eigh(torch.mm(l.T, l));   // LᵀL = V·S²·Vᵀ
            var keep = values > values.max() * 1e-12;
            var vk = vectors.index_select(1, keep.nonzero().squeeze(1));
            var sk = values.masked_select(keep);
            u = torch.mm(l, vk) / sk.sqrt().unsqueeze(0);
            scale = (sk + noise).rsqrt();
        }
        var result = new NngpPivotedCholesky(l.DetachFromDisposeScope(), u.DetachFromDisposeScope(), scale.DetachFromDisposeScope(), noise);
        return result;
    }

    /// <summary>P⁻¹·r for r [n, m].</summary>
    internal Tensor Solve(Tensor r)
    {
        if (Rank == 0)
            return r / Noise;
        var t = torch.cholesky_solve(torch.mm(_l.T, r), _innerChol);
        return (r - torch.mm(_l, t)) / Noise;
    }

    /// <summary>P^{-1/2}·r for r [n, m].</summary>
    internal Tensor InverseSqrt(Tensor r)
    {
        var c = torch.mm(U.T, r);                                        // [k', m]
        return (r - torch.mm(U, c)) / Math.Sqrt(Noise) + torch.mm(U, c * Scale.unsqueeze(1));
    }

    public void Dispose()
    {
        _l.Dispose();
        _innerChol.Dispose();
        U.Dispose();
        Scale.Dispose();
    }
}

/// <summary>Outcome of a conjugate-gradient solve.</summary>
internal sealed record NngpSolveReport(int Iterations, double MaxRelativeResidual, bool Converged, double Seconds);

/// <summary>
/// Preconditioned conjugate gradients for (K + s·I)X = Y with all right-hand sides (columns of Y) at once: one
/// kernel product K·[p₁ … p_m] per iteration, step sizes per column (Hestenes–Stiefel; as GPyTorch's mBCG without its
/// probe vectors). Stops when every column's relative residual ‖y − C·x‖/‖y‖ is below the tolerance.
/// </summary>
internal static class NngpConjugateGradient
{
    /// <summary>
    /// Solves; <paramref name="label"/> prefixes each iteration's log line. <paramref name="stop"/>, when given, is
    /// called after each iteration with the iterate x (not to be kept) and ends the solve when it returns true (the
    /// report then counts as converged). X lands in the caller's dispose scope.
    /// </summary>
    internal static (Tensor X, NngpSolveReport Report) Solve(INngpKernelOperator op, Tensor y, double noise, NngpPivotedCholesky? preconditioner,
        double tolerance, int maxIterations, Action<string>? log, CancellationToken cancellation, string label = "CG", Func<Tensor, bool>? stop = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var b = y.to(ScalarType.Float64);
        var bNorm = b.norm(0, keepdim: true);                               // [1, m]
        var safeNorm = torch.where(bNorm > 0, bNorm, torch.ones_like(bNorm));
        var x = torch.zeros_like(b);
        var r = b.clone();
        Tensor Precondition(Tensor v) => preconditioner is null ? v / noise : preconditioner.Solve(v);
        var z = Precondition(r);
        var p = z.clone();
        var rz = (r * z).sum(0, keepdim: true);
        double maxResidual = (r.norm(0, keepdim: true) / safeNorm).max().item<double>();
        int it = 0;
        bool stopped = false;
        while (maxResidual > tolerance && it < maxIterations && !stopped)
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            var q = op.Multiply(p, cancellation).to(b.device) + noise * p;
            var pq = (p * q).sum(0, keepdim: true);
            var a = torch.where(pq > 0, rz / torch.where(pq > 0, pq, torch.ones_like(pq)), torch.zeros_like(pq));
            x.add_(a * p);
            r.sub_(a * q);
            var zNew = Precondition(r);
            var rzNew = (r * zNew).sum(0, keepdim: true);
            var beta = torch.where(rz > 0, rzNew / torch.where(rz > 0, rz, torch.ones_like(rz)), torch.zeros_like(rz));
            p.mul_(beta).add_(zNew);
            rz.copy_(rzNew);
            it++;
            maxResidual = (r.norm(0, keepdim: true) / safeNorm).max().item<double>();
            if (!double.IsFinite(maxResidual))
                throw new InvalidOperationException($"Conjugate gradients diverged at iteration {it} (residual {maxResidual}); the kernel operator returned non-finite values or C is not positive definite.");
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"{label} iteration {it}: largest relative residual {maxResidual:G3} (tolerance {tolerance:G3}), {watch.Elapsed.TotalSeconds:F1} s."));
            stopped = stop?.Invoke(x) == true;
        }
        var report = new NngpSolveReport(it, maxResidual, stopped || maxResidual <= tolerance, watch.Elapsed.TotalSeconds);
        // To the caller's scope (detaching it from every scope left one [n, m] tensor per fit to the finalizer).
        return (x.MoveToOuterDisposeScope(), report);
    }
}
