namespace Components.Core.Schema;

/// <summary>Names of the standard ML.NET annotations (ML.NET keeps its own constants internal).</summary>
public static class AnnotationNames
{
    /// <summary>Names of the slots of a vector column (Text vector).</summary>
    public const string SlotNames = "SlotNames";

    /// <summary>Values of a key column's keys (Text vector), needed by <c>MapKeyToValue</c>.</summary>
    public const string KeyValues = "KeyValues";

    /// <summary>Image shape of a vector column (Int32 vector [channels, height, width]); see <see cref="Schema.ImageShape"/>.</summary>
    public const string ImageShape = "ImageShape";

    /// <summary>Layout of an image vector column (Text, "CHW" or "HWC"); see <see cref="Schema.ImageShape"/>.</summary>
    public const string ImageLayout = "ImageLayout";
}
