using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// The training kernel K (n × n, float64, WITHOUT the regulariser or jitter term) of an NNGP Gaussian process as an
/// operator, for matrix-free solvers that never hold the whole matrix: its diagonal, some of its rows, and its
/// product with a block of vectors. K is the kernel as <see cref="NngpKernel.Compute(NngpPreparedInput, NngpPreparedInput?, NngpOutputs, CancellationToken)"/>
/// returns it (after any <see cref="NngpKernelOptions.Rescale"/>, i.e. divided by exp(LogScale)), of the kind chosen
/// when the operator was created (NNGP kernel or NTK); rows are in the order of the training features. Results are
/// float64 tensors on the CPU or on the kernel's device, owned by the caller. Implementations must be deterministic
/// (the same inputs give the same values on every call) and safe to call from one thread at a time.
/// </summary>
public interface INngpKernelOperator : IDisposable
{
    /// <summary>Number of training rows n.</summary>
    int Count { get; }

    /// <summary>The diagonal K(x_i, x_i), [n].</summary>
    Tensor Diagonal(CancellationToken cancellation = default);

    /// <summary>Kernel rows K(x_indices, X), [k, n]; indices in [0, n), any order, repeats allowed.</summary>
    Tensor Rows(ReadOnlySpan<long> indices, CancellationToken cancellation = default);

    /// <summary>The product K·v for <paramref name="v"/> [n, m] (float64; all right-hand sides at once), [n, m].</summary>
    Tensor Multiply(Tensor v, CancellationToken cancellation = default);
}

/// <summary>
/// Creates the training-kernel operator for a training set. The NNGP trainers call it (option
/// <c>KernelOperatorFactory</c>) so that users can point the matrix-free solver at another implementation, e.g. one
/// whose row blocks live on a cluster; each block must be recomputable deterministically from
/// its rows of the training features and the hyperparameters alone.
/// </summary>
public interface INngpKernelOperatorFactory
{
    /// <summary>Creates the operator of K(X, X) for <paramref name="trainingFeatures"/>.</summary>
    /// <param name="architecture">The network (depth, φ, σ_w², σ_b², layer norm).</param>
    /// <param name="kernelOptions">How to compute the kernel (integration, rescaling, device, tiles).</param>
    /// <param name="kernel">Which kernel: <see cref="NngpOutputs.Nngp"/> (K) or <see cref="NngpOutputs.Ntk"/> (Θ).</param>
    /// <param name="trainingFeatures">[n, d] float32 raw training features (CPU), as the trainer received them; the operator may keep a reference (the trainer keeps them alive until the operator is disposed).</param>
    /// <param name="cancellation">Cancellation of the set-up.</param>
    INngpKernelOperator Create(NngpArchitecture architecture, NngpKernelOptions kernelOptions, NngpOutputs kernel, Tensor trainingFeatures,
        CancellationToken cancellation = default);
}
