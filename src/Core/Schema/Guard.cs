using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Schema;

/// <summary>
/// The suite's version of ML.NET's internal <c>Contracts</c>: the same exception types and wording, so that tests
/// and users see familiar messages.
/// </summary>
public static class Guard
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for an invalid user argument.</summary>
    public static void CheckUserArg(bool condition, string name, string message)
    {
        if (!condition)
            throw new ArgumentOutOfRangeException(name, message);
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the column, the expected and actual type.</summary>
    public static ArgumentOutOfRangeException ExceptSchemaMismatch(string role, string column, string expected, string actual)
        => new(role, $"Schema mismatch for {role} column '{column}': expected {expected}, got {actual}");

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a column absent from the schema.</summary>
    public static ArgumentOutOfRangeException ExceptColumnNotFound(string role, string column)
        => new(role, $"Could not find {role} column '{column}'");

    /// <summary>Throws <see cref="InvalidOperationException"/> for a bad value in the data.</summary>
    public static InvalidOperationException ExceptBadValue(string column, long row, string what)
        => ExceptBadValue(column, $"row {row}", what);

    /// <summary>Throws <see cref="InvalidOperationException"/> for a bad value in a row described in words (e.g. "the row").</summary>
    public static InvalidOperationException ExceptBadValue(string column, string row, string what)
        => new($"Column '{column}', {row}: {what}.");

    /// <summary>Finds a column in a runtime schema or throws.</summary>
    public static DataViewSchema.Column FindColumn(DataViewSchema schema, string role, string name)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return schema.GetColumnOrNull(name) ?? throw ExceptColumnNotFound(role, name);
    }

    /// <summary>Finds a column in an estimator-time schema shape or throws.</summary>
    public static SchemaShape.Column FindColumn(SchemaShape shape, string role, string name)
    {
        ArgumentNullException.ThrowIfNull(shape);
        foreach (var col in shape)
        {
            if (col.Name == name)
                return col;
        }
        throw ExceptColumnNotFound(role, name);
    }
}
