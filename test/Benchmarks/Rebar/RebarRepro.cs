using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Core.Runtime;
using Components.Core.Tensors;
using Components.Trainers.Rebar;
using Components.Trainers.Rebar.Modules;
using Microsoft.ML;
using ScottPlot;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Benchmarks.Rebar;

/// <summary>
/// REBAR reproduction (Tucker et al. 2017): (1) the toy problem min_θ E[(b − t)²], b ~ Bernoulli(σ(θ)), t = 0.45 —
/// log-variance of each estimator at θ = 0 and σ(θ) after training; (2) a 2-layer linear sigmoid belief network on
/// binarized Fashion-MNIST trained with each estimator for the same steps: the tracked log-variance of the gradient
/// (PNG), the ELBO and the IWAE bound (k = 1000) on test rows, and the training −ELBO at equal wall-clock time.
/// <c>dotnet run -c Release --project test/Benchmarks -- rebar-repro [--steps 1000] [--train 10000] [--test 200] [--layers 2] [--png docs/images/rebar-log-variance.png]</c>
/// </summary>
public static class RebarRepro
{
    private static readonly GradientEstimatorKind[] s_all = Enum.GetValues<GradientEstimatorKind>();

    public static int Run(string[] args)
    {
        torch.set_num_threads(1);
        int steps = Arg(args, "--steps", 1000), trainRows = Arg(args, "--train", 10000), testRows = Arg(args, "--test", 200), layers = Arg(args, "--layers", 2);
        string png = ArgS(args, "--png", "docs/images/rebar-log-variance.png");
        Console.WriteLine($"loadavg {LoadAvg()}");
        Toy();
        Sbn(steps, trainRows, testRows, layers, png);
        Console.WriteLine($"loadavg {LoadAvg()}");
        return 0;
    }

    private static void Toy()
    {
        const double t = 0.45;
        Console.WriteLine($"## Toy problem: minimise E[(b − {t})²], b ~ Bernoulli(σ(θ)); exact gradient at θ = 0: {ExactToyGradient(0, t):F5}");
        Console.WriteLine("| estimator | mean gradient at θ = 0 (10⁵ draws) | log variance at θ = 0, initial control variates | σ(θ) after 2000 Adam steps (lr 0.01, 1 sample; optimum 0) | log variance there, trained control variates (2000 draws) |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var kind in s_all)
        {
            using var scope = NewDisposeScope();
            const int draws = 100_000;
            var theta = new Parameter(zeros(draws, 1, dtype: ScalarType.Float64));
            using var est = new BernoulliGradientEstimator(kind, [theta], latentWidth: 1, dtype: ScalarType.Float64, initialization: new Generator(1));
            // Variance across independent draws at θ = 0, with the control variates at their initial values.
            var e = est.Estimate(l => (l.Sample(theta) - t).pow(2).sum(1), new Generator(2), controlVariateGradients: false);
            var perDraw = e.ModelGradients[0] * draws;
            double mean = perDraw.mean().ToDouble(), logVar = Math.Log(perDraw.var().ToDouble());
            // Training: one sample per step, control variates trained too (10× the rate).
            var th = new Parameter(zeros(1, 1, dtype: ScalarType.Float64));
            using var trainer = new BernoulliGradientEstimator(kind, [th], latentWidth: 1, dtype: ScalarType.Float64, initialization: new Generator(1));
            using var opt = optim.Adam([th], 0.01);
            using var cvOpt = trainer.ControlVariateParameters.Count > 0 ? optim.Adam(trainer.ControlVariateParameters, 0.1) : null;
            var g = new Generator(3);
            for (int s = 0; s < 2000; s++)
            {
                using var step = NewDisposeScope();
                opt.zero_grad();
                cvOpt?.zero_grad();
                trainer.Estimate(l => (l.Sample(th) - t).pow(2).sum(1), g).Apply(trainer);
                opt.step();
                cvOpt?.step();
            }
            var after = new double[2000];
            for (int s = 0; s < after.Length; s++)
            {
                using var step = NewDisposeScope();
                after[s] = trainer.Estimate(l => (l.Sample(th) - t).pow(2).sum(1), g, controlVariateGradients: false).ModelGradients[0].ToDouble();
            }
            double m2 = after.Average(), logVarAfter = Math.Log(after.Sum(v => (v - m2) * (v - m2)) / (after.Length - 1));
            Console.WriteLine(F($"| {kind} | {mean:F5} | {logVar:F2} | {th.sigmoid().ToDouble():F4} | {logVarAfter:F2} |"));
        }
    }

    private static double ExactToyGradient(double theta, double t)
    {
        double p = 1 / (1 + Math.Exp(-theta));
        return p * (1 - p) * ((1 - t) * (1 - t) - t * t);
    }

    private static void Sbn(int steps, int trainRows, int testRows, int layers, string png)
    {
        var ml = new MLContext(seed: 1);
        var data = FashionMnist.Load(ml, trainRows: trainRows, testRows: testRows);
        using var trainRaw = DataLoading.LoadFeatures(data.Train, "Features");
        using var testRaw = DataLoading.LoadFeatures(data.Test, "Features");
        using var x = trainRaw.gt(0.5f).to(ScalarType.Float32);
        using var xTest = testRaw.gt(0.5f).to(ScalarType.Float32);
        using var mean = x.mean([0]);
        Console.WriteLine();
        Console.WriteLine($"## SBN: {layers}-layer linear, 200 units, binarized (> 0.5) Fashion-MNIST ({data.Source}), {x.shape[0]} train rows, batch 24, Adam 3e-4 (β₂ 0.99999), control variates 10×, {steps} steps, seed 1");
        var curves = new List<(GradientEstimatorKind Kind, List<(long Step, double LogVar, double Loss, double Seconds)> Log)>();
        foreach (var kind in s_all)
        {
            var env = new MLContext(seed: 1);
            using var ctx = ComponentContext.Create(env, "rebar-repro", 1, null, default);
            using var module = SigmoidBeliefNetworkModule.Create(784, 200, layers, false, mean, ctx.CreateGenerator("initialization", CPU));
            var log = new List<(long, double, double, double)>();
            var o = new SigmoidBeliefNetworkEstimator.Options { GradientEstimator = kind, Steps = steps, LatentLayers = layers };
            SigmoidBeliefNetworkTraining.Train(module, x, o, ctx, s => log.Add((s.Step, s.LogVariance, s.NegativeElbo, s.Seconds)));
            var bound = SigmoidBeliefNetworkBounds.Compute(module, xTest, 1000, new Generator(5));
            curves.Add((kind, log));
            var final = log[^1];
            double lastLogVar = log.Where(r => r.Item2 is var v && double.IsFinite(v)).Select(r => r.Item2).LastOrDefault(double.NaN);
            Console.WriteLine(F($"{kind}: log-variance at step {final.Item1} {lastLogVar:F2}, test ELBO {bound.Elbo:F2}, IWAE(k=1000) {bound.Iwae:F2}, {final.Item4:F1} s ({1000 * final.Item4 / final.Item1:F1} ms/step), loadavg {LoadAvg()}"));
        }
        double common = curves.Min(c => c.Log[^1].Seconds);
        Console.WriteLine();
        Console.WriteLine(F($"| estimator | log-variance (step {steps}) | mean training −ELBO, last 100 steps | training −ELBO (mean of 100 steps) at equal wall time {common:F0} s (step reached) |"));
        Console.WriteLine("|---|---|---|---|");
        foreach (var (kind, log) in curves)
        {
            var lastVar = log.Where(r => double.IsFinite(r.LogVar)).Select(r => r.LogVar).LastOrDefault(double.NaN);
            int at = log.FindLastIndex(r => r.Seconds <= common);
            var window = log.Skip(Math.Max(0, at - 99)).Take(Math.Min(100, at + 1)).Select(r => r.Loss).Average();
            Console.WriteLine(F($"| {kind} | {lastVar:F2} | {log.TakeLast(100).Average(r => r.Loss):F1} | {window:F1} (step {log[at].Step}) |"));
        }
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var (kind, log) in curves)
        {
            var pts = log.Where(r => double.IsFinite(r.LogVar) && r.Step % 10 == 0).ToList();
            var s = plt.Add.ScatterLine(pts.Select(r => (double)r.Step).ToArray(), pts.Select(r => r.LogVar).ToArray());
            s.Color = palette.GetColor(i++);
            s.LegendText = kind.ToString();
        }
        plt.XLabel("training step");
        plt.YLabel("log variance of the gradient estimate (EMA 0.999)");
        plt.Title($"SBN {layers}-layer linear on binarized Fashion-MNIST, batch 24");
        plt.ShowLegend(Alignment.UpperRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(png))!);
        plt.SavePng(png, 900, 600);
        Console.WriteLine($"wrote {png}");
    }

    internal static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    internal static string ArgS(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    internal static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    internal static string LoadAvg() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
}
