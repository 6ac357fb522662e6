namespace Components.Orleans.Nngp;

/// <summary>
/// A grain that owns one row-block K[r0:r1, :] of an NNGP (or NTK) kernel over the training set. It is loaded with
/// <see cref="Begin"/>, the training features in chunks (<see cref="AppendFeatures"/>) and <see cref="Build"/>, which
/// computes the block; then it serves partial products, its rows of the diagonal and requested rows. It keeps nothing
/// durable: an activation that is lost with its silo comes back empty, answers <see cref="NngpBlockReply.Loaded"/> =
/// false, and the client loads it again, so it recomputes the same block from the same inputs.
/// </summary>
/// <remarks>
/// Keyed by <c>"{job:N}/{block}"</c>. Every request names the job, so a grain never answers for another job's block.
/// Orleans' own response timeout is raised to one hour on every method ([ResponseTimeout]); the client-side
/// operator enforces its own, shorter timeouts (<see cref="OrleansNngpKernelOperatorFactory"/>).
/// </remarks>
public interface INngpKernelBlockGrain : IGrainWithStringKey
{
    /// <summary>Starts (or restarts) loading a block: forgets any earlier job and prepares to receive the features.</summary>
    /// <exception cref="ArgumentException">The spec is malformed (names the field).</exception>
    [ResponseTimeout("01:00:00")]
    Task Begin(NngpBlockSpec spec);

    /// <summary>Receives training feature rows [firstRow, firstRow + rows) as row-major values.</summary>
    /// <returns>False when the grain is not loading <paramref name="job"/> (it was re-activated): begin again.</returns>
    /// <exception cref="ArgumentException">The chunk does not fit the training set.</exception>
    [ResponseTimeout("01:00:00")]
    Task<bool> AppendFeatures(Guid job, NngpFeatureChunk chunk);

    /// <summary>Computes the block once every feature row has arrived, then drops the features.</summary>
    /// <returns>False when the grain is not loading <paramref name="job"/>: begin again.</returns>
    /// <exception cref="InvalidOperationException">Rows are missing, or the kernel cannot be computed (the message says why, e.g. a NaN feature).</exception>
    [ResponseTimeout("01:00:00")]
    Task<bool> Build(Guid job, CancellationToken cancellation = default);

    /// <summary>The partial product K[r0:r1, :]·V for V = [n, <paramref name="columns"/>] given row-major.</summary>
    /// <exception cref="ArgumentException">V has the wrong size or holds NaN or infinity.</exception>
    [ResponseTimeout("01:00:00")]
    Task<NngpBlockReply> Multiply(Guid job, double[] vector, int columns, CancellationToken cancellation = default);

    /// <summary>The block's rows of the kernel diagonal, K[i, i] for i in [r0, r1).</summary>
    [ResponseTimeout("01:00:00")]
    Task<NngpBlockReply> Diagonal(Guid job);

    /// <summary>Rows of the kernel, K[i, :] for each i (global row indices inside the block), row-major.</summary>
    /// <exception cref="ArgumentException">A row is outside the block.</exception>
    [ResponseTimeout("01:00:00")]
    Task<NngpBlockReply> Rows(Guid job, int[] rows);

    /// <summary>The address of the silo this activation runs on (diagnostics, tests and benchmarks).</summary>
    Task<string> Silo();

    /// <summary>Forgets the block and deactivates the grain.</summary>
    Task Release(Guid job);
}

/// <summary>A chunk of training feature rows sent to a block grain (float32 or float64, as the training tensor).</summary>
[GenerateSerializer, Immutable]
public sealed record NngpFeatureChunk
{
    /// <summary>First training row of the chunk.</summary>
    [Id(0)] public required int FirstRow { get; init; }

    /// <summary>Rows in the chunk.</summary>
    [Id(1)] public required int RowCount { get; init; }

    /// <summary>Row-major float32 values, or null when <see cref="Double"/> is set.</summary>
    [Id(2)] public float[]? Single { get; init; }

    /// <summary>Row-major float64 values, or null when <see cref="Single"/> is set.</summary>
    [Id(3)] public double[]? Double { get; init; }
}

/// <summary>A block grain's answer: the values, or <see cref="Loaded"/> = false when it holds no block of that job.</summary>
[GenerateSerializer, Immutable]
public sealed record NngpBlockReply
{
    /// <summary>False when the grain holds no built block of the job (e.g. re-activated after its silo was lost).</summary>
    [Id(0)] public required bool Loaded { get; init; }

    /// <summary>The values (row-major), empty when not loaded.</summary>
    [Id(1)] public double[] Values { get; init; } = [];

    /// <summary>The reply of a grain that holds no block of the job.</summary>
    public static NngpBlockReply NotLoaded { get; } = new() { Loaded = false };
}
