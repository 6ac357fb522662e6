using Components.Core.Internal;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Schema;

/// <summary>How the values of one image lie in a flat vector.</summary>
public enum ImageLayout
{
    /// <summary>
    /// Channels first (CHW; rows stacked give NCHW, TorchSharp's convolution layout): value (c, y, x) is at
    /// c·H·W + y·W + x. A CNN layer flattened with <c>flatten(1)</c>.
    /// </summary>
    Chw,

    /// <summary>Channels last (HWC; rows stacked give NHWC, e.g. interleaved RGB pixels): value (c, y, x) is at (y·W + x)·C + c.</summary>
    Hwc,
}

/// <summary>
/// The image shape of a Single vector column: every row is one image of <see cref="Channels"/> × <see cref="Height"/>
/// × <see cref="Width"/> values in <see cref="Layout"/>. Carried as two column annotations:
/// <see cref="AnnotationNames.ImageShape"/> (Int32 vector [channels, height, width]) and
/// <see cref="AnnotationNames.ImageLayout"/> (Text, "CHW" or "HWC"; CHW when absent). Fashion-MNIST's Features carry
/// 1×28×28, LayerActivations columns of convolution layers carry their channels × side × side.
/// </summary>
public sealed record ImageShape
{
    /// <summary>Creates a shape; every dimension must be positive.</summary>
    public ImageShape(int channels, int height, int width, ImageLayout layout = ImageLayout.Chw)
    {
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new ArgumentOutOfRangeException(nameof(channels), $"Image dimensions must be positive, got {channels}×{height}×{width}.");
        if (!Enum.IsDefined(layout))
            throw new ArgumentOutOfRangeException(nameof(layout), layout, "Unknown layout.");
        if ((long)channels * height * width > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(channels), $"A {channels}×{height}×{width} image has more values than a vector column can hold.");
        Channels = channels;
        Height = height;
        Width = width;
        Layout = layout;
    }

    /// <summary>Channels (1 for grey images).</summary>
    public int Channels { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Order of the values in the vector.</summary>
    public ImageLayout Layout { get; }

    /// <summary>Values per image: channels × height × width (the vector size).</summary>
    public int Size => Channels * Height * Width;

    /// <summary>Index in the vector of channel <paramref name="c"/>, row <paramref name="y"/>, column <paramref name="x"/>.</summary>
    public int IndexOf(int c, int y, int x) => Layout == ImageLayout.Chw ? (c * Height + y) * Width + x : (y * Width + x) * Channels + c;

    /// <inheritdoc/>
    public override string ToString() => $"{Channels}×{Height}×{Width} ({Layout.ToString().ToUpperInvariant()})";

    /// <summary>The shape carried by <paramref name="column"/>, or null when it has none (or a malformed one).</summary>
    public static ImageShape? Of(DataViewSchema.Column column)
    {
        var schema = column.Annotations.Schema;
        if (schema.GetColumnOrNull(AnnotationNames.ImageShape) is not { } col
            || col.Type is not VectorDataViewType { Size: 3, ItemType: var item } || item != NumberDataViewType.Int32)
            return null;
        var dims = default(VBuffer<int>);
        column.Annotations.GetValue(AnnotationNames.ImageShape, ref dims);
        var d = dims.DenseValues().ToArray();
        var layout = ImageLayout.Chw;
        if (schema.GetColumnOrNull(AnnotationNames.ImageLayout) is { Type: TextDataViewType })
        {
            var text = default(ReadOnlyMemory<char>);
            column.Annotations.GetValue(AnnotationNames.ImageLayout, ref text);
            if (!TryParseLayout(text.ToString(), out layout))
                return null;
        }
        if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || (long)d[0] * d[1] * d[2] > int.MaxValue)
            return null;
        var shape = new ImageShape(d[0], d[1], d[2], layout);
        return column.Type is VectorDataViewType { Size: var size } && size == shape.Size ? shape : null;
    }

    /// <summary>
    /// The shape of <paramref name="column"/> of <paramref name="schema"/>; throws <see cref="ArgumentOutOfRangeException"/>
    /// naming the column when it carries none or one that does not match its size.
    /// </summary>
    public static ImageShape Require(DataViewSchema schema, string column, string role = "image")
    {
        ArgumentNullException.ThrowIfNull(schema);
        var col = schema.GetColumnOrNull(column) ?? throw Guard.ExceptColumnNotFound(role, column);
        return Of(col) ?? throw Guard.ExceptSchemaMismatch(role, column,
            "a known-size Single vector with an ImageShape annotation (channels, height, width) matching its size", col.Type + " without one");
    }

    /// <summary>Adds the two annotations to <paramref name="builder"/>.</summary>
    public void AddTo(DataViewSchema.Annotations.Builder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        int[] dims = [Channels, Height, Width];
        ValueGetter<VBuffer<int>> shape = (ref VBuffer<int> dst) => dst = new VBuffer<int>(3, (int[])dims.Clone());
        builder.Add(AnnotationNames.ImageShape, new VectorDataViewType(NumberDataViewType.Int32, 3), shape);
        var layout = LayoutName.AsMemory();
        ValueGetter<ReadOnlyMemory<char>> text = (ref ReadOnlyMemory<char> dst) => dst = layout;
        builder.Add(AnnotationNames.ImageLayout, TextDataViewType.Instance, text);
    }

    /// <summary>The annotations of a column with this shape.</summary>
    public DataViewSchema.Annotations ToAnnotations()
    {
        var b = new DataViewSchema.Annotations.Builder();
        AddTo(b);
        return b.ToAnnotations();
    }

    /// <summary>The estimator-time annotation columns (for <c>GetOutputSchema(SchemaShape)</c>).</summary>
    public static IEnumerable<SchemaShape.Column> AnnotationShape() =>
    [
        MlNetShim.MakeColumn(AnnotationNames.ImageShape, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Int32, false),
        MlNetShim.MakeColumn(AnnotationNames.ImageLayout, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
    ];

    /// <summary>
    /// <paramref name="data"/> with <paramref name="shape"/> attached to <paramref name="column"/> (values unchanged;
    /// a lazy view). Throws when the column is not a Single vector of <see cref="Size"/> values.
    /// </summary>
    public static IDataView Annotate(IDataView data, string column, ImageShape shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        ColumnRules.CheckVector(data.Schema, "image", column, shape.Size);
        return new AnnotatedDataView(data, column, shape);
    }

    internal string LayoutName => Layout == ImageLayout.Chw ? "CHW" : "HWC";

    private static bool TryParseLayout(string text, out ImageLayout layout)
    {
        layout = text switch { "CHW" => ImageLayout.Chw, "HWC" => ImageLayout.Hwc, _ => (ImageLayout)(-1) };
        return Enum.IsDefined(layout);
    }

    /// <summary>A view that only changes one column's annotations.</summary>
    private sealed class AnnotatedDataView : IDataView
    {
        private readonly IDataView _inner;

        public AnnotatedDataView(IDataView inner, string column, ImageShape shape)
        {
            _inner = inner;
            var target = inner.Schema[column].Index;
            var builder = new DataViewSchema.Builder();
            foreach (var c in inner.Schema)
            {
                if (c.Index != target)
                {
                    builder.AddColumn(c.Name, c.Type, c.Annotations);
                    continue;
                }
                var annotations = new DataViewSchema.Annotations.Builder();
                annotations.Add(c.Annotations, name => name is not (AnnotationNames.ImageShape or AnnotationNames.ImageLayout));
                shape.AddTo(annotations);
                builder.AddColumn(c.Name, c.Type, annotations.ToAnnotations());
            }
            Schema = builder.ToSchema();
        }

        public bool CanShuffle => _inner.CanShuffle;

        public DataViewSchema Schema { get; }

        public long? GetRowCount() => _inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
            => new Cursor(this, _inner.GetRowCursor(columnsNeeded.Select(c => _inner.Schema[c.Index]), rand));

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
            => _inner.GetRowCursorSet(columnsNeeded.Select(c => _inner.Schema[c.Index]), n, rand).Select(c => (DataViewRowCursor)new Cursor(this, c)).ToArray();

        private sealed class Cursor(AnnotatedDataView view, DataViewRowCursor inner) : DataViewRowCursor
        {
            public override DataViewSchema Schema => view.Schema;

            public override long Position => inner.Position;

            public override long Batch => inner.Batch;

            public override bool MoveNext() => inner.MoveNext();

            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

            public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(inner.Schema[column.Index]);

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(inner.Schema[column.Index]);

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                    inner.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}
