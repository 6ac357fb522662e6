using Components.Kernels.Nngp;
using static TorchSharp.torch;

namespace Components.Orleans.Nngp;

/// <summary>
/// Creates <see cref="OrleansNngpKernelOperator"/>s: the training kernel split into row-blocks owned by
/// <see cref="INngpKernelBlockGrain"/>s on an Orleans cluster, reached through <see cref="IClusterClient"/>. Set it
/// as <see cref="Components.Trainers.Nngp.NngpTrainerOptions.KernelOperatorFactory"/>, most simply with
/// <see cref="NngpOrleansExtensions.UseOrleansCluster"/>. The fields are read when an operator is created.
/// </summary>
/// <remarks>
/// Timeouts: a block's load (sending it the features and computing its block) must finish within
/// <see cref="BuildTimeout"/>, every other request within <see cref="CallTimeout"/>. A request that times out, or whose
/// silo is unavailable, is tried again (loading the block again where its grain came back empty) up to
/// <see cref="MaxAttempts"/> times, <see cref="RetryDelay"/> apart; then the operator throws
/// <see cref="NngpClusterException"/>. So no call waits longer than about MaxAttempts × (timeout + delay).
/// Orleans' own response timeout (30 s by default) is raised to one hour on the grain's methods, so these govern.
/// </remarks>
public sealed class OrleansNngpKernelOperatorFactory : INngpKernelOperatorFactory
{
    /// <summary>Defaults of every option, in one place.</summary>
    internal static class Defaults
    {
        public const int Blocks = 0;
        public const int BlocksPerSilo = 2;
        public const bool Float32Cache = false;
        public const int MaxAttempts = 4;
        public const int FeatureChunkBytes = 4 << 20;
        public static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(5);
        public static readonly TimeSpan BuildTimeout = TimeSpan.FromHours(1);
        public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);
    }

    /// <summary>Creates a factory for the cluster behind <paramref name="client"/> (a started client; the factory does not own it).</summary>
    public OrleansNngpKernelOperatorFactory(IClusterClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        Client = client;
    }

    /// <summary>The cluster client.</summary>
    public IClusterClient Client { get; }

    /// <summary>
    /// Number of row-blocks (grains), at most n; 0 (default) = 2 per active silo, counted when the operator is
    /// created. Each block holds (n/blocks) × n kernel values, and every product sends each block the whole vector.
    /// </summary>
    public int Blocks = Defaults.Blocks;

    /// <summary>
    /// Keep each block in float32 (half the memory; products still accumulate in float64, K is perturbed by ~6e-8
    /// relative). Default false: float64, the values of the single-process operator.
    /// </summary>
    public bool Float32Cache = Defaults.Float32Cache;

    /// <summary>Time a block request (product, diagonal, rows) may take before it is tried again; positive. Default 5 minutes.</summary>
    public TimeSpan CallTimeout = Defaults.CallTimeout;

    /// <summary>Time loading a block (sending the features, computing K[r0:r1, :]) may take before it is tried again; positive. Default 1 hour.</summary>
    public TimeSpan BuildTimeout = Defaults.BuildTimeout;

    /// <summary>Tries per block request when a silo is unavailable or a request times out (≥ 1). Default 4.</summary>
    public int MaxAttempts = Defaults.MaxAttempts;

    /// <summary>Wait between tries, so the cluster's membership can take a lost silo out; ≥ 0. Default 500 ms.</summary>
    public TimeSpan RetryDelay = Defaults.RetryDelay;

    /// <summary>Bytes of training features per message when a block is loaded (64 KiB – 64 MiB). Default 4 MiB.</summary>
    public int FeatureChunkBytes = Defaults.FeatureChunkBytes;

    /// <inheritdoc/>
    public INngpKernelOperator Create(NngpArchitecture architecture, NngpKernelOptions kernelOptions, NngpOutputs kernel, Tensor trainingFeatures,
        CancellationToken cancellation = default)
        => OrleansNngpKernelOperator.Create(this, architecture, kernelOptions, kernel, trainingFeatures, cancellation);

    internal void Validate()
    {
        if (Blocks < 0)
            throw new ArgumentOutOfRangeException(nameof(Blocks), Blocks, "Blocks must be 0 (two per active silo) or positive.");
        if (CallTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(CallTimeout), CallTimeout, "The call timeout must be positive.");
        if (BuildTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(BuildTimeout), BuildTimeout, "The build timeout must be positive.");
        if (MaxAttempts < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "At least one attempt is needed.");
        if (RetryDelay < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RetryDelay), RetryDelay, "The retry delay must not be negative.");
        if (FeatureChunkBytes < (64 << 10) || FeatureChunkBytes > (64 << 20))
            throw new ArgumentOutOfRangeException(nameof(FeatureChunkBytes), FeatureChunkBytes, "The feature chunk must be between 64 KiB and 64 MiB.");
    }
}
