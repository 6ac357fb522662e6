using System.Globalization;
using Components.Trainers.Gan;
using ScottPlot;

namespace Components.Benchmarks.Gan;

/// <summary>PNG figures of the GAN reproduction (ScottPlot): scatter panels per objective and image sample grids.</summary>
internal static class GanPlots
{
    /// <summary>One panel per objective (5 per row): the mixture means as crosses, the samples as dots, metrics in the title.</summary>
    public static void Scatter(string path, string title, float[,] centers, IReadOnlyList<(string Label, float[] Points, MixtureQuality Quality)> panels)
    {
        const int perRow = 5;
        double xMin = double.MaxValue, xMax = double.MinValue, yMin = double.MaxValue, yMax = double.MinValue;
        for (int k = 0; k < centers.GetLength(0); k++)
        {
            xMin = Math.Min(xMin, centers[k, 0]);
            xMax = Math.Max(xMax, centers[k, 0]);
            yMin = Math.Min(yMin, centers[k, 1]);
            yMax = Math.Max(yMax, centers[k, 1]);
        }
        double pad = 0.25 * Math.Max(xMax - xMin, yMax - yMin);
        double width = xMax - xMin + 2 * pad, height = yMax - yMin + 2 * pad, gap = 0.25 * width;
        var plot = new Plot();
        for (int i = 0; i < panels.Count; i++)
        {
            var (label, points, q) = panels[i];
            double ox = (i % perRow) * (width + gap) - xMin + pad, oy = -(i / perRow) * (height + gap * 1.6) - yMin + pad;
            var frame = plot.Add.Rectangle(ox + xMin - pad, ox + xMax + pad, oy + yMin - pad, oy + yMax + pad);
            frame.FillStyle.Color = Colors.Transparent;
            frame.LineStyle.Color = Colors.Gray;
            int n = points.Length / 2;
            var xs = new double[n];
            var ys = new double[n];
            for (int j = 0; j < n; j++)
            {
                // Samples outside the panel are drawn on its border.
                xs[j] = ox + Math.Clamp(points[2 * j], xMin - pad, xMax + pad);
                ys[j] = oy + Math.Clamp(points[2 * j + 1], yMin - pad, yMax + pad);
            }
            var s = plot.Add.ScatterPoints(xs, ys);
            s.MarkerSize = 2;
            s.Color = Colors.Blue.WithAlpha(0.35);
            var cx = Enumerable.Range(0, centers.GetLength(0)).Select(k => ox + centers[k, 0]).ToArray();
            var cy = Enumerable.Range(0, centers.GetLength(0)).Select(k => oy + centers[k, 1]).ToArray();
            var c = plot.Add.ScatterPoints(cx, cy);
            c.MarkerShape = MarkerShape.Cross;
            c.MarkerSize = 7;
            c.Color = Colors.Red;
            var text = plot.Add.Text(string.Create(CultureInfo.InvariantCulture,
                $"{label}: {q.ModesCovered}/{q.Modes} modes, HQ {q.HighQualityFraction:F2}\nKL(p‖q) {q.ForwardKl:F1}, KL(q‖p) {q.ReverseKl:F1}"), ox + xMin - pad, oy + yMax + pad + 0.05 * height);
            text.LabelFontSize = 11;
            text.LabelAlignment = Alignment.LowerLeft;
        }
        plot.Title(title);
        plot.HideGrid();
        plot.Axes.Frameless();
        plot.Axes.SquareUnits();
        int rows = (panels.Count + perRow - 1) / perRow;
        plot.SavePng(path, 1500, 360 * rows + 80);
    }

    /// <summary>One 8×8 grid of 28×28 samples per objective, side by side, labelled.</summary>
    public static void ImageGrids(string path, IReadOnlyList<(string Label, float[] Images)> grids)
    {
        const int side = 28, per = 8, border = 2;
        int gridSide = per * (side + border);
        var values = new double[gridSide, grids.Count * (gridSide + 3 * border)];
        for (int g = 0; g < grids.Count; g++)
        {
            var images = grids[g].Images;
            int ox = g * (gridSide + 3 * border);
            for (int i = 0; i < per * per && (i + 1) * side * side <= images.Length; i++)
            {
                int gy = i / per * (side + border), gx = ox + i % per * (side + border);
                for (int y = 0; y < side; y++)
                {
                    for (int x = 0; x < side; x++)
                        values[gy + y, gx + x] = images[i * side * side + y * side + x];
                }
            }
        }
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = new ScottPlot.Colormaps.Grayscale();
        for (int g = 0; g < grids.Count; g++)
        {
            var text = plot.Add.Text(grids[g].Label, g * (gridSide + 3 * border) + 2, gridSide + 6);
            text.LabelFontSize = 16;
        }
        plot.Title("DCGAN samples on Fashion-MNIST per generator objective");
        plot.HideGrid();
        plot.Axes.Frameless();
        plot.Axes.SquareUnits();
        plot.SavePng(path, 360 * grids.Count + 40, 440);
    }
}
