using Components.Samplers.Diagnostics;
using Components.Samplers.Sampling;
using ScottPlot;

namespace Components.Benchmarks.L2hmc;

/// <summary>PNG plots of the reproduction (ScottPlot): a chain of each sampler, and autocorrelation vs gradient evaluations.</summary>
internal static class ReproPlots
{
    public static void Save(string folder, ReproTarget target, IReadOnlyList<(string Name, ChainTrace Trace)> runs, double? scale)
    {
        Directory.CreateDirectory(folder);
        var l2hmc = runs[0];
        var hmc = runs[2];   // the middle grid ε (0.15 for the SCG notebook's grid)
        int n = target.Key is "mog" or "mog-anneal" or "ring" ? 200 : 50;

        // One chain of each sampler over the target's exact samples.
        var chainPlot = new Plot();
        var background = target.Energy.SampleExact(2000);
        var bg = background.data<float>().ToArray();
        var cloud = chainPlot.Add.ScatterPoints(Enumerable.Range(0, 2000).Select(i => (double)bg[2 * i]).ToArray(),
            Enumerable.Range(0, 2000).Select(i => (double)bg[2 * i + 1]).ToArray());
        cloud.Color = Colors.Gray.WithAlpha(0.25);
        cloud.MarkerSize = 3;
        cloud.LegendText = "exact samples";
        foreach (var (run, color) in new[] { (hmc, Colors.OrangeRed), (l2hmc, Colors.Blue) })
        {
            var c = run.Trace.Chain(0).Take(n).ToArray();
            var s = chainPlot.Add.Scatter(c.Select(p => (double)p[0]).ToArray(), c.Select(p => (double)p[1]).ToArray());
            s.Color = color;
            s.MarkerSize = 4;
            s.LegendText = $"{run.Name} ({n} MH steps)";
        }
        chainPlot.Title($"{target.Key.ToUpperInvariant()}: one chain, {n} MH steps of 10 gradient evaluations");
        chainPlot.XLabel("x₀");
        chainPlot.YLabel("x₁");
        chainPlot.ShowLegend(Alignment.UpperRight);
        chainPlot.SavePng(Path.Combine(folder, $"l2hmc-{target.Key}-chains.png"), 800, 600);

        // Autocorrelation (paper's acl_spectrum) vs gradient evaluations, as the notebook's figure.
        var acPlot = new Plot();
        foreach (var (name, trace) in runs)
        {
            var acl = McmcDiagnostics.PaperAutocorrelation(trace, scale ?? McmcDiagnostics.RootMeanSquare(trace)).Take(300).ToArray();
            var s = acPlot.Add.Scatter(Enumerable.Range(0, acl.Length).Select(i => 10.0 * i).ToArray(), acl);
            s.MarkerSize = 0;
            s.LegendText = name;
        }
        acPlot.Title($"{target.Key.ToUpperInvariant()}: autocorrelation vs gradient evaluations");
        acPlot.XLabel("Gradient evaluations");
        acPlot.YLabel("Autocorrelation (paper's definition)");
        acPlot.ShowLegend(Alignment.UpperRight);
        acPlot.SavePng(Path.Combine(folder, $"l2hmc-{target.Key}-autocorrelation.png"), 800, 500);
    }
}
