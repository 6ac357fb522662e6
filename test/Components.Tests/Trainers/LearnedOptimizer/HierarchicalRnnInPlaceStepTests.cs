using Components.Trainers.LearnedOptimizer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>
/// The optimizer's in-place fast path (<c>HierarchicalRnnInPlaceStep</c>) is the pure, differentiable
/// <c>HierarchicalRnnUpdate.Step</c> the meta-trainer unrolls: same parameters and same state, step after step, both
/// with the fused float32 CPU kernel (<c>HierarchicalRnnFusedCpuStep</c>) and with the libtorch element-wise path.
/// </summary>
public sealed class HierarchicalRnnInPlaceStepTests
{
    private static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();

    /// <summary>Parameters after each step and the final state, for one path, on a problem whose gradients are fixed draws.</summary>
    private enum Path { Reference, Libtorch, Fused }

    private static (List<double[]> Trajectory, Dictionary<string, double[]> State) Run(HierarchicalRnnMetaParameters meta, Path path,
        double maxLearningRate = HierarchicalRnnOptimizer.Options.Defaults.MaxLearningRate)
    {
        var gen = new Generator(31);
        Parameter[] ps =
        [
            new(randn([7, 5], generator: gen), requires_grad: true),
            new(randn([5], generator: gen), requires_grad: true),
            new(randn([3, 2, 2], generator: gen), requires_grad: true),
            new(randn([1], generator: gen), requires_grad: true), // one element: transposed views of its state are contiguous
            new(randn([37], generator: gen), requires_grad: true), // two full blocks of 16 lanes and a partial one
        ];
        using var optimizer = new HierarchicalRnnOptimizer(ps, meta, new HierarchicalRnnOptimizer.Options { Seed = 6, MaxLearningRate = maxLearningRate })
        { UseReferenceStep = path == Path.Reference, UseFusedCpuKernel = path == Path.Fused };
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

    [Theory]
    [InlineData(4, false, false)]
    [InlineData(11, false, false)]
    [InlineData(4, true, false)]
    [InlineData(11, true, false)]
    [InlineData(4, true, true)]
    public void TheInPlaceStepFollowsThePureStepExactlyUpToRounding(int seed, bool fused, bool clipLogLr)
    {
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(seed);
        if (clipLogLr)
        {
            // A log-lr change of −40 takes every step log lr below −33: the clipped value is −33 on every path (unclipped,
            // the state's log lr would fall by 1.6 a step instead of ~1, so the state comparison below sees the clip).
            using var _ = no_grad();
            meta.LearningRateChange.B.fill_(-40);
        }
        var fast = Run(meta, fused ? Path.Fused : Path.Libtorch);
        var pure = Run(meta, Path.Reference);
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
    [InlineData(false)]
    [InlineData(true)]
    public void TheStepSizeCapClipsTheStepOnEveryPath(bool fused)
    {
        const double cap = 1e-3;
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(4);
        using (no_grad())
        {
            meta.LearningRateChange.B.fill_(5);
            meta.StepSizeOffset.fill_(0.7); // the bound includes the learned offset
        }
        var fast = Run(meta, fused ? Path.Fused : Path.Libtorch, cap);
        var pure = Run(meta, Path.Reference, cap);
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

    /// <summary>The fused kernel's vectorised functions against System.Math over a wide range (float32 accuracy).</summary>
    [Fact]
    public void TheVectorisedFunctionsMatchSystemMath()
    {
        if (!HierarchicalRnnFusedCpuStep.IsSupported)
            return;
        var values = new List<float>();
        for (int i = -4000; i <= 4000; i++)
            values.Add(i * 0.01f); // [−40, 40]
        foreach (var e in new[] { 1e-30f, 1e-12f, 1e-6f, 1e-3f, 1e3f, 1e6f, 1e12f, 1e30f })
        {
            values.Add(e);
            values.Add(-e);
        }
        for (int b = 0; b < values.Count; b += 16)
        {
            var lanes = new float[16];
            for (int j = 0; j < 16; j++)
                lanes[j] = values[Math.Min(b + j, values.Count - 1)];
            var x = System.Runtime.Intrinsics.Vector512.Create(lanes);
            var sig = HierarchicalRnnFusedCpuStep.Sigmoid(x);
            var tanh = HierarchicalRnnFusedCpuStep.Tanh(x);
            var asinh = HierarchicalRnnFusedCpuStep.Asinh(x);
            var abs = System.Runtime.Intrinsics.Vector512.Abs(x);
            var exp = HierarchicalRnnFusedCpuStep.Exp(System.Runtime.Intrinsics.Vector512.Min(x, System.Runtime.Intrinsics.Vector512.Create(80f)));
            var log = HierarchicalRnnFusedCpuStep.Log(abs);
            for (int j = 0; j < 16; j++)
            {
                double v = lanes[j];
                AssertClose(1 / (1 + Math.Exp(-v)), sig[j], 1e-6, 1e-7, "sigmoid", v);
                AssertClose(Math.Tanh(v), tanh[j], 1e-6, 2e-7, "tanh", v);
                AssertClose(Math.Asinh(v), asinh[j], 1e-6, 2e-7, "asinh", v);
                if (v >= -87) // below, Exp returns ~1e-38 (its clamp)
                    AssertClose(Math.Exp(Math.Min(v, 80)), exp[j], 1e-6, 0, "exp", v);
                if (v != 0) // Log is for positive normal floats
                    AssertClose(Math.Log(Math.Abs(v)), log[j], 1e-6, 1e-7, "log", v);
            }
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
