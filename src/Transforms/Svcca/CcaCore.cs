using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>The CCA step on two reduced sides (float64 or complex128), following the reference <c>compute_ccas</c>.</summary>
internal static class CcaCore
{
    /// <summary>Conjugate transpose of a matrix (plain transpose for real tensors).</summary>
    public static Tensor H(Tensor t) => t.is_complex() ? t.mT.conj().resolve_conj() : t.mT;

    /// <summary>
    /// Canonical correlations of the reduced sides given their cross-covariance <paramref name="crossReduced"/>
    /// [kA, kB] in the kept bases. Returns ρ (descending, clamped to [0, 1]) and, in the outer dispose scope, the
    /// matrices that map each side's kept coordinates to its canonical variates ([kA, m] and [kB, m]).
    /// </summary>
    public static (double[] Rho, Tensor CoefA, Tensor CoefB) Correlate(SideBasis a, SideBasis b, Tensor crossReduced, double epsilon)
    {
        using var scope = torch.NewDisposeScope();
        // Whitening of each side in its eigenbasis: (λ + ε·scale)^{-1/2}, the reference's (Σ/scale + εI)^{-1/2}/√scale.
        var da = (a.Variances + epsilon * a.Scale).rsqrt();
        var db = (b.Variances + epsilon * b.Scale).rsqrt();
        var m = da.unsqueeze(1) * crossReduced * db.unsqueeze(0);
        var (u, s, vh) = torch.linalg.svd(m, fullMatrices: false);
        var rho = TensorData.ToDoubleArray(s.clamp(0.0, 1.0));
        var coefA = da.unsqueeze(1) * u;
        var coefB = db.unsqueeze(1) * H(vh);
        return (rho, coefA.MoveToOuterDisposeScope(), coefB.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// PWCCA weights: with W [p, m] mapping centred neurons to canonical variates and C [p, p] the neurons' covariance,
    /// the variates' Gram matrix is WᵀCW = LLᵀ, the QR factor of the variates is Q = Z·L⁻ᵀ, and ⟨Qᵢ, aⱼ⟩ ∝ (L⁻¹WᵀC)ᵢⱼ.
    /// αᵢ = Σⱼ |(L⁻¹WᵀC)ᵢⱼ| normalised to sum 1 — the QR-based weights of the paper, computed from covariances.
    /// </summary>
    public static double[] PwccaWeights(Tensor projection, Tensor cov)
    {
        using var scope = torch.NewDisposeScope();
        var wtc = torch.matmul(projection.mT, cov);
        var gram = torch.matmul(wtc, projection);
        gram = 0.5 * (gram + gram.mT);
        var l = torch.linalg.cholesky(gram);
        var t = torch.linalg.solve_triangular(l, wtc, upper: false);
        var w = t.abs().sum(1);
        w = w / w.sum();
        return TensorData.ToDoubleArray(w);
    }
}
