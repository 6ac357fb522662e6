using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>
/// SVCCA (Raghu et al. 2017, arXiv:1706.05806) without an MLContext. Representations are matrices with one row per
/// datapoint and one column per neuron — the transpose of the reference's (neurons, datapoints) layout. Both must
/// hold the same datapoints in the same order; neuron counts may differ. All linear algebra runs in float64 on
/// <see cref="SvccaSettings.Device"/>.
/// </summary>
public static class SvccaAnalysis
{
    /// <summary>
    /// SVCCA of <paramref name="a"/> [N, p] and <paramref name="b"/> [N, q]: the SVD step keeps each side's top
    /// singular directions (99% of variance by default), then CCA correlates the kept subspaces.
    /// </summary>
    /// <exception cref="ArgumentException">Not 2-D, different datapoint counts, or N ≤ neurons.</exception>
    /// <exception cref="InvalidOperationException">NaN/infinite activations, or a side whose neurons are all constant.</exception>
    public static SvccaResult Compute(Tensor a, Tensor b, SvccaSettings? settings = null)
    {
        settings ??= SvccaSettings.Default;
        settings.Validate();
        var (ra, ca) = InputChecks.Matrix(a, nameof(a));
        var (rb, cb) = InputChecks.Matrix(b, nameof(b));
        InputChecks.Pair(ra, ca, rb, cb);
        using var acc = new SvccaAccumulator(ca, cb, settings.ResolvedDevice);
        acc.Add(a, b);
        return acc.Compute(settings);
    }

    /// <summary>SVCCA of two managed matrices [N, p] and [N, q] (rows = datapoints).</summary>
    public static SvccaResult Compute(double[,] a, double[,] b, SvccaSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        using var ta = FromMatrix(a);
        using var tb = FromMatrix(b);
        return Compute(ta, tb, settings);
    }

    /// <summary>Plain CCA (no SVD step) as the reference <c>get_cca_similarity</c>, with regularisation <paramref name="epsilon"/>.</summary>
    public static SvccaResult Cca(Tensor a, Tensor b, double epsilon = 0.0)
        => Compute(a, b, SvccaSettings.Cca with { Epsilon = epsilon });

    /// <summary>PWCCA (Morcos et al. 2018, the reference <c>compute_pwcca</c> with its index bug fixed): CCA without SVD step, projection-weighted mean ρ.</summary>
    public static double Pwcca(Tensor a, Tensor b, double epsilon = 0.0) => Cca(a, b, epsilon).Pwcca;

    internal static Tensor FromMatrix(double[,] m)
    {
        var flat = new double[m.Length];
        Buffer.BlockCopy(m, 0, flat, 0, m.Length * sizeof(double));
        return Components.Core.Tensors.TensorData.FromSpan(flat, [m.GetLength(0), m.GetLength(1)]);
    }
}
