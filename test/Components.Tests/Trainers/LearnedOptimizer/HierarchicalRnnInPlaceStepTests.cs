using Components.Tests.Harness;
using Components.Trainers.LearnedOptimizer;
using Components.Trainers.LearnedOptimizer.Fused;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>
/// The optimizer's in-place fast path (<c>HierarchicalRnnInPlaceStep</c>) is the pure, differentiable
/// <c>HierarchicalRnnUpdate.Step</c> the meta-trainer unrolls: same parameters and same state, step after step, both
/// with each variant of the fused float32 CPU kernel (<c>HierarchicalRnnFusedCpuStep</c>: Avx512 and Avx2, each run
/// where the CPU supports it and reported as skipped elsewhere) and with the libtorch element-wise path.
/// </summary>
public sealed class HierarchicalRnnInPlaceStepTests
{
    private static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();

    /// <summary>The pure Step's path name; the others are "Libtorch" and the fused kernel variants ("Avx512", "Avx2").</summary>
    private const string Reference = "Reference";

    /// <summary>The fused kernel variant of a path name (<see cref="FusedCpuKernel.None"/>: the libtorch in-place path).</summary>
    private static FusedCpuKernel Kernel(string path) => path is Reference or "Libtorch" ? FusedCpuKernel.None : Enum.Parse<FusedCpuKernel>(path);

    /// <summary>Parameters after each step and the final state, for one path, on a problem whose gradients are fixed draws.</summary>
    private static (List<double[]> Trajectory, Dictionary<string, double[]> State) Run(HierarchicalRnnMetaParameters meta, string path,
        double maxLearningRate = HierarchicalRnnOptimizer.Options.Defaults.MaxLearningRate)
    {
        var gen = new Generator(31);
        Parameter[] ps =
        [
            new(randn([7, 5], generator: gen), requires_grad: true),
            new(randn([5], generator: gen), requires_grad: true),
            new(randn([3, 2, 2], generator: gen), requires_grad: true),
            new(randn([1], generator: gen), requires_grad: true), // one element: transposed views of its state are contiguous
            new(randn([37], generator: gen), requires_grad: true), // two full blocks of 16 lanes (four of 8) and a partial one
        ];
        using var optimizer = new HierarchicalRnnOptimizer(ps, meta, new HierarchicalRnnOptimizer.Options { Seed = 6, MaxLearningRate = maxLearningRate })
        { UseReferenceStep = path == Reference, CpuKernel = Kernel(path) };
        var trajectory = new List<double[]>();
        for (int t = 0; t < 6; t++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            // A nonlinear loss whose gradient changes with θ; at step 3 the last tensor gets no gradient at all.
            var loss = ps[0].tanh().square().sum() + (ps[1] - 0.5).pow(4).sum() + (ps[3] * ps[0].mean()).exp().sum() + (ps[4] - 1).abs().pow(1.5).sum();
            if (t != 3)
                loss = loss + (ps[2].sin() * randn(ps[2].shape, generator: gen)).sum();
            else
                ps[2].grad?.Dispose();
            loss.backward();
            if (t == 3)
                ps[2].grad = null;
            optimizer.step();
            trajectory.Add([.. ps.SelectMany(Values)]);
        }
        var state = optimizer.StateDict();
        var result = state.ToDictionary(kv => kv.Key, kv => Values(kv.Value));
        foreach (var v in state.Values)
            v.Dispose();
        return (trajectory, result);
    }

    /// <summary>
    /// Rows: the path, the meta-parameters' seed, whether the log learning rate is driven into its clip, and whether the
    /// architecture is a non-default one (K = 3, P = 7: the fused kernels' generic path on full blocks too, not only on
    /// the last partial block).
    /// </summary>
    [Theory]
    [InlineData("Libtorch", 4, false, false)]
    [InlineData("Libtorch", 11, false, false)]
    [InlineData("Libtorch", 4, false, true)]
    [FusedKernelData("Avx512", 4, false, false)]
    [FusedKernelData("Avx512", 11, false, false)]
    [FusedKernelData("Avx512", 4, true, false)]
    [FusedKernelData("Avx512", 4, false, true)]
    [FusedKernelData("Avx2", 4, false, false)]
    [FusedKernelData("Avx2", 11, false, false)]
    [FusedKernelData("Avx2", 4, true, false)]
    [FusedKernelData("Avx2", 4, false, true)]
    public void TheInPlaceStepFollowsThePureStepExactlyUpToRounding(string path, int seed, bool clipLogLr, bool otherShape)
    {
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(seed, otherShape ? new HierarchicalRnnArchitecture(3, 7, 16, 16) : null);
        if (clipLogLr)
        {
            // A log-lr change of −40 takes every step log lr below −33: the clipped value is −33 on every path (unclipped,
            // the state's log lr would fall by 1.6 a step instead of ~1, so the state comparison below sees the clip).
            using var _ = no_grad();
            meta.LearningRateChange.B.fill_(-40);
        }
        var fast = Run(meta, path);
        var pure = Run(meta, Reference);
        for (int t = 0; t < pure.Trajectory.Count; t++)
        {
            for (int e = 0; e < pure.Trajectory[t].Length; e++)
                Assert.True(Math.Abs(pure.Trajectory[t][e] - fast.Trajectory[t][e]) <= 1e-5 * (1 + Math.Abs(pure.Trajectory[t][e])),
                    $"step {t + 1}, value {e}: pure {pure.Trajectory[t][e]}, in place {fast.Trajectory[t][e]}");
        }
        Assert.Equal(pure.State.Keys.Order(), fast.State.Keys.Order());
        foreach (var (key, expected) in pure.State)
        {
            for (int e = 0; e < expected.Length; e++)
                Assert.True(Math.Abs(expected[e] - fast.State[key][e]) <= 1e-4 * (1 + Math.Abs(expected[e])), $"{key}[{e}]: pure {expected[e]}, in place {fast.State[key][e]}");
        }
        // The tensor that skipped a step took one step fewer, on both paths.
        Assert.Equal([6.0], fast.State["tensor.0.steps"]);
        Assert.Equal([5.0], fast.State["tensor.2.steps"]);
        // The trajectory moved (with the clip, the log lr did): the comparison above can fail.
        if (clipLogLr)
            Assert.True(pure.State["tensor.4.log_learning_rate"].Average() < -12);
        else
            Assert.True(pure.Trajectory[^1].Zip(pure.Trajectory[0]).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    /// <summary>
    /// <c>MaxLearningRate</c> M bounds the step on every path: with a log-lr change of +5 a step (learning rates that keep
    /// growing), the three paths agree, no step moves a tensor by an RMS above M, and the last moves it by exactly M (the
    /// direction has unit RMS; the bound includes the learned step-size offset).
    /// </summary>
    [Theory]
    [InlineData("Libtorch")]
    [FusedKernelData("Avx512")]
    [FusedKernelData("Avx2")]
    public void TheStepSizeCapClipsTheStepOnEveryPath(string path)
    {
        const double cap = 1e-3;
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(4);
        using (no_grad())
        {
            meta.LearningRateChange.B.fill_(5);
            meta.StepSizeOffset.fill_(0.7); // the bound includes the learned offset
        }
        var fast = Run(meta, path, cap);
        var pure = Run(meta, Reference, cap);
        for (int t = 0; t < pure.Trajectory.Count; t++)
        {
            for (int e = 0; e < pure.Trajectory[t].Length; e++)
                Assert.True(Math.Abs(pure.Trajectory[t][e] - fast.Trajectory[t][e]) <= 1e-5 * (1 + Math.Abs(pure.Trajectory[t][e])),
                    $"step {t + 1}, value {e}: pure {pure.Trajectory[t][e]}, in place {fast.Trajectory[t][e]}");
        }
        // Tensor 0 (7×5 values, the first 35 of the trajectory): no step moves it by an RMS above M, and the last (with
        // learning rates grown far past the bound) by exactly M.
        double Rms(int t) => Math.Sqrt(Enumerable.Range(0, 35).Average(e => Math.Pow(pure.Trajectory[t][e] - pure.Trajectory[t - 1][e], 2)));
        for (int t = 1; t < pure.Trajectory.Count; t++)
            Assert.True(Rms(t) <= cap * (1 + 1e-4), $"step {t + 1}: RMS {Rms(t)} above {cap}");
        double rms = Rms(pure.Trajectory.Count - 1);
        Assert.Equal(1, rms / cap, 1e-3);
    }

    /// <summary>Each fused kernel variant's vectorised functions against System.Math over a wide range (float32 accuracy).</summary>
    [Theory]
    [FusedKernelData("Avx512")]
    [FusedKernelData("Avx2")]
    public void TheVectorisedFunctionsMatchSystemMath(string kernel)
    {
        var variant = Enum.Parse<FusedCpuKernel>(kernel);
        var values = new List<float>();
        for (int i = -4000; i <= 4000; i++)
            values.Add(i * 0.01f); // [−40, 40]
        foreach (var e in new[] { 1e-30f, 1e-12f, 1e-6f, 1e-3f, 1e3f, 1e6f, 1e12f, 1e30f })
        {
            values.Add(e);
            values.Add(-e);
        }
        float[] x = [.. values], abs = [.. values.Select(MathF.Abs)], capped = [.. values.Select(v => MathF.Min(v, 80))];
        float[] Eval(HierarchicalRnnFusedCpuStep.Function f, float[] input)
        {
            var y = new float[input.Length];
            HierarchicalRnnFusedCpuStep.Evaluate(variant, f, input, y);
            return y;
        }
        var sig = Eval(HierarchicalRnnFusedCpuStep.Function.Sigmoid, x);
        var tanh = Eval(HierarchicalRnnFusedCpuStep.Function.Tanh, x);
        var asinh = Eval(HierarchicalRnnFusedCpuStep.Function.Asinh, x);
        var exp = Eval(HierarchicalRnnFusedCpuStep.Function.Exp, capped);
        var log = Eval(HierarchicalRnnFusedCpuStep.Function.Log, abs);
        for (int j = 0; j < x.Length; j++)
        {
            double v = x[j];
            AssertClose(1 / (1 + Math.Exp(-v)), sig[j], 1e-6, 1e-7, "sigmoid", v);
            AssertClose(Math.Tanh(v), tanh[j], 1e-6, 2e-7, "tanh", v);
            AssertClose(Math.Asinh(v), asinh[j], 1e-6, 2e-7, "asinh", v);
            if (v >= -87) // below, Exp returns ~1e-38 (its clamp)
                AssertClose(Math.Exp(Math.Min(v, 80)), exp[j], 1e-6, 0, "exp", v);
            if (v != 0) // Log is for positive normal floats
                AssertClose(Math.Log(Math.Abs(v)), log[j], 1e-6, 1e-7, "log", v);
        }
    }

    /// <summary>|expected − actual| within relative <paramref name="rel"/> or absolute <paramref name="abs"/>.</summary>
    private static void AssertClose(double expected, float actual, double rel, double abs, string name, double x)
    {
        if (double.IsInfinity(expected) && expected == actual)
            return;
        double err = Math.Abs(expected - actual);
        Assert.True(err <= rel * Math.Abs(expected) || err <= abs, $"{name}({x}): expected {expected}, got {actual} (error {err:g3})");
    }
}
