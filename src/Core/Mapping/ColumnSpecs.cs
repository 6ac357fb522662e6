using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Mapping;

/// <summary>An input column read by an <see cref="AppendColumnsTransformer"/>: a known-size Single vector.</summary>
/// <param name="Name">Column name.</param>
/// <param name="Size">Expected vector length.</param>
/// <param name="Role">Role named in error messages (e.g. <c>feature</c>).</param>
/// <param name="RejectNonFinite">Throw <see cref="InvalidOperationException"/> on NaN or infinite values.</param>
public sealed record InputColumn(string Name, int Size, string Role = "input", bool RejectNonFinite = true);

/// <summary>The kinds of column an <see cref="AppendColumnsTransformer"/> can append.</summary>
public enum OutputKind
{
    /// <summary>Known-size vector of Single.</summary>
    Vector,

    /// <summary>Single scalar.</summary>
    Single,

    /// <summary>UInt32 key; the batch buffer holds the 1-based key value (0 = missing).</summary>
    Key,
}

/// <summary>A column appended by an <see cref="AppendColumnsTransformer"/>.</summary>
public sealed class OutputColumn
{
    private readonly IReadOnlyList<string>? _names;

    private OutputColumn(string name, OutputKind kind, int width, IReadOnlyList<string>? names, ImageShape? imageShape = null)
    {
        ImageShape = imageShape;
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Kind = kind;
        Width = width;
        _names = names;
        Type = kind switch
        {
            OutputKind.Vector => new VectorDataViewType(NumberDataViewType.Single, width),
            OutputKind.Single => NumberDataViewType.Single,
            _ => new KeyDataViewType(typeof(uint), width),
        };
    }

    /// <summary>Column name.</summary>
    public string Name { get; }

    /// <summary>Column kind.</summary>
    public OutputKind Kind { get; }

    /// <summary>Values per row in the batch buffer (vector length; 1 for scalars; key count for keys).</summary>
    public int Width { get; }

    /// <summary>The image shape annotation of a vector column, or null.</summary>
    public ImageShape? ImageShape { get; }

    /// <summary>ML.NET type of the column.</summary>
    public DataViewType Type { get; }

    /// <summary>Values per row in the batch buffer.</summary>
    internal int BufferWidth => Kind == OutputKind.Vector ? Width : 1;

    /// <summary>A known-size Single vector column, optionally with slot names and an image shape (see <see cref="Schema.ImageShape"/>).</summary>
    public static OutputColumn Vector(string name, int size, IReadOnlyList<string>? slotNames = null, ImageShape? imageShape = null)
    {
        if (imageShape is not null && imageShape.Size != size)
            throw new ArgumentException($"The image shape {imageShape} has {imageShape.Size} values; the vector has {size}.", nameof(imageShape));
        if (size <= 0)
            throw new ArgumentOutOfRangeException(nameof(size), "Vector size must be positive.");
        if (slotNames is not null && slotNames.Count != size)
            throw new ArgumentException("Slot names must match the vector size.", nameof(slotNames));
        return new(name, OutputKind.Vector, size, slotNames, imageShape);
    }

    /// <summary>A Single scalar column.</summary>
    public static OutputColumn Scalar(string name) => new(name, OutputKind.Single, 1, null);

    /// <summary>A UInt32 key column with its key values (needed by <c>MapKeyToValue</c>).</summary>
    public static OutputColumn Key(string name, IReadOnlyList<string> keyValues)
    {
        ArgumentNullException.ThrowIfNull(keyValues);
        if (keyValues.Count == 0)
            throw new ArgumentException("A key column needs at least one key value.", nameof(keyValues));
        return new(name, OutputKind.Key, keyValues.Count, keyValues);
    }

    /// <summary>The estimator-time shape of this column.</summary>
    public SchemaShape.Column ToShape() => Kind switch
    {
        OutputKind.Vector => SchemaShapes.SingleVector(Name, VectorAnnotationShape()),
        OutputKind.Single => SchemaShapes.Single(Name),
        _ => SchemaShapes.Key(Name, SchemaShapes.KeyValuesAnnotation()),
    };

    private SchemaShape? VectorAnnotationShape()
    {
        var columns = new List<SchemaShape.Column>();
        if (_names is not null)
            columns.AddRange(SchemaShapes.SlotNamesAnnotation());
        if (ImageShape is not null)
            columns.AddRange(Schema.ImageShape.AnnotationShape());
        return columns.Count == 0 ? null : new SchemaShape(columns);
    }

    /// <summary>The runtime annotations of this column (slot names or key values; the image shape).</summary>
    public DataViewSchema.Annotations BuildAnnotations()
    {
        var builder = new DataViewSchema.Annotations.Builder();
        if (_names is not null)
        {
            var kind = Kind == OutputKind.Key ? AnnotationNames.KeyValues : AnnotationNames.SlotNames;
            var values = _names.Select(s => s.AsMemory()).ToArray();
            ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> dst) =>
                dst = new VBuffer<ReadOnlyMemory<char>>(values.Length, (ReadOnlyMemory<char>[])values.Clone());
            builder.Add(kind, new VectorDataViewType(TextDataViewType.Instance, values.Length), getter);
        }
        ImageShape?.AddTo(builder);
        return builder.ToAnnotations();
    }
}
