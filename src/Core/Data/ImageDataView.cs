using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Data;

/// <summary>
/// An in-memory IDataView over byte images and byte labels: <c>Label</c> (UInt32 key with the class names as
/// KeyValues) and <c>Features</c> (Single[pixels] scaled to [0, 1], with its <see cref="ImageShape"/> annotation). Rows are served straight from the byte arrays.
/// </summary>
internal sealed class ImageDataView : IDataView
{
    private readonly byte[] _pixels;
    private readonly byte[] _labels;
    private readonly int[] _rows;
    private readonly int _size;

    public ImageDataView(byte[] pixels, byte[] labels, ImageShape shape, IReadOnlyList<string> classNames, int[] rows)
    {
        int size = shape.Size;
        _pixels = pixels;
        _labels = labels;
        _size = size;
        _rows = rows;
        var builder = new DataViewSchema.Builder();
        var keyAnnotations = OutputColumnAnnotations(classNames);
        builder.AddColumn("Label", new KeyDataViewType(typeof(uint), classNames.Count), keyAnnotations);
        builder.AddColumn("Features", new VectorDataViewType(NumberDataViewType.Single, size), shape.ToAnnotations());
        Schema = builder.ToSchema();
    }

    private static DataViewSchema.Annotations OutputColumnAnnotations(IReadOnlyList<string> names)
    {
        var values = names.Select(n => n.AsMemory()).ToArray();
        var b = new DataViewSchema.Annotations.Builder();
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> g = (ref VBuffer<ReadOnlyMemory<char>> dst) =>
            dst = new VBuffer<ReadOnlyMemory<char>>(values.Length, (ReadOnlyMemory<char>[])values.Clone());
        b.Add(AnnotationNames.KeyValues, new VectorDataViewType(TextDataViewType.Instance, values.Length), g);
        return b.ToAnnotations();
    }

    public bool CanShuffle => true;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows.Length;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int[] order = _rows;
        if (rand is not null)
        {
            order = (int[])_rows.Clone();
            rand.Shuffle(order);
        }
        return new Cursor(this, order, new HashSet<int>(columnsNeeded.Select(c => c.Index)));
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ImageDataView _view;
        private readonly int[] _order;
        private readonly HashSet<int> _active;
        private long _position = -1;

        public Cursor(ImageDataView view, int[] order, HashSet<int> active)
        {
            _view = view;
            _order = order;
            _active = active;
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_position + 1 >= _order.Length)
            {
                _position = _order.Length;
                return false;
            }
            _position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_order[_position], 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index == 0)
            {
                ValueGetter<uint> label = (ref uint v) => v = (uint)_view._labels[_order[_position]] + 1;
                return label as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column 'Label' is a UInt32 key, not {typeof(TValue).Name}.");
            }
            int size = _view._size;
            ValueGetter<VBuffer<float>> features = (ref VBuffer<float> dst) =>
            {
                var editor = VBufferEditor.Create(ref dst, size);
                var src = _view._pixels.AsSpan(_order[_position] * size, size);
                for (int i = 0; i < size; i++)
                    editor.Values[i] = src[i] / 255f;
                dst = editor.Commit();
            };
            return features as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column 'Features' is a vector of Single, not {typeof(TValue).Name}.");
        }
    }
}
