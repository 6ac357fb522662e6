using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// Inputs prepared once by <see cref="NngpKernel.Prepare"/> for repeated kernel evaluations (e.g. training points
/// against many test batches): float64 rows on the kernel's device (layer-normalised when the architecture says so)
/// and every row's variance at every layer. Owns native memory; dispose it.
/// </summary>
public sealed class NngpPreparedInput : IDisposable
{
    internal NngpPreparedInput(NngpKernel owner, int rows, int features, double[]? padded, int paddedWidth, Tensor? x,
        double[] layerDiag, Tensor layerDiagTensor, double[] ntkDiag, Tensor ntkDiagTensor)
    {
        Owner = owner;
        Rows = rows;
        Features = features;
        Padded = padded;
        PaddedWidth = paddedWidth;
        X = x;
        LayerDiag = layerDiag;
        LayerDiagTensor = layerDiagTensor;
        NtkDiag = ntkDiag;
        NtkDiagTensor = ntkDiagTensor;
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of features per row.</summary>
    public int Features { get; }

    internal NngpKernel Owner { get; }

    /// <summary>CPU: rows padded with zeros to <see cref="PaddedWidth"/> (for the deterministic Gram products).</summary>
    internal double[]? Padded { get; }

    internal int PaddedWidth { get; }

    /// <summary>CUDA: the rows as an [n, d] float64 tensor on the device.</summary>
    internal Tensor? X { get; }

    /// <summary>Row variances layer-major: (depth + 1) × n, entry [l·n + i] = K^l(x_i, x_i).</summary>
    internal double[] LayerDiag { get; }

    /// <summary><see cref="LayerDiag"/> as a [depth + 1, n] tensor on the device.</summary>
    internal Tensor LayerDiagTensor { get; }

    /// <summary>NTK diagonal Θ(x_i, x_i).</summary>
    internal double[] NtkDiag { get; }

    /// <summary><see cref="NtkDiag"/> as an [n] tensor on the device.</summary>
    internal Tensor NtkDiagTensor { get; }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        X?.Dispose();
        LayerDiagTensor.Dispose();
        NtkDiagTensor.Dispose();
    }
}
