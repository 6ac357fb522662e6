using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Harness;

/// <summary>Describes column annotations (name, type, value) so that tests can compare them with ML.NET's own trainers'.</summary>
public static class AnnotationDump
{
    /// <summary>"name: type = value" for every annotation of <paramref name="column"/>, sorted by name.</summary>
    public static string[] Describe(DataViewSchema.Column column)
        => column.Annotations.Schema
            .Select(a => $"{a.Name}: {a.Type} = {Value(column.Annotations, a)}")
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary>"name: item type, kind, isKey" for every annotation of an estimator-time column, sorted by name.</summary>
    public static string[] Describe(SchemaShape.Column column)
        => column.Annotations
            .Select(a => $"{a.Name}: {a.ItemType}, {a.Kind}, key={a.IsKey}")
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static string Value(DataViewSchema.Annotations annotations, DataViewSchema.Column annotation)
    {
        var raw = annotation.Type.RawType;
        var method = typeof(AnnotationDump).GetMethod(nameof(Read), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        return (string)method.MakeGenericMethod(raw).Invoke(null, [annotations, annotation.Name])!;
    }

    private static string Read<T>(DataViewSchema.Annotations annotations, string name)
    {
        T value = default!;
        annotations.GetValue(name, ref value);
        return value switch
        {
            VBuffer<ReadOnlyMemory<char>> text => "[" + string.Join(", ", text.DenseValues().Select(v => v.ToString())) + "]",
            ReadOnlyMemory<char> text => text.ToString(),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value?.ToString() ?? "null",
        };
    }
}
