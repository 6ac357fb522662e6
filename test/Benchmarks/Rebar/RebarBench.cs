using System.Diagnostics;
using Components.Core.Data;
using Components.Core.Runtime;
using Components.Core.Tensors;
using Components.Trainers.Rebar;
using Components.Trainers.Rebar.Modules;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;
using static Components.Benchmarks.Rebar.RebarRepro;

namespace Components.Benchmarks.Rebar;

/// <summary>
/// Cost of one gradient estimate per estimator on a 1-layer linear SBN (784-200) with binarized Fashion-MNIST: passes of
/// f, wall time per step (estimate + both Adam updates) at batch 24 and 256, the per-element variance of the estimate at
/// the initial weights over repeated draws of one batch, and variance × time (what a unit of gradient precision costs).
/// <c>dotnet run -c Release --project test/Benchmarks -- rebar-bench [--steps 30] [--draws 40]</c>
/// </summary>
public static class RebarBench
{
    public static int Run(string[] args)
    {
        torch.set_num_threads(1);
        int steps = Arg(args, "--steps", 30), draws = Arg(args, "--draws", 40);
        var ml = new MLContext(seed: 1);
        var data = FashionMnist.Load(ml, trainRows: 2048, testRows: 1);
        using var raw = DataLoading.LoadFeatures(data.Train, "Features");
        using var x = raw.gt(0.5f).to(ScalarType.Float32);
        using var mean = x.mean([0]);
        Console.WriteLine($"loadavg {LoadAvg()}; 1 thread; {steps} timed steps after 3 warm-up steps; variance over {draws} draws on one batch");
        Console.WriteLine("| estimator | passes of f | ms/step, batch 24 | ms/step, batch 256 | log variance (batch 24) | variance × ms (batch 24) | relative to REINFORCE |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        double? reference = null;
        foreach (var kind in Enum.GetValues<GradientEstimatorKind>())
        {
            double t24 = Time(kind, x, mean, 24, steps, out int passes), t256 = Time(kind, x, mean, 256, steps, out _);
            double variance = Variance(kind, x, mean, 24, draws);
            double product = variance * t24;
            reference ??= product;
            Console.WriteLine(F($"| {kind} | {passes} | {t24:F1} | {t256:F1} | {Math.Log(variance):F2} | {product:G3} | {product / reference.Value:F3} |"));
        }
        Console.WriteLine($"loadavg {LoadAvg()}");
        return 0;
    }

    private static double Time(GradientEstimatorKind kind, Tensor x, Tensor mean, int batch, int steps, out int passes)
    {
        var env = new MLContext(seed: 1);
        using var ctx = ComponentContext.Create(env, "rebar-bench", 1, null, default);
        using var module = SigmoidBeliefNetworkModule.Create(784, 200, 1, false, mean, ctx.CreateGenerator("initialization", CPU));
        var o = new SigmoidBeliefNetworkEstimator.Options { GradientEstimator = kind, Steps = steps + 3, BatchSize = batch };
        var times = new List<double>();
        SigmoidBeliefNetworkTraining.Train(module, x, o, ctx, s => times.Add(s.Seconds));
        passes = kind switch
        {
            GradientEstimatorKind.MuProp => 2,
            GradientEstimatorKind.Rebar or GradientEstimatorKind.DynamicRebar or GradientEstimatorKind.Relax => 3,
            _ => 1,
        };
        return 1000 * (times[^1] - times[2]) / (times.Count - 3);
    }

    private static double Variance(GradientEstimatorKind kind, Tensor x, Tensor mean, int batch, int draws)
    {
        var env = new MLContext(seed: 1);
        using var ctx = ComponentContext.Create(env, "rebar-bench", 1, null, default);
        using var module = SigmoidBeliefNetworkModule.Create(784, 200, 1, false, mean, ctx.CreateGenerator("initialization", CPU));
        var parameters = module.parameters().ToArray();
        bool context = kind is not GradientEstimatorKind.Reinforce and not GradientEstimatorKind.Concrete;
        using var est = new BernoulliGradientEstimator(kind, parameters, contextWidth: context ? 784 : 0, latentWidth: 200, initialization: new Generator(1));
        var xb = x.narrow(0, 0, batch);
        var g = new Generator(2);
        Tensor? sum = null, sumSq = null;
        using var scope = NewDisposeScope();
        // Warm the moving averages of the baselines on the same batch first, as training would.
        for (int i = 0; i < 5; i++)
            est.Estimate(l => module.NegativeElbo(l, xb), g, context ? xb - mean : null, controlVariateGradients: false);
        for (int i = 0; i < draws; i++)
        {
            using var step = NewDisposeScope();
            var e = est.Estimate(l => module.NegativeElbo(l, xb), g, context ? xb - mean : null, controlVariateGradients: false);
            var v = cat([.. e.ModelGradients.Select(t => t.reshape(-1).to(ScalarType.Float64))]);
            sum = sum is null ? v.clone().MoveToOuterDisposeScope() : sum.add_(v);
            sumSq = sumSq is null ? v.pow(2).MoveToOuterDisposeScope() : sumSq.add_(v.pow(2));
        }
        var m = sum! / draws;
        return ((sumSq! / draws - m.pow(2)) * draws / (draws - 1)).mean().ToDouble();
    }
}
