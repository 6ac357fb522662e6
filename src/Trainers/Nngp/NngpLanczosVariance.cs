using System.Globalization;
using Components.Kernels.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>
/// Posterior variances without the dense factor: a preconditioned, deflated Lanczos approximation of C⁻¹
/// (C = K + s·I), in the spirit of LOVE (Pleiss et al., ICML 2018). With the pivoted-Cholesky preconditioner P
/// (C ⪰ P), A = P^{-1/2}·C·P^{-1/2} has eigenvalues ≥ 1 that cluster at 1; r Lanczos steps on A (full
/// reorthogonalisation) would give A·Q ≈ Q·T; here a block Krylov basis Q [n, r] is built from a seeded Gaussian
/// block of <see cref="BlockSize"/> vectors (one kernel product per block instead of per vector, which is what matters
/// when a product streams the whole kernel), H = QᵀAQ is its Rayleigh–Ritz matrix, and A⁻¹ is approximated by
/// Q·H⁻¹·Qᵀ on the Krylov space and by the identity on its complement:
/// C⁻¹ ≈ P^{-1/2}(I + Q(H⁻¹ − I)Qᵀ)P^{-1/2}. The explained variance of a test row is then
/// k*ᵀC⁻¹k* ≈ ‖w‖² + (Qᵀw)ᵀ(H⁻¹ − I)(Qᵀw), w = P^{-1/2}k*: O(n·(k + r)) per row, no solve. It is exact when the
/// Krylov space holds every eigenvector of A whose eigenvalue is not 1 (e.g. when rank k + r ≥ n); its error on
/// real kernels is measured in the tests and in docs/trainers/nngp.md. Owns its tensors.
/// </summary>
internal sealed class NngpLanczosVariance : IDisposable
{
    internal NngpLanczosVariance(Tensor u, Tensor scale, double noise, Tensor q, Tensor correction)
    {
        U = u;
        Scale = scale;
        Noise = noise;
        Q = q;
        Correction = correction;
    }

    /// <summary>Preconditioner's left singular vectors, [n, k].</summary>
    internal Tensor U { get; }

    /// <summary>(S² + s)^{-1/2}, [k].</summary>
    internal Tensor Scale { get; }

    /// <summary>Noise s.</summary>
    internal double Noise { get; }

    /// <summary>Lanczos basis, [n, r].</summary>
    internal Tensor Q { get; }

    /// <summary>H⁻¹ − I, [r, r].</summary>
    internal Tensor Correction { get; }

    /// <summary>Block size of the block Krylov iteration: one kernel product per block of this many vectors.</summary>
    internal const int BlockSize = 64;

    internal static NngpLanczosVariance Create(INngpKernelOperator op, NngpPivotedCholesky preconditioner, int rank, Generator generator,
        Action<string>? log, CancellationToken cancellation)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        int n = op.Count;
        rank = Math.Min(rank, n);
        int block = Math.Min(BlockSize, rank);
        double s = preconditioner.Noise;
        var device = preconditioner.U.device;
        Tensor ApplyA(Tensor v)
        {
            var w = preconditioner.InverseSqrt(v);
            var cw = op.Multiply(w, cancellation).to(v.device) + s * w;
            return preconditioner.InverseSqrt(cw);
        }
        var qs = new List<Tensor>();
        var aqs = new List<Tensor>();
        var next = torch.randn([n, block], ScalarType.Float64, generator: generator).to(device);
        int size = 0;
        while (size < rank)
        {
            cancellation.ThrowIfCancellationRequested();
            // Each block's temporaries (the concatenated basis, the kernel product and the preconditioner's
            // intermediates, several n × block float64 each) are freed with its own scope; only the new basis block,
            // its image and the next start block leave it.
            using var blockScope = torch.NewDisposeScope();
            var start = next; // this block's start, owned outside the block scope: disposed once the block is built
            // Orthogonalise the new block against the basis (twice) and within itself.
            for (int pass = 0; pass < 2 && qs.Count > 0; pass++)
            {
                var basis = torch.cat(qs, 1);
                next = next - torch.mm(basis, torch.mm(basis.T, next));
            }
            var (qb, rb) = torch.linalg.qr(next);
            var keep = rb.diagonal().abs() > 1e-10 * Math.Max(1e-300, rb.diagonal().abs().max().item<double>());
            var cols = keep.nonzero().squeeze(1);
            int take = Math.Min((int)cols.shape[0], rank - size);
            if (take == 0)
                break;
            qb = qb.index_select(1, cols[..take]).contiguous();
            var aq = ApplyA(qb);
            qs.Add(qb.DetachFromDisposeScope());
            aqs.Add(aq.DetachFromDisposeScope());
            size += take;
            next = aq.clone().MoveToOuterDisposeScope();
            start.Dispose();
        }
        var q = torch.cat(qs, 1).contiguous();
        var h = torch.mm(q.T, torch.cat(aqs, 1));
        h = (h + h.T) / 2;
        var (values, vectors) = torch.linalg.eigh(h);
        // Rayleigh–Ritz values of A ⪰ I are ≥ 1; clamp rounding below 1 so that the correction H⁻¹ − I stays ≤ 0.
        var inv = vectors * values.clamp_min(1.0).reciprocal().unsqueeze(0);
        var correction = torch.mm(inv, vectors.T) - torch.eye(size, dtype: ScalarType.Float64, device: device);
        log?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"Variance approximation: block Krylov basis of {size} vectors ({qs.Count} kernel products) on the preconditioned kernel in {watch.Elapsed.TotalSeconds:F1} s; Ritz values of P^-1/2 C P^-1/2 in [{values.min().item<double>():G4}, {values.max().item<double>():G4}]."));
        foreach (var t in qs.Concat(aqs))
            t.Dispose();
        return new NngpLanczosVariance(preconditioner.U.clone().DetachFromDisposeScope(), preconditioner.Scale.clone().DetachFromDisposeScope(), s,
            q.DetachFromDisposeScope(), correction.DetachFromDisposeScope());
    }

    private Tensor InverseSqrt(Tensor r)
    {
        var c = torch.mm(U.T, r);
        return (r - torch.mm(U, c)) / Math.Sqrt(Noise) + torch.mm(U, c * Scale.unsqueeze(1));
    }

    /// <summary>Approximate k*ᵀC⁻¹k* for the rows of <paramref name="kStar"/> [m, n], [m].</summary>
    internal Tensor Explained(Tensor kStar)
    {
        var w = InverseSqrt(kStar.T.to(ScalarType.Float64));              // [n, m]
        var c = torch.mm(Q.T, w);                                        // [r, m]
        return w.square().sum(dim: 0) + (c * torch.mm(Correction, c)).sum(dim: 0);
    }

    public void Dispose()
    {
        U.Dispose();
        Scale.Dispose();
        Q.Dispose();
        Correction.Dispose();
    }
}
