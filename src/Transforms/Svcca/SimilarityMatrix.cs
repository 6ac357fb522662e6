using System.Globalization;
using System.Text;

namespace Components.Transforms.Svcca;

/// <summary>Similarity measures for <see cref="RepresentationComparison"/>.</summary>
public enum SimilarityMeasure
{
    /// <summary>SVCCA mean ρ (<see cref="SvccaResult.Mean"/>).</summary>
    Svcca,

    /// <summary>The reference's thresholded mean ρ (<see cref="SvccaResult.ThresholdMean"/>).</summary>
    SvccaThresholdMean,

    /// <summary>Projection-weighted CCA (<see cref="SvccaResult.Pwcca"/>).</summary>
    Pwcca,

    /// <summary>Linear CKA (<see cref="Cka.Linear"/>).</summary>
    LinearCka,

    /// <summary>RBF CKA with bandwidth 1 (<see cref="Cka.Rbf"/>).</summary>
    RbfCka,
}

/// <summary>Similarities between every layer of one network (rows) and every layer of another (columns).</summary>
public sealed class SimilarityMatrix
{
    private readonly double[,] _values;

    internal SimilarityMatrix(SimilarityMeasure measure, string[] rowNames, string[] columnNames, double[,] values)
    {
        Measure = measure;
        RowNames = rowNames;
        ColumnNames = columnNames;
        _values = values;
    }

    /// <summary>The measure used.</summary>
    public SimilarityMeasure Measure { get; }

    /// <summary>Layer names of the first network (rows).</summary>
    public IReadOnlyList<string> RowNames { get; }

    /// <summary>Layer names of the second network (columns).</summary>
    public IReadOnlyList<string> ColumnNames { get; }

    /// <summary>Rows (layers of the first network).</summary>
    public int Rows => _values.GetLength(0);

    /// <summary>Columns (layers of the second network).</summary>
    public int Columns => _values.GetLength(1);

    /// <summary>Similarity of layer <paramref name="row"/> of network 1 and layer <paramref name="column"/> of network 2.</summary>
    public double this[int row, int column] => _values[row, column];

    /// <summary>A copy of the values [Rows, Columns].</summary>
    public double[,] ToArray() => (double[,])_values.Clone();

    /// <summary>The matrix as CSV (header row of column names, first column of row names), invariant culture.</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder();
        sb.Append(Measure).Append(',').AppendJoin(',', ColumnNames).AppendLine();
        for (int i = 0; i < Rows; i++)
        {
            sb.Append(RowNames[i]);
            for (int j = 0; j < Columns; j++)
                sb.Append(',').Append(_values[i, j].ToString("R", CultureInfo.InvariantCulture));
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
