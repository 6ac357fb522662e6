using static TorchSharp.torch;

namespace Components.Core.Training;

/// <summary>
/// Mini-batches of rows of one or more tensors that share their first dimension (e.g. features and labels), in a new
/// random order every epoch drawn from the generator passed in (never the global torch seed), or in row order without one.
/// The tensors are not copied or owned: keep them alive, on the training device, while the engine runs.
/// </summary>
public sealed class TensorBatches : IBatchSource<TensorBatch>
{
    private readonly Tensor[] _tensors;
    private readonly Generator? _generator;
    private Tensor? _order;
    private long _next;

    /// <summary>Creates the source.</summary>
    /// <param name="tensors">The data, each with <c>shape[0]</c> rows (the same for all).</param>
    /// <param name="batchSize">Rows per batch, positive; the last batch of an epoch may be smaller unless <paramref name="dropLast"/>.</param>
    /// <param name="shuffle">Generator of the per-epoch permutation (a CPU generator: the permutation is drawn on the CPU and moved to
    /// the data's device), or null for row order.</param>
    /// <param name="dropLast">Skip the last batch of an epoch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <exception cref="ArgumentException">No tensor, a scalar tensor, or tensors with different row counts.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public TensorBatches(IReadOnlyList<Tensor> tensors, int batchSize, Generator? shuffle, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0)
            throw new ArgumentException("At least one tensor is needed.", nameof(tensors));
        if (tensors.Any(t => t is null || t.dim() == 0))
            throw new ArgumentException("Every tensor must have at least one dimension (rows first).", nameof(tensors));
        long rows = tensors[0].shape[0];
        if (tensors.Any(t => t.shape[0] != rows))
        {
            throw new ArgumentException(
                $"Every tensor must have the same number of rows; got [{string.Join(", ", tensors.Select(t => t.shape[0]))}].", nameof(tensors));
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _tensors = [.. tensors];
        _generator = shuffle;
        Rows = rows;
        BatchSize = batchSize;
        DropLast = dropLast;
    }

    /// <summary>Rows of the data.</summary>
    public long Rows { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether a short last batch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>Batches per epoch.</summary>
    public long BatchesPerEpoch => DropLast ? Rows / BatchSize : (Rows + BatchSize - 1) / BatchSize;

    /// <inheritdoc/>
    public void BeginEpoch(int epoch)
    {
        // Lives in the engine's epoch scope.
        _order = _generator is null ? arange(Rows, ScalarType.Int64) : randperm(Rows, generator: _generator);
        _next = 0;
    }

    /// <inheritdoc/>
    public bool TryGetNext(out TensorBatch batch)
    {
        if (_order is null)
            throw new InvalidOperationException($"{nameof(BeginEpoch)} was not called.");
        long rows = Math.Min(BatchSize, Rows - _next);
        if (rows <= 0 || (DropLast && rows < BatchSize))
        {
            batch = null!;
            return false;
        }
        var index = _order.narrow(0, _next, rows).to(_tensors[0].device);
        _next += rows;
        batch = new TensorBatch(index, _tensors.Select(t => t.index_select(0, index)).ToArray());
        return true;
    }
}

/// <summary>One mini-batch of <see cref="TensorBatches"/>: the selected rows of every tensor, in the order they were given.</summary>
public sealed class TensorBatch : IWeightedBatch
{
    private readonly Tensor[] _tensors;

    internal TensorBatch(Tensor indices, Tensor[] tensors)
    {
        Indices = indices;
        _tensors = tensors;
    }

    /// <summary>The rows of tensor <paramref name="i"/> in this batch.</summary>
    public Tensor this[int i] => _tensors[i];

    /// <summary>How many tensors the batch holds.</summary>
    public int Count => _tensors.Length;

    /// <summary>The row indices of this batch into the source tensors (int64, on the data's device).</summary>
    public Tensor Indices { get; }

    /// <summary>Rows in this batch.</summary>
    public long Rows => Indices.shape[0];

    /// <summary>The row count: epoch means are means over rows.</summary>
    public double Weight => Rows;
}
