using Components.Core.Mapping;
using Components.Core.Schema;
using Microsoft.ML;

namespace Components.Core.Trainers;

/// <summary>
/// The output columns of suite trainers, in ML.NET's contract, so that <c>Evaluate</c>, <c>CrossValidate</c>,
/// <c>MapKeyToValue</c>, <c>PermutationFeatureImportance</c> and PredictionEngine work: multiclass = <c>Score</c>
/// (Single[K] with the class names as <c>SlotNames</c> and <c>TrainingLabelValues</c>) + <c>PredictedLabel</c> (key
/// with the class names as <c>KeyValues</c>, carried by the model); regression = <c>Score</c> (Single). Every output
/// carries the scorer annotations ML.NET's own trainers set (<c>ScoreColumnKind</c>, <c>ScoreValueKind</c>,
/// <c>ScoreColumnSetId</c>), at estimator time (<see cref="MulticlassShape"/>, <see cref="RegressionShape"/>) and at run time.
/// </summary>
public static class PredictionColumns
{
    /// <summary>ML.NET's default column names.</summary>
    public const string Features = "Features", Label = "Label", Score = "Score", PredictedLabel = "PredictedLabel";

    /// <summary><c>ScoreColumnKind</c> of multiclass outputs.</summary>
    public const string MulticlassKind = "MulticlassClassification";

    /// <summary><c>ScoreColumnKind</c> of regression outputs.</summary>
    public const string RegressionKind = "Regression";

    /// <summary>Multiclass outputs for the given class names.</summary>
    public static OutputColumn[] Multiclass(IReadOnlyList<string> classNames, string scoreColumn = Score, string predictedLabelColumn = PredictedLabel)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        return
        [
            OutputColumn.Vector(scoreColumn, classNames.Count, classNames).WithScore(new ScoreAnnotations(MulticlassKind, Score, TrainingLabelValues: true)),
            OutputColumn.Key(predictedLabelColumn, classNames).WithScore(new ScoreAnnotations(MulticlassKind, PredictedLabel)),
        ];
    }

    /// <summary>Estimator-time shape of the multiclass outputs appended to <paramref name="input"/>, after validating the feature and label columns.</summary>
    public static SchemaShape MulticlassShape(SchemaShape input, string featureColumn, string labelColumn, string scoreColumn = Score, string predictedLabelColumn = PredictedLabel)
    {
        ColumnRules.CheckVector(input, "feature", featureColumn);
        ColumnRules.CheckKey(input, "label", labelColumn);
        return SchemaShapes.Append(input,
            SchemaShapes.SingleVector(scoreColumn, SchemaShapes.ScoreAnnotations(AnnotationNames.SlotNames, AnnotationNames.TrainingLabelValues)),
            SchemaShapes.Key(predictedLabelColumn, SchemaShapes.ScoreAnnotations(AnnotationNames.KeyValues)));
    }

    /// <summary>Regression output.</summary>
    public static OutputColumn[] Regression(string scoreColumn = Score)
        => [OutputColumn.Scalar(scoreColumn).WithScore(new ScoreAnnotations(RegressionKind, Score))];

    /// <summary>Estimator-time shape of the regression output appended to <paramref name="input"/>, after validating the feature and label columns.</summary>
    public static SchemaShape RegressionShape(SchemaShape input, string featureColumn, string labelColumn, string scoreColumn = Score)
    {
        ColumnRules.CheckVector(input, "feature", featureColumn);
        ColumnRules.CheckSingle(input, "label", labelColumn);
        return SchemaShapes.Append(input, SchemaShapes.Single(scoreColumn, SchemaShapes.ScoreAnnotations()));
    }

    /// <summary>Writes argmax+1 (1-based key) of each row of <paramref name="scores"/> (rows × k) into <paramref name="keys"/>.</summary>
    public static void ArgMaxKeys(ReadOnlySpan<float> scores, int k, Span<float> keys)
    {
        int rows = scores.Length / k;
        for (int r = 0; r < rows; r++)
        {
            var row = scores.Slice(r * k, k);
            int best = 0;
            for (int j = 1; j < k; j++)
            {
                if (row[j] > row[best])
                    best = j;
            }
            keys[r] = best + 1;
        }
    }
}
