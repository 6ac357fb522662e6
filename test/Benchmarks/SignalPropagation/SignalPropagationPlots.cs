using Components.Kernels.SignalPropagation;
using ScottPlot;

namespace Components.Benchmarks.SignalPropagation;

/// <summary>PNG plots of the signal-propagation component (ScottPlot; the library references only ML.NET and TorchSharp).</summary>
internal static class SignalPropagationPlots
{
    /// <summary>Phase diagram: log₁₀ ξ_c over (σ_w², σ_b²) as a heatmap, with the critical line χ₁ = 1 on top.</summary>
    public static void PhaseDiagram(PhaseDiagram diagram, string path)
    {
        int rows = diagram.BiasVariances.Length, cols = diagram.WeightVariances.Length;
        var values = new double[rows, cols];
        for (int j = 0; j < rows; j++)
            for (int i = 0; i < cols; i++)
            {
                double xi = diagram.CorrelationDepthScale[j, i];
                // ScottPlot draws row 0 at the top: put the largest σ_b² there.
                values[rows - 1 - j, i] = double.IsFinite(xi) && xi > 0 ? Math.Log10(Math.Min(xi, 1e3)) : 3;
            }
        var plt = new Plot();
        var hm = plt.Add.Heatmap(values);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        double w0 = diagram.WeightVariances[0], w1 = diagram.WeightVariances[^1], b0 = diagram.BiasVariances[0], b1 = diagram.BiasVariances[^1];
        double dw = (w1 - w0) / Math.Max(1, cols - 1), db = (b1 - b0) / Math.Max(1, rows - 1);
        hm.Extent = new CoordinateRect(w0 - dw / 2, w1 + dw / 2, b0 - db / 2, b1 + db / 2);
        var bar = plt.Add.ColorBar(hm);
        bar.Label = "log₁₀ ξ_c (layers)";
        var line = plt.Add.Scatter(diagram.CriticalWeightVariance, diagram.BiasVariances);
        line.Color = Colors.White;
        line.LineWidth = 3;
        line.MarkerSize = 0;
        line.LegendText = "critical line χ₁ = 1";
        plt.Title($"{diagram.Nonlinearity}: correlation depth scale ξ_c (ordered left, chaotic right)");
        plt.XLabel("σ_w²");
        plt.YLabel("σ_b²");
        plt.ShowLegend(Alignment.UpperRight);
        plt.SavePng(path, 800, 600);
    }

    /// <summary>Lines (theory) and markers with error bars (simulation) against x.</summary>
    public static void TheoryVersusSimulation(string path, string title, string xLabel, string yLabel,
        IReadOnlyList<(string Name, double[] X, double[] Theory, double[] SimX, double[] Sim, double[] SimError)> series, bool logX = false, bool logY = false)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int s = 0; s < series.Count; s++)
        {
            var (name, x, theory, simX, sim, err) = series[s];
            var color = palette.GetColor(s);
            Func<double, double> fx = logX ? Math.Log10 : v => v;
            Func<double, double> fy = logY ? Math.Log10 : v => v;
            if (theory.Length > 0)
            {
                var line = plt.Add.Scatter(x.Select(fx).ToArray(), theory.Select(fy).ToArray());
                line.Color = color;
                line.MarkerSize = 0;
                line.LineWidth = 2;
                line.LegendText = $"{name}: theory";
            }
            if (sim.Length > 0)
            {
                var pts = plt.Add.ScatterPoints(simX.Select(fx).ToArray(), sim.Select(fy).ToArray());
                pts.Color = color;
                pts.MarkerSize = 7;
                pts.LegendText = $"{name}: simulation";
                if (!logY)
                {
                    var bars = plt.Add.ErrorBar(simX.Select(fx).ToArray(), sim, err.Select(e => 2 * e).ToArray());
                    bars.Color = color;
                }
            }
        }
        plt.Title(title);
        plt.XLabel(logX ? $"log₁₀ {xLabel}" : xLabel);
        plt.YLabel(logY ? $"log₁₀ {yLabel}" : yLabel);
        plt.ShowLegend(Alignment.UpperRight);
        plt.SavePng(path, 800, 560);
    }
}
