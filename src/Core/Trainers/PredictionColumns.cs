using Components.Core.Mapping;
using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Trainers;

/// <summary>
/// The output columns of suite trainers, in ML.NET's contract, so that <c>Evaluate</c>, <c>CrossValidate</c>,
/// <c>MapKeyToValue</c> and PredictionEngine work: multiclass = <c>Score</c> (Single[K] with slot names) +
/// <c>PredictedLabel</c> (key with the class names as KeyValues, carried by the model); regression = <c>Score</c>.
/// </summary>
public static class PredictionColumns
{
    /// <summary>ML.NET's default column names.</summary>
    public const string Features = "Features", Label = "Label", Score = "Score", PredictedLabel = "PredictedLabel";

    /// <summary>Multiclass outputs for the given class names.</summary>
    public static OutputColumn[] Multiclass(IReadOnlyList<string> classNames, string scoreColumn = Score, string predictedLabelColumn = PredictedLabel)
        => [OutputColumn.Vector(scoreColumn, classNames.Count, classNames), OutputColumn.Key(predictedLabelColumn, classNames)];

    /// <summary>Estimator-time shape of the multiclass outputs appended to <paramref name="input"/>, after validating the feature and label columns.</summary>
    public static SchemaShape MulticlassShape(SchemaShape input, string featureColumn, string labelColumn, string scoreColumn = Score, string predictedLabelColumn = PredictedLabel)
    {
        ColumnRules.CheckVector(input, "feature", featureColumn);
        ColumnRules.CheckKey(input, "label", labelColumn);
        return SchemaShapes.Append(input,
            SchemaShapes.SingleVector(scoreColumn, SchemaShapes.SlotNamesAnnotation()),
            SchemaShapes.Key(predictedLabelColumn, SchemaShapes.KeyValuesAnnotation()));
    }

    /// <summary>Regression output.</summary>
    public static OutputColumn[] Regression(string scoreColumn = Score) => [OutputColumn.Scalar(scoreColumn)];

    /// <summary>Estimator-time shape of the regression output appended to <paramref name="input"/>, after validating the feature and label columns.</summary>
    public static SchemaShape RegressionShape(SchemaShape input, string featureColumn, string labelColumn, string scoreColumn = Score)
    {
        ColumnRules.CheckVector(input, "feature", featureColumn);
        ColumnRules.CheckSingle(input, "label", labelColumn);
        return SchemaShapes.Append(input, SchemaShapes.Single(scoreColumn));
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
