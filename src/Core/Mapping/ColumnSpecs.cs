using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Mapping;

/// <summary>
/// An input column read by an <see cref="AppendColumnsTransformer"/>: a known-size Single vector, or (with
/// <paramref name="IsKey"/>) a UInt32 key column whose raw value (1-based, 0 = missing) lands in the batch buffer as
/// one Single (then <paramref name="Size"/> is 1; the transformer checks the column in its <c>CheckInputSchema</c>).
/// </summary>
/// <param name="Name">Column name.</param>
/// <param name="Size">Expected vector length (1 for a key).</param>
/// <param name="Role">Role named in error messages (e.g. <c>feature</c>).</param>
/// <param name="RejectNonFinite">Throw <see cref="InvalidOperationException"/> on NaN or infinite values.</param>
/// <param name="IsKey">A UInt32 key column read as its raw value.</param>
public sealed record InputColumn(string Name, int Size, string Role = "input", bool RejectNonFinite = true, bool IsKey = false);

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

    private OutputColumn(string name, OutputKind kind, int width, IReadOnlyList<string>? names, ImageShape? imageShape = null, ScoreAnnotations? score = null)
    {
        ImageShape = imageShape;
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Kind = kind;
        Width = width;
        _names = names;
        Score = score;
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

    /// <summary>The scorer annotations this column carries, if it is a trainer's output (see <see cref="WithScore"/>).</summary>
    public ScoreAnnotations? Score { get; }

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

    /// <summary>
    /// This column marked as a trainer's output, with the annotations ML.NET's scorers set (<c>ScoreColumnKind</c>,
    /// <c>ScoreValueKind</c>, <c>ScoreColumnSetId</c>, and for a multiclass score <c>TrainingLabelValues</c>).
    /// </summary>
    public OutputColumn WithScore(ScoreAnnotations score)
    {
        ArgumentNullException.ThrowIfNull(score);
        if (score.TrainingLabelValues && (_names is null || Kind != OutputKind.Vector))
            throw new ArgumentException("TrainingLabelValues needs a vector column with slot names.", nameof(score));
        return new(Name, Kind, Width, _names, ImageShape, score);
    }

    /// <summary>The estimator-time shape of this column.</summary>
    public SchemaShape.Column ToShape() => Kind switch
    {
        OutputKind.Vector => SchemaShapes.SingleVector(Name, ShapeAnnotations(_names is null ? [] : [AnnotationNames.SlotNames])),
        OutputKind.Single => SchemaShapes.Single(Name, ShapeAnnotations([])),
        _ => SchemaShapes.Key(Name, ShapeAnnotations([AnnotationNames.KeyValues])),
    };

    private SchemaShape? ShapeAnnotations(string[] names)
    {
        var columns = new List<SchemaShape.Column>();
        if (Score is null)
            columns.AddRange(SchemaShapes.TextVectorAnnotations(names));
        else
            columns.AddRange(SchemaShapes.ScoreAnnotations(Score.TrainingLabelValues ? [.. names, AnnotationNames.TrainingLabelValues] : names));
        if (ImageShape is not null)
            columns.AddRange(Schema.ImageShape.AnnotationShape());
        return columns.Count == 0 ? null : new SchemaShape(columns);
    }

    /// <summary>
    /// The runtime annotations of this column: slot names or key values, the image shape, and the scorer annotations
    /// if any. The <c>ScoreColumnSetId</c> is one more than the largest one in <paramref name="inputSchema"/>, as ML.NET
    /// numbers successive scorers (pass the input schema for that; without it the id is 1).
    /// </summary>
    public DataViewSchema.Annotations BuildAnnotations(DataViewSchema? inputSchema = null)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        if (_names is not null)
        {
            var kind = Kind == OutputKind.Key ? AnnotationNames.KeyValues : AnnotationNames.SlotNames;
            AddNames(builder, kind, _names);
            if (Score is { TrainingLabelValues: true })
                AddNames(builder, AnnotationNames.TrainingLabelValues, _names);
        }
        if (Score is not null)
        {
            AddText(builder, AnnotationNames.ScoreColumnKind, Score.ColumnKind);
            AddText(builder, AnnotationNames.ScoreValueKind, Score.ValueKind);
            uint id = ScoreAnnotations.NextSetId(inputSchema);
            builder.Add(AnnotationNames.ScoreColumnSetId, ScoreAnnotations.SetIdType, (ref uint dst) => dst = id);
        }
        ImageShape?.AddTo(builder);
        return builder.ToAnnotations();
    }

    private static void AddNames(DataViewSchema.Annotations.Builder builder, string kind, IReadOnlyList<string> names)
    {
        var values = names.Select(s => s.AsMemory()).ToArray();
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> dst) =>
            dst = new VBuffer<ReadOnlyMemory<char>>(values.Length, (ReadOnlyMemory<char>[])values.Clone());
        builder.Add(kind, new VectorDataViewType(TextDataViewType.Instance, values.Length), getter);
    }

    private static void AddText(DataViewSchema.Annotations.Builder builder, string kind, string value)
    {
        var memory = value.AsMemory();
        builder.Add(kind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> dst) => dst = memory);
    }
}

/// <summary>
/// The annotations ML.NET's scorers put on a trainer's output columns, which tools such as
/// <c>PermutationFeatureImportance</c>, AutoML and the evaluators' default column lookup read.
/// </summary>
/// <param name="ColumnKind"><c>ScoreColumnKind</c>: the task, e.g. <c>MulticlassClassification</c> or <c>Regression</c>.</param>
/// <param name="ValueKind"><c>ScoreValueKind</c>: the column's role, <c>Score</c> or <c>PredictedLabel</c>.</param>
/// <param name="TrainingLabelValues">Also add <c>TrainingLabelValues</c> (the class names), as the multiclass scorer does on <c>Score</c>.</param>
public sealed record ScoreAnnotations(string ColumnKind, string ValueKind, bool TrainingLabelValues = false)
{
    /// <summary>The type of the <c>ScoreColumnSetId</c> annotation: a UInt32 key of <see cref="int.MaxValue"/> values, as in ML.NET.</summary>
    public static KeyDataViewType SetIdType { get; } = new(typeof(uint), int.MaxValue);

    /// <summary>One more than the largest <c>ScoreColumnSetId</c> of <paramref name="schema"/>'s columns (1 when there is none).</summary>
    public static uint NextSetId(DataViewSchema? schema)
    {
        uint max = 0;
        foreach (var column in schema ?? new DataViewSchema.Builder().ToSchema())
        {
            var type = column.Annotations.Schema.GetColumnOrNull(AnnotationNames.ScoreColumnSetId)?.Type;
            if (type is not KeyDataViewType { RawType: var raw } || raw != typeof(uint))
                continue;
            uint id = 0;
            column.Annotations.GetValue(AnnotationNames.ScoreColumnSetId, ref id);
            max = Math.Max(max, id);
        }
        return max + 1;
    }
}
