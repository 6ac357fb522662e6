using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// Kernels computed by <see cref="NngpKernel"/>: the NNGP kernel, optionally the NTK, and the NNGP diagonals (prior
/// variances) of both inputs. Rows index the first input, columns the second. Owns its tensors.
/// </summary>
public sealed class NngpKernelResult : IDisposable
{
    internal NngpKernelResult(Tensor nngp, Tensor? ntk, Tensor cov1, Tensor? cov2, bool isDiagonal, double logScale, int tileSize)
    {
        Nngp = nngp;
        Ntk = ntk;
        Cov1 = cov1;
        Cov2 = cov2;
        IsDiagonal = isDiagonal;
        LogScale = logScale;
        TileSize = tileSize;
    }

    /// <summary>NNGP kernel K(x1, x2): [n1, n2], or [n] when <see cref="IsDiagonal"/>.</summary>
    public Tensor Nngp { get; }

    /// <summary>Neural tangent kernel Θ(x1, x2), same shape as <see cref="Nngp"/>; null when not requested.</summary>
    public Tensor? Ntk { get; }

    /// <summary>NNGP diagonal K(x1, x1) of the first input, [n1].</summary>
    public Tensor Cov1 { get; }

    /// <summary>NNGP diagonal of the second input, [n2]; null when there was no second input.</summary>
    public Tensor? Cov2 { get; }

    /// <summary>True for <c>NngpKernel.ComputeDiagonal</c> results (vectors instead of matrices).</summary>
    public bool IsDiagonal { get; }

    /// <summary>Natural log of the factor the kernels were divided by (0 unless <see cref="NngpKernelOptions.Rescale"/>).</summary>
    public double LogScale { get; }

    /// <summary>Tile size used (rows and columns per tile).</summary>
    public int TileSize { get; }

    /// <summary>Disposes the tensors.</summary>
    public void Dispose()
    {
        Nngp.Dispose();
        Ntk?.Dispose();
        Cov1.Dispose();
        Cov2?.Dispose();
    }
}
