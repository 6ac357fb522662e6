using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Schema;

/// <summary>
/// Column validation shared by estimators (<see cref="SchemaShape"/>) and transformers (<see cref="DataViewSchema"/>),
/// so that <c>GetOutputSchema</c> fails exactly as fast, and with the same message, as <c>Fit</c>.
/// </summary>
public static class ColumnRules
{
    /// <summary>Expected-type text used in messages for a float vector of known size.</summary>
    public static string VectorText(int? size) => size is int n ? $"known-size vector of Single of length {n}" : "known-size vector of Single";

    /// <summary>Validates a float-vector column of a runtime schema and returns its size.</summary>
    public static int CheckVector(DataViewSchema schema, string role, string name, int? expectedSize = null)
    {
        var col = Guard.FindColumn(schema, role, name);
        if (col.Type is not VectorDataViewType v || v.ItemType != NumberDataViewType.Single || !v.IsKnownSize || (expectedSize is int n && v.Size != n))
            throw Guard.ExceptSchemaMismatch(role, name, VectorText(expectedSize), col.Type.ToString() ?? "?");
        return v.Size;
    }

    /// <summary>Validates a float-vector column of an estimator-time schema shape (size is not known there).</summary>
    public static SchemaShape.Column CheckVector(SchemaShape shape, string role, string name)
    {
        var col = Guard.FindColumn(shape, role, name);
        if (col.Kind != SchemaShape.Column.VectorKind.Vector || col.ItemType != NumberDataViewType.Single || col.IsKey)
            throw Guard.ExceptSchemaMismatch(role, name, VectorText(null), Describe(col));
        return col;
    }

    /// <summary>Validates a key-typed label column (runtime) and returns its cardinality.</summary>
    public static int CheckKey(DataViewSchema schema, string role, string name)
    {
        var col = Guard.FindColumn(schema, role, name);
        if (col.Type is not KeyDataViewType k || k.Count == 0 || k.Count > int.MaxValue)
            throw Guard.ExceptSchemaMismatch(role, name, "key type of known cardinality (use MapValueToKey)", col.Type.ToString() ?? "?");
        return (int)k.Count;
    }

    /// <summary>Validates a key-typed label column (estimator time).</summary>
    public static SchemaShape.Column CheckKey(SchemaShape shape, string role, string name)
    {
        var col = Guard.FindColumn(shape, role, name);
        if (!col.IsKey || col.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw Guard.ExceptSchemaMismatch(role, name, "key type of known cardinality (use MapValueToKey)", Describe(col));
        return col;
    }

    /// <summary>Validates a Single scalar column (runtime).</summary>
    public static void CheckSingle(DataViewSchema schema, string role, string name)
    {
        var col = Guard.FindColumn(schema, role, name);
        if (col.Type != NumberDataViewType.Single)
            throw Guard.ExceptSchemaMismatch(role, name, "Single", col.Type.ToString() ?? "?");
    }

    /// <summary>Validates a Single scalar column (estimator time).</summary>
    public static SchemaShape.Column CheckSingle(SchemaShape shape, string role, string name)
    {
        var col = Guard.FindColumn(shape, role, name);
        if (col.Kind != SchemaShape.Column.VectorKind.Scalar || col.ItemType != NumberDataViewType.Single || col.IsKey)
            throw Guard.ExceptSchemaMismatch(role, name, "Single", Describe(col));
        return col;
    }

    /// <summary>Human-readable type of a schema-shape column, as ML.NET prints it.</summary>
    public static string Describe(SchemaShape.Column col)
    {
        var item = col.IsKey ? $"Key<{col.ItemType}>" : col.ItemType?.ToString() ?? "?";
        return col.Kind switch
        {
            SchemaShape.Column.VectorKind.Scalar => item,
            SchemaShape.Column.VectorKind.Vector => $"Vector<{item}>",
            _ => $"VarVector<{item}>",
        };
    }
}
