using Components.Trainers.LearnedOptimizer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>
/// The optimizer's in-place fast path (<c>HierarchicalRnnInPlaceStep</c>) is the pure, differentiable
/// <c>HierarchicalRnnUpdate.Step</c> the meta-trainer unrolls: same parameters and same state, step after step.
/// </summary>
public sealed class HierarchicalRnnInPlaceStepTests
{
    private static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();

    /// <summary>Parameters after each step and the final state, for one path, on a problem whose gradients are fixed draws.</summary>
    private static (List<double[]> Trajectory, Dictionary<string, double[]> State) Run(HierarchicalRnnMetaParameters meta, bool reference)
    {
        var gen = new Generator(31);
        Parameter[] ps =
        [
            new(randn([7, 5], generator: gen), requires_grad: true),
            new(randn([5], generator: gen), requires_grad: true),
            new(randn([3, 2, 2], generator: gen), requires_grad: true),
            new(randn([1], generator: gen), requires_grad: true), // one element: transposed views of its state are contiguous
        ];
        using var optimizer = new HierarchicalRnnOptimizer(ps, meta, new HierarchicalRnnOptimizer.Options { Seed = 6 }) { UseReferenceStep = reference };
        var trajectory = new List<double[]>();
        for (int t = 0; t < 6; t++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            // A nonlinear loss whose gradient changes with θ; at step 3 the last tensor gets no gradient at all.
            var loss = ps[0].tanh().square().sum() + (ps[1] - 0.5).pow(4).sum() + (ps[3] * ps[0].mean()).exp().sum();
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
    [InlineData(4)]
    [InlineData(11)]
    public void TheInPlaceStepFollowsThePureStepExactlyUpToRounding(int seed)
    {
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(seed);
        var fast = Run(meta, reference: false);
        var pure = Run(meta, reference: true);
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
        // The trajectory moved: the comparison above can fail.
        Assert.True(pure.Trajectory[^1].Zip(pure.Trajectory[0]).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }
}
