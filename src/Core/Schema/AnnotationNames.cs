namespace Components.Core.Schema;

/// <summary>Names of the standard ML.NET annotations (ML.NET keeps its own constants internal).</summary>
public static class AnnotationNames
{
    /// <summary>Names of the slots of a vector column (Text vector).</summary>
    public const string SlotNames = "SlotNames";

    /// <summary>Values of a key column's keys (Text vector), needed by <c>MapKeyToValue</c>.</summary>
    public const string KeyValues = "KeyValues";
}
