using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Tensors;

/// <summary>Size limits of <see cref="RowStorage"/>; tests lower them to exercise the large-data paths on small data.</summary>
/// <param name="MaxManagedElements">Largest tensor (in values) backed by one managed array (0: always native).</param>
/// <param name="MaxBlockBytes">Largest block of rows handed out as one span (a span's length is an int).</param>
/// <param name="HugePageHint">Advise transparent huge pages for native blocks before their first touch (Linux).</param>
internal sealed record StorageLimits(long MaxManagedElements, long MaxBlockBytes, bool HugePageHint = true)
{
    public static readonly StorageLimits Default = new(Array.MaxLength, int.MaxValue);
}

/// <summary>
/// The storage of an [n, d] float32 CPU tensor being filled row by row, handed out in blocks of whole rows whose
/// spans stay under <see cref="StorageLimits.MaxBlockBytes"/>. Up to <see cref="StorageLimits.MaxManagedElements"/>
/// values it is one uninitialised managed array that the tensor wraps without a copy (torch.from_array); above, a
/// native tensor read through narrow views of at most a block each, each advised to use huge pages before its first
/// touch (<see cref="HugePages"/>). Row offsets are 64-bit throughout.
/// </summary>
internal sealed class RowStorage : IDisposable
{
    private readonly long _rows;
    private readonly int _d;
    private readonly long _blockRows;
    private readonly float[]? _array;
    private Tensor? _tensor;
    private Tensor? _view;

    public RowStorage(long rows, int d, StorageLimits limits)
    {
        if (rows < 0 || d <= 0)
            throw new ArgumentOutOfRangeException(nameof(rows));
        _rows = rows;
        _d = d;
        long total = checked(rows * d);
        _blockRows = BlockRowsFor(d, limits);
        _hugePageHint = limits.HugePageHint;
        if (total <= limits.MaxManagedElements)
        {
            _array = GC.AllocateUninitializedArray<float>((int)total);
            _blockRows = Math.Max(rows, 1); // one block: the whole array (its length is an int)
        }
        else
        {
            _tensor = torch.empty([rows, d], ScalarType.Float32);
            _tensor.DetachFromDisposeScope();
        }
    }

    private readonly bool _hugePageHint;

    /// <summary>Rows per block (the last block may be shorter).</summary>
    public long BlockRows => _blockRows;

    /// <summary>The block holding <paramref name="row"/>: its span and its rows [start, end).</summary>
    public Span<float> Block(long row, out long start, out long end)
    {
        if (row < 0 || row >= _rows)
            throw new ArgumentOutOfRangeException(nameof(row));
        (start, end) = BlockRange(row, _blockRows, _rows);
        if (_array is not null)
            return _array.AsSpan();
        _view?.Dispose();
        _view = _tensor!.narrow(0, start, end - start);
        _view.DetachFromDisposeScope();
        var bytes = _view.bytes;
        if (_hugePageHint)
            HugePages.Advise(bytes);
        return MemoryMarshal.Cast<byte, float>(bytes);
    }

    /// <summary>The span of the block last handed out by <see cref="Block"/>.</summary>
    public Span<float> Current => _array is not null ? _array.AsSpan() : MemoryMarshal.Cast<byte, float>(_view!.bytes);

    /// <summary>Rows per block of a native tensor: as many whole rows of d values as fit in a block (at least one).</summary>
    internal static long BlockRowsFor(int d, StorageLimits limits) => Math.Max(1, limits.MaxBlockBytes / (sizeof(float) * (long)d));

    /// <summary>The rows [start, end) of the block holding <paramref name="row"/>.</summary>
    internal static (long Start, long End) BlockRange(long row, long blockRows, long rows)
    {
        long start = row / blockRows * blockRows;
        return (start, Math.Min(rows, start + blockRows));
    }

    /// <summary>The tensor (owned by this storage until <see cref="Detach"/>).</summary>
    public Tensor Tensor
    {
        get
        {
            if (_tensor is null)
            {
                using var flat = torch.from_array(_array!);
                _tensor = flat.view(_rows, _d);
                _tensor.DetachFromDisposeScope();
            }
            return _tensor;
        }
    }

    /// <summary>Hands the tensor to the caller (registered on the caller's dispose scope, if any).</summary>
    public Tensor Detach()
    {
        var t = Tensor;
        _tensor = null;
        var result = t.alias();
        t.Dispose();
        return result;
    }

    public void Dispose()
    {
        _view?.Dispose();
        _view = null;
        _tensor?.Dispose();
        _tensor = null;
    }
}
