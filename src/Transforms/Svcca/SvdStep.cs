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

    /// <summary>[p, k] orthonormal kept directions (columns), largest variance first.</summary>
    public Tensor Basis { get; }

    /// <summary>[k] float64 variances of the kept directions (descending).</summary>
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
    /// Eigen-decomposes the covariance <paramref name="cov"/> [p, p] and keeps the directions chosen by
    /// <paramref name="settings"/>. Throws <see cref="InvalidOperationException"/> when the side has no variance.
    /// </summary>
    public static SideBasis Reduce(Tensor cov, SvccaSettings settings, string side)
    {
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

    private static double MaxDiagonal(Tensor cov)
    {
        using var scope = torch.NewDisposeScope();
        var d = cov.diagonal();
        if (d.is_complex())
            d = d.real;
        return d.max().item<double>();
    }
}
