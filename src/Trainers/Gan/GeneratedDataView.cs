using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Trainers.Gan;

/// <summary>An in-memory IDataView of drawn GAN rows: the noise column and the generated column (row-major arrays).</summary>
internal sealed class GeneratedDataView : IDataView
{
    private readonly float[][] _values;
    private readonly int[] _widths;
    private readonly long _rows;

    public GeneratedDataView(string noiseColumn, int latent, float[] noise, string outputColumn, int size, float[] generated, ImageShape? imageShape)
    {
        _values = [noise, generated];
        _widths = [latent, size];
        _rows = noise.Length / latent;
        var b = new DataViewSchema.Builder();
        b.AddColumn(noiseColumn, new VectorDataViewType(NumberDataViewType.Single, latent));
        b.AddColumn(outputColumn, new VectorDataViewType(NumberDataViewType.Single, size), imageShape?.ToAnnotations());
        Schema = b.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(GeneratedDataView parent, HashSet<int> active) : DataViewRowCursor
    {
        private long _position = -1;

        public override DataViewSchema Schema => parent.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_position + 1 >= parent._rows)
            {
                _position = parent._rows;
                return false;
            }
            _position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
            int c = column.Index;
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
            {
                int w = parent._widths[c];
                var editor = VBufferEditor.Create(ref dst, w);
                parent._values[c].AsSpan((int)(_position * w), w).CopyTo(editor.Values);
                dst = editor.Commit();
            };
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
                $"Invalid TValue in GetGetter for column '{column.Name}': expected VBuffer<Single>, got {typeof(TValue).Name}.");
        }
    }
}
