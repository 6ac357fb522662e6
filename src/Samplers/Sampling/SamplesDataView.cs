using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Samplers.Sampling;

/// <summary>
/// An in-memory IDataView of drawn samples: a vector column of states plus the chain index and step of each row.
/// </summary>
internal sealed class SamplesDataView : IDataView
{
    private readonly float[] _values;
    private readonly int[] _chain;
    private readonly int[] _step;
    private readonly int _dimension;

    public SamplesDataView(string sampleColumn, int dimension, float[] values, int[] chain, int[] step)
    {
        _values = values;
        _chain = chain;
        _step = step;
        _dimension = dimension;
        var b = new DataViewSchema.Builder();
        b.AddColumn(sampleColumn, new VectorDataViewType(NumberDataViewType.Single, dimension));
        b.AddColumn("Chain", NumberDataViewType.Int32);
        b.AddColumn("Step", NumberDataViewType.Int32);
        Schema = b.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _chain.Length;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly SamplesDataView _parent;
        private readonly HashSet<int> _active;
        private long _position = -1;

        public Cursor(SamplesDataView parent, HashSet<int> active)
        {
            _parent = parent;
            _active = active;
        }

        public override DataViewSchema Schema => _parent.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_position + 1 >= _parent._chain.Length)
            {
                _position = _parent._chain.Length;
                return false;
            }
            _position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
            Delegate getter = column.Index switch
            {
                0 => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    int d = _parent._dimension;
                    var editor = VBufferEditor.Create(ref dst, d);
                    _parent._values.AsSpan((int)(_position * d), d).CopyTo(editor.Values);
                    dst = editor.Commit();
                }),
                1 => (ValueGetter<int>)((ref int dst) => dst = _parent._chain[_position]),
                _ => (ValueGetter<int>)((ref int dst) => dst = _parent._step[_position]),
            };
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Invalid TValue in GetGetter for column '{column.Name}': expected {column.Type.RawType.Name}, got {typeof(TValue).Name}.");
        }
    }
}
