using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Mapping;

/// <summary>
/// Fills a <see cref="BatchData"/> with the rows starting at a position and runs the mapper on it. The cursor variant
/// reads ahead with a second, unshuffled cursor over the same source (row order is deterministic for an
/// unshuffled cursor), so the primary cursor stays a plain pass-through.
/// </summary>
internal sealed class BatchFiller : IDisposable
{
    private readonly AppendColumnsTransformer _parent;
    private readonly DataViewRow _row;
    private readonly DataViewRowCursor? _cursor;
    private readonly ValueGetter<VBuffer<float>>[] _getters;
    private readonly BatchData _batch;
    private VBuffer<float> _buffer;
    private bool _exhausted;

    private BatchFiller(AppendColumnsTransformer parent, DataViewRow row, DataViewRowCursor? cursor, int capacity)
    {
        _parent = parent;
        _row = row;
        _cursor = cursor;
        var inputs = parent.InputColumns;
        _getters = inputs.Select(c => row.GetGetter<VBuffer<float>>(row.Schema[c.Name])).ToArray();
        _batch = new BatchData(inputs, parent.OutputColumns, capacity) { SingleRow = cursor is null };
        Start = -1;
    }

    /// <summary>Position of the first row in the current batch, or -1.</summary>
    public long Start { get; private set; }

    public BatchData Batch => _batch;

    public static BatchFiller Lookahead(AppendColumnsTransformer parent, IDataView source)
    {
        var cols = parent.InputColumns.Select(c => source.Schema[c.Name]).ToList();
        var cursor = source.GetRowCursor(cols);
        return new BatchFiller(parent, cursor, cursor, parent.EffectiveBatchSize);
    }

    public static BatchFiller SingleRow(AppendColumnsTransformer parent, DataViewRow row)
        => new(parent, row, null, 1);

    /// <summary>Makes the batch contain <paramref name="position"/>; returns its index in the batch.</summary>
    public int Ensure(long position)
    {
        if (Start >= 0 && position >= Start && position < Start + _batch.Rows)
            return (int)(position - Start);
        if (_cursor is null)
        {
            _batch.Rows = 1;
            Read(0, position);
        }
        else
        {
            if (_exhausted || _cursor.Position > position)
                throw new InvalidOperationException("The source produced rows in a different order on two cursors; it cannot be mapped lazily.");
            while (_cursor.Position < position)
            {
                if (!_cursor.MoveNext())
                    throw new InvalidOperationException("The source produced fewer rows on a second cursor; it cannot be mapped lazily.");
            }
            int n = 0;
            do
            {
                Read(n++, _cursor.Position);
            }
            while (n < _batch.Capacity && (_exhausted = !_cursor.MoveNext()) == false);
            _batch.Rows = n;
        }
        Start = position;
        _batch.FirstRowPosition = position;
        _parent.MapBatch(_batch);
        return 0;
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

    public void Dispose() => _cursor?.Dispose();
}
