using Components.Transforms.Svcca;
using ScottPlot;

namespace Components.Benchmarks.Svcca;

/// <summary>Heatmap PNG of a <see cref="SimilarityMatrix"/> (ScottPlot; kept out of the library, which references only ML.NET and TorchSharp).</summary>
internal static class SvccaHeatmap
{
    public static void Save(SimilarityMatrix matrix, string path, string title)
    {
        var plt = new Plot();
        // ScottPlot draws row 0 at the top; keep the matrix orientation.
        var hm = plt.Add.Heatmap(matrix.ToArray());
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.ManualRange = new ScottPlot.Range(0, 1);
        plt.Add.ColorBar(hm);
        for (int i = 0; i < matrix.Rows; i++)
            for (int j = 0; j < matrix.Columns; j++)
            {
                var txt = plt.Add.Text(matrix[i, j].ToString("F2", System.Globalization.CultureInfo.InvariantCulture), j, matrix.Rows - 1 - i);
                txt.LabelFontColor = matrix[i, j] > 0.6 ? Colors.Black : Colors.White;
                txt.LabelAlignment = Alignment.MiddleCenter;
            }
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, matrix.Columns).Select(j => (double)j).ToArray(), matrix.ColumnNames.ToArray());
        plt.Axes.Left.SetTicks(Enumerable.Range(0, matrix.Rows).Select(i => (double)(matrix.Rows - 1 - i)).ToArray(), matrix.RowNames.ToArray());
        plt.Title(title);
        plt.SavePng(path, 760, 600);
    }
}
