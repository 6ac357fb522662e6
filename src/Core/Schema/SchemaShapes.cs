using Components.Core.Internal;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Schema;

/// <summary>Builds estimator-time <see cref="SchemaShape"/>s (ML.NET keeps the column constructor internal).</summary>
public static class SchemaShapes
{
    /// <summary>The estimator-time shape of a runtime schema (what <c>EstimatorChain.Fit</c> propagates).</summary>
    public static SchemaShape FromSchema(DataViewSchema schema) => MlNetShim.ShapeOf(schema);

    /// <summary>A known-size Single vector column.</summary>
    public static SchemaShape.Column SingleVector(string name, SchemaShape? annotations = null)
        => MlNetShim.MakeColumn(name, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, annotations);

    /// <summary>A Single scalar column.</summary>
    public static SchemaShape.Column Single(string name, SchemaShape? annotations = null)
        => MlNetShim.MakeColumn(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false, annotations);

    /// <summary>A UInt32 key scalar column.</summary>
    public static SchemaShape.Column Key(string name, SchemaShape? annotations = null)
        => MlNetShim.MakeColumn(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, annotations);

    /// <summary>The annotation shape of a column that carries <c>SlotNames</c> (Text vector).</summary>
    public static SchemaShape SlotNamesAnnotation() => TextVectorAnnotations(AnnotationNames.SlotNames);

    /// <summary>The annotation shape of a key column that carries <c>KeyValues</c> (Text vector).</summary>
    public static SchemaShape KeyValuesAnnotation() => TextVectorAnnotations(AnnotationNames.KeyValues);

    /// <summary>The annotation shape of Text-vector annotations (e.g. <c>SlotNames</c>, <c>KeyValues</c>).</summary>
    public static SchemaShape TextVectorAnnotations(params string[] names)
        => new(names.Select(n => MlNetShim.MakeColumn(n, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false)));

    /// <summary>
    /// The annotation shape of a trainer output column, as ML.NET's trainers declare it: the Text-vector annotations
    /// <paramref name="textVectors"/> (slot names, key values, training label values), then <c>ScoreColumnSetId</c> (UInt32 key),
    /// <c>ScoreColumnKind</c> and <c>ScoreValueKind</c> (Text).
    /// </summary>
    public static SchemaShape ScoreAnnotations(params string[] textVectors)
        => new(TextVectorAnnotations(textVectors).Concat(
        [
            MlNetShim.MakeColumn(AnnotationNames.ScoreColumnSetId, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true),
            MlNetShim.MakeColumn(AnnotationNames.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            MlNetShim.MakeColumn(AnnotationNames.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
        ]));

    /// <summary>The input shape with <paramref name="added"/> columns appended (replacing columns of the same name).</summary>
    public static SchemaShape Append(SchemaShape input, params SchemaShape.Column[] added)
    {
        ArgumentNullException.ThrowIfNull(input);
        var names = new HashSet<string>(added.Select(c => c.Name), StringComparer.Ordinal);
        return new SchemaShape(input.Where(c => !names.Contains(c.Name)).Concat(added));
    }
}
