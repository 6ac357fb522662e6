using Components.Trainers.NeuralNetwork;
using Components.Transforms.Sensitivity;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.Sensitivity;

/// <summary><see cref="TrajectoryTransitions"/>: a known hyperplane crossing, the interpolating trajectory, invariance, bad input.</summary>
public sealed class TrajectoryTransitionsTests
{
    private static NeuralNetworkModule Mlp(int input, int[] hidden, NeuralNetworkActivation activation = NeuralNetworkActivation.Relu, long seed = 3)
        => NeuralNetworkModule.Create(new NeuralNetworkArchitecture(NeuralNetworkArchitectureKind.Mlp, input, 2, hidden, activation, 2.0, 0.1),
            new TorchSharp.torch.Generator((ulong)seed));

    [Fact]
    public void StraightLineCrossingOneHyperplaneHasOneTransition()
    {
        using var module = Mlp(2, [1]);
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            var first = module.parameters().First(); // hidden weight [1, 2]: unit active where x₀ > 0.25
            first.copy_(tensor(new float[] { 1, 0 }, [1, 2]));
            module.parameters().ElementAt(1).copy_(tensor(new float[] { -0.25f }));
        }
        var t = linspace(-1, 1, 9, ScalarType.Float32).unsqueeze(1);
        var line = cat([t, full_like(t, 0.3)], 1);
        Assert.Equal(1, TrajectoryTransitions.Count(module, line, closed: false));
        Assert.Equal(2, TrajectoryTransitions.Count(module, line, closed: true));
    }

    [Fact]
    public void ClosedTrajectoryPassesThroughItsAnchors()
    {
        using var scope = NewDisposeScope();
        foreach (int p in new[] { 2, 3, 4 })
        {
            var anchors = randn([p, 5], ScalarType.Float64, generator: new TorchSharp.torch.Generator(2));
            var path = TrajectoryTransitions.ClosedTrajectory(anchors, 7 * p);
            for (int j = 0; j < p; j++)
                Assert.True(path[7 * j].allclose(anchors[j], rtol: 0, atol: 1e-12), $"P={p}: anchor {j} is not on the trajectory");
        }
    }

    [Fact]
    public void TransitionsAreInvariantToPositiveRescalingOfTheWeights()
    {
        using var module = Mlp(4, [8, 6]);
        using var scope = NewDisposeScope();
        var anchors = randn([3, 4], ScalarType.Float32, generator: new TorchSharp.torch.Generator(5));
        long before = TrajectoryTransitions.CountOnClosedTrajectory(module, anchors, 200);
        Assert.True(before > 0, "the ellipse should cross some hyperplane");
        using (no_grad())
        {
            // Layer l's weight scaled by c_l > 0 and its bias by c_1⋯c_l scales its pre-activations by c_1⋯c_l > 0
            // (ReLU is positively homogeneous), so no sign, hence no bit, changes.
            var scales = new[] { 3.7f, 3.7f, 0.2f, 3.7f * 0.2f, 5f, 3.7f * 0.2f * 5f };
            var ps = module.parameters().ToList();
            for (int i = 0; i < ps.Count; i++)
                ps[i].mul_(scales[i]);
        }
        Assert.Equal(before, TrajectoryTransitions.CountOnClosedTrajectory(module, anchors, 200));
    }

    [Fact]
    public void BadInputsFailClearly()
    {
        using var scope = NewDisposeScope();
        using var tanh = Mlp(2, [3], NeuralNetworkActivation.Tanh);
        using var relu = Mlp(2, [3]);
        var path = randn([5, 2]);
        Assert.Contains("ReLU", Assert.Throws<ArgumentException>(() => TrajectoryTransitions.Count(tanh, path)).Message);
        Assert.Throws<ArgumentException>(() => TrajectoryTransitions.Count(relu, randn([1, 2])));
        Assert.Throws<ArgumentException>(() => TrajectoryTransitions.Count(relu, randn([5, 3])));
        Assert.Throws<ArgumentException>(() => TrajectoryTransitions.Count(relu, tensor(new[] { 0f, float.NaN, 1f, 1f }, [2, 2])));
        Assert.Throws<ArgumentException>(() => TrajectoryTransitions.ClosedTrajectory(randn([1, 2]), 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => TrajectoryTransitions.ClosedTrajectory(randn([3, 2]), 1));
    }
}
