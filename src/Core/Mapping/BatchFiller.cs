using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Mapping;

/// <summary>
/// Fills a <see cref="BatchData"/> and runs the mapper on it. Two modes:
/// <list type="bullet">
/// <item><b>Window</b> (cursors): the one cursor over the source reads a window of up to a batch of rows ahead; while
/// it stands on each row, the mapper's inputs go into the batch and the other requested columns (and the row id) into
/// <see cref="RowCache"/>s, from which the cursor serves them. The source is read once, by one cursor; the mapper runs
/// when an appended column of the window is first read.</item>
/// <item><b>Single row</b> (PredictionEngine, chained row mappers): maps the row the getter is called on.</item>
/// </list>
/// </summary>
internal sealed class BatchFiller
{
    private readonly AppendColumnsTransformer _parent;
    private readonly DataViewRowCursor? _cursor;
    private readonly ValueGetter<VBuffer<float>>[] _getters;
    private readonly BatchData _batch;
    private readonly Dictionary<int, RowCache> _passThrough = [];
    private readonly ValueCache<DataViewRowId>? _ids;
    private VBuffer<float> _buffer;
    private bool _mapped;
    private bool _exhausted;
    private int _slot = -1;

    private BatchFiller(AppendColumnsTransformer parent, DataViewRow row, DataViewRowCursor? cursor, int capacity, IEnumerable<DataViewSchema.Column> passThrough)
    {
        _parent = parent;
        _cursor = cursor;
        var inputs = parent.InputColumns;
        _getters = inputs.Select(c => c.IsKey ? KeyGetter(row, c.Name) : row.GetGetter<VBuffer<float>>(row.Schema[c.Name])).ToArray();
        _batch = new BatchData(inputs, parent.OutputColumns, capacity) { SingleRow = cursor is null };
        foreach (var c in passThrough)
            _passThrough[c.Index] = RowCache.Create(row, c, capacity);
        if (cursor is not null)
            _ids = RowCache.Ids(row, capacity);
        Start = -1;
    }

    // A UInt32 key column read as a one-value vector holding its raw value (1-based, 0 = missing).
    private static ValueGetter<VBuffer<float>> KeyGetter(DataViewRow row, string name)
    {
        var key = row.GetGetter<uint>(row.Schema[name]);
        uint value = 0;
        return (ref VBuffer<float> dst) =>
        {
            key(ref value);
            var editor = VBufferEditor.Create(ref dst, 1);
            editor.Values[0] = value;
            dst = editor.Commit();
        };
    }

    /// <summary>Position of the first row in the current batch, or -1.</summary>
    public long Start { get; private set; }

    /// <summary>Window mode: the position of the current row (-1 before the first <see cref="MoveNext"/>).</summary>
    public long Position => Start < 0 ? -1 : Start + _slot;

    public BatchData Batch => _batch;

    /// <summary>
    /// Window mode over <paramref name="cursor"/>, which must be active for the mapper's inputs and for
    /// <paramref name="passThrough"/> (the source columns the caller reads).
    /// </summary>
    public static BatchFiller Window(AppendColumnsTransformer parent, DataViewRowCursor cursor, IEnumerable<DataViewSchema.Column> passThrough)
        => new(parent, cursor, cursor, parent.EffectiveBatchSize, passThrough);

    public static BatchFiller SingleRow(AppendColumnsTransformer parent, DataViewRow row)
        => new(parent, row, null, 1, []);

    /// <summary>Window mode: moves to the next row, reading the next window when the current one is used up.</summary>
    public bool MoveNext()
    {
        if (_cursor is null)
            throw new InvalidOperationException("A single-row filler has no cursor.");
        if (Start >= 0 && _slot + 1 < _batch.Rows)
        {
            _slot++;
            return true;
        }
        if (_exhausted)
            return false;
        long next = Start < 0 ? 0 : Start + _batch.Rows;
        int n = 0;
        while (n < _batch.Capacity && _cursor.MoveNext())
        {
            Read(n, next + n);
            foreach (var cache in _passThrough.Values)
                cache.Capture(n);
            _ids!.Capture(n);
            n++;
        }
        _exhausted = n < _batch.Capacity;
        if (n == 0)
            return false;
        _batch.Rows = n;
        _batch.FirstRowPosition = next;
        Start = next;
        _slot = 0;
        _mapped = false;
        return true;
    }

    /// <summary>Window mode: the getter of a pass-through column (one of those given to <see cref="Window"/>).</summary>
    public Delegate? PassThroughGetter(DataViewSchema.Column column)
        => _passThrough.TryGetValue(column.Index, out var cache) ? cache.Getter(CurrentSlot) : null;

    /// <summary>Window mode: the id getter of the current row.</summary>
    public ValueGetter<DataViewRowId> IdGetter() => _ids!.Typed(CurrentSlot);

    private int CurrentSlot()
    {
        if (Start < 0)
            throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        return _slot;
    }

    /// <summary>Makes the mapped batch contain <paramref name="position"/>; returns its index in the batch.</summary>
    public int Ensure(long position)
    {
        if (_cursor is null)
        {
            if (Start != position || !_mapped)
            {
                _batch.Rows = 1;
                Read(0, position);
                Start = position;
                _batch.FirstRowPosition = position;
                _parent.MapBatch(_batch);
                _mapped = true;
            }
            return 0;
        }
        if (Start < 0 || position < Start || position >= Start + _batch.Rows)
            throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        if (!_mapped)
        {
            _parent.MapBatch(_batch);
            _mapped = true;
        }
        return (int)(position - Start);
    }

    private void Read(int slot, long position)
    {
        var inputs = _parent.InputColumns;
        for (int i = 0; i < inputs.Count; i++)
        {
            _getters[i](ref _buffer);
            var c = inputs[i];
            if (_buffer.Length != c.Size)
                throw Guard.ExceptBadValue(c.Name, RowName(position), $"vector of length {_buffer.Length}, expected {c.Size}");
            var dst = _batch.InputRow(i, slot);
            _buffer.CopyTo(dst);
            if (c.RejectNonFinite)
            {
                for (int j = 0; j < dst.Length; j++)
                {
                    if (!float.IsFinite(dst[j]))
                        throw Guard.ExceptBadValue(c.Name, RowName(position), $"slot {j} is {dst[j]} (features must be finite)");
                }
            }
        }
    }

    // A single row (PredictionEngine) is "the row": its position counts Predict calls, not rows of one input.
    private string RowName(long position) => _cursor is null ? "the row" : $"row {position}";
}
