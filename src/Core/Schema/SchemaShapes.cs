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
    public static SchemaShape.Column Single(string name)
        => MlNetShim.MakeColumn(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false);

    /// <summary>A UInt32 key scalar column.</summary>
    public static SchemaShape.Column Key(string name, SchemaShape? annotations = null)
        => MlNetShim.MakeColumn(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, annotations);

    /// <summary>The annotation shape of a column that carries <c>SlotNames</c> (Text vector).</summary>
    public static SchemaShape SlotNamesAnnotation()
        => new([MlNetShim.MakeColumn(AnnotationNames.SlotNames, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false)]);

    /// <summary>The annotation shape of a key column that carries <c>KeyValues</c> (Text vector).</summary>
    public static SchemaShape KeyValuesAnnotation()
        => new([MlNetShim.MakeColumn(AnnotationNames.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false)]);

    /// <summary>The input shape with <paramref name="added"/> columns appended (replacing columns of the same name).</summary>
    public static SchemaShape Append(SchemaShape input, params SchemaShape.Column[] added)
    {
        ArgumentNullException.ThrowIfNull(input);
        var names = new HashSet<string>(added.Select(c => c.Name), StringComparer.Ordinal);
        return new SchemaShape(input.Where(c => !names.Contains(c.Name)).Concat(added));
    }
}
