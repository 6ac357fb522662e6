using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>
/// One side after the SVD step: the kept top eigen-directions of its covariance (equivalently the top right singular
/// vectors of the centred data) and their variances. Works for real (float64) and complex (complex128) covariances.
/// Owns its tensors.
/// </summary>
internal sealed class SideBasis : IDisposable
{
    public SideBasis(Tensor basis, Tensor variances, int neurons, double varianceKept, double scale)
    {
        Basis = basis;
        Variances = variances;
        Neurons = neurons;
        VarianceKept = varianceKept;
        Scale = scale;
    }

    /// <summary>
    /// [p, k] map from centred neurons to the kept coordinates (columns), largest variance first: orthonormal
    /// directions after the SVD step; for plain CCA, directions of the standardised neurons divided by each neuron's
    /// standard deviation (see <see cref="SvdStep.Reduce"/>).
    /// </summary>
    public Tensor Basis { get; }

    /// <summary>[k] float64 variances of the kept coordinates (descending).</summary>
    public Tensor Variances { get; }

    /// <summary>Neurons p.</summary>
    public int Neurons { get; }

    /// <summary>Kept directions k.</summary>
    public int Kept => (int)Variances.shape[0];

    /// <summary>Σ kept variances / Σ all variances.</summary>
    public double VarianceKept { get; }

    /// <summary>The reference's rescaling constant: the largest variance of the representation handed to CCA.</summary>
    public double Scale { get; }

    public void Dispose()
    {
        Basis.Dispose();
        Variances.Dispose();
    }
}

/// <summary>The SVD step, on a covariance matrix.</summary>
internal static class SvdStep
{
    /// <summary>
    /// A neuron is constant when its standard deviation is at most this fraction of its root mean square: far above
    /// the rounding left by centring a constant (≈1e-16), far below any variation a float32 or float64 input can carry.
    /// </summary>
    internal const double ConstantTolerance = 1e-12;

    /// <summary>
    /// Eigen-decomposes the covariance <paramref name="cov"/> [p, p] and keeps the directions chosen by
    /// <paramref name="settings"/>. Throws <see cref="InvalidOperationException"/> when the side has no variance.
    /// </summary>
    /// <param name="cov">Covariance of the side's neurons [p, p] (float64 or complex128).</param>
    /// <param name="mean">Means of the neurons [p], used to tell constant neurons from small ones.</param>
    /// <param name="settings">SVD-step settings.</param>
    /// <param name="side">Name of the side in error messages.</param>
    /// <remarks>
    /// Plain CCA (no SVD step, ε = 0) is invariant to rescaling any neuron, so its null-direction test is too: constant
    /// neurons (standard deviation ≤ <see cref="ConstantTolerance"/> × root mean square) are set aside, the others are
    /// standardised, and directions of the correlation matrix with eigenvalue ≤ <see cref="SvccaSettings.RankTolerance"/>
    /// × its largest (duplicate or linearly dependent neurons, whatever their scales) are null. The SVD step and
    /// regularised CCA depend on the neurons' scales by definition and keep the covariance's own eigen-directions.
    /// </remarks>
    public static SideBasis Reduce(Tensor cov, Tensor mean, SvccaSettings settings, string side)
    {
        if (!settings.HasSvdStep && settings.Epsilon == 0)
            return ReduceScaleFree(cov, mean, side);
        using var scope = torch.NewDisposeScope();
        int p = (int)cov.shape[0];
        var (evals, evecs) = torch.linalg.eigh(cov, 'L');
        var lambda = evals.flip(0).clamp_min(0.0);
        var vectors = evecs.flip(1);
        var values = TensorData.ToDoubleArray(lambda);
        double top = values.Length == 0 ? 0 : values[0];
        if (!(top > 0) || !double.IsFinite(top))
            throw new InvalidOperationException($"Representation '{side}' has no variance: every neuron is constant over the datapoints.");
        int rank = 0;
        while (rank < values.Length && values[rank] > SvccaSettings.RankTolerance * top)
            rank++;
        double total = values.Sum();
        int k;
        if (settings.Dimensions is int dims)
            k = Math.Min(dims, rank);
        else if (settings.VarianceFraction >= 1.0)
            k = rank;
        else
        {
            double cum = 0;
            k = 0;
            while (k < rank)
            {
                cum += values[k++];
                if (cum >= settings.VarianceFraction * total)
                    break;
            }
        }
        double kept = values.Take(k).Sum() / total;
        double scale = settings.HasSvdStep ? top : MaxDiagonal(cov);
        var basis = vectors.narrow(1, 0, k).contiguous();
        var variances = lambda.narrow(0, 0, k).contiguous();
        return new SideBasis(basis.MoveToOuterDisposeScope(), variances.MoveToOuterDisposeScope(), p, kept, scale);
    }

    private static SideBasis ReduceScaleFree(Tensor cov, Tensor mean, string side)
    {
        using var scope = torch.NewDisposeScope();
        int p = (int)cov.shape[0];
        var diagonal = cov.diagonal();
        var variance = (diagonal.is_complex() ? diagonal.real : diagonal).clamp_min(0.0);
        var meanSquare = mean.abs().square();
        var varying = variance.gt((variance + meanSquare) * (ConstantTolerance * ConstantTolerance));
        if (!varying.any().item<bool>())
            throw new InvalidOperationException($"Representation '{side}' has no variance: every neuron is constant over the datapoints.");
        var inverseSd = torch.where(varying, variance.clamp_min(double.Epsilon).rsqrt(), torch.zeros_like(variance));
        var correlation = inverseSd.unsqueeze(1) * cov * inverseSd.unsqueeze(0);
        var (evals, evecs) = torch.linalg.eigh(correlation, 'L');
        var lambda = evals.flip(0).clamp_min(0.0);
        var values = TensorData.ToDoubleArray(lambda);
        double top = values[0];
        int rank = 0;
        while (rank < values.Length && values[rank] > SvccaSettings.RankTolerance * top)
            rank++;
        double total = variance.sum().item<double>();
        double kept = variance.masked_select(varying).sum().item<double>() / total;
        var basis = (inverseSd.unsqueeze(1) * evecs.flip(1).narrow(1, 0, rank)).contiguous();
        var variances = lambda.narrow(0, 0, rank).contiguous();
        return new SideBasis(basis.MoveToOuterDisposeScope(), variances.MoveToOuterDisposeScope(), p, kept, MaxDiagonal(cov));
    }

    private static double MaxDiagonal(Tensor cov)
    {
        using var scope = torch.NewDisposeScope();
        var d = cov.diagonal();
        if (d.is_complex())
            d = d.real;
        return d.max().item<double>();
    }
}
