namespace Components.Core.Schema;

/// <summary>Names of the standard ML.NET annotations (ML.NET keeps its own constants internal).</summary>
public static class AnnotationNames
{
    /// <summary>Names of the slots of a vector column (Text vector).</summary>
    public const string SlotNames = "SlotNames";

    /// <summary>Class names of the training label on a multiclass <c>Score</c> column (Text vector).</summary>
    public const string TrainingLabelValues = "TrainingLabelValues";

    /// <summary>The task of a trainer's output column (Text), e.g. <c>MulticlassClassification</c>, <c>Regression</c>.</summary>
    public const string ScoreColumnKind = "ScoreColumnKind";

    /// <summary>The role of a trainer's output column (Text): <c>Score</c> or <c>PredictedLabel</c>.</summary>
    public const string ScoreValueKind = "ScoreValueKind";

    /// <summary>Groups the output columns of one scorer (UInt32 key); each scorer in a pipeline takes the next id.</summary>
    public const string ScoreColumnSetId = "ScoreColumnSetId";

    /// <summary>Values of a key column's keys (Text vector), needed by <c>MapKeyToValue</c>.</summary>
    public const string KeyValues = "KeyValues";

    /// <summary>Image shape of a vector column (Int32 vector [channels, height, width]); see <see cref="Schema.ImageShape"/>.</summary>
    public const string ImageShape = "ImageShape";

    /// <summary>Layout of an image vector column (Text, "CHW" or "HWC"); see <see cref="Schema.ImageShape"/>.</summary>
    public const string ImageLayout = "ImageLayout";
}
