using Components.Trainers.LearnedOptimizer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>
/// The hierarchical RNN update rule without trained weights: closed forms (asinh(±1) first inputs, the reduced rule by
/// hand, the straight-through gradient) and invariances (gradient rescaling, state save → load).
/// </summary>
public sealed class HierarchicalRnnOptimizerTests
{
    private static readonly double Asinh1 = Math.Asinh(1);

    private static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();

    /// <summary>Gradients with magnitudes over 6 decades and both signs, none zero.</summary>
    private static Tensor MixedGradient(Generator gen, params long[] shape)
    {
        var sign = (rand(shape, generator: gen) < 0.5).to(ScalarType.Float32) * 2 - 1;
        var magnitude = pow(10.0, rand(shape, generator: gen) * 6 - 3);
        return sign * magnitude;
    }

    [Fact]
    public void TheFirstStepFeedsAsinhOfPlusOrMinusOneScaledGradients()
    {
        using var scope = NewDisposeScope();
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(seed: 3);
        var gen = new Generator(7);
        var parameters = new[] { zeros(5, 4), zeros(7) };
        var grads = new Tensor?[] { MixedGradient(gen, 5, 4), MixedGradient(gen, 7) };
        using var state = HierarchicalRnnUpdate.Initial(meta, parameters, 1e-3, 1e-3, gen);
        var result = HierarchicalRnnUpdate.Step(meta, grads, state);
        int k = meta.Architecture.GradientScales;
        for (int i = 0; i < 2; i++)
        {
            var x = result.Inputs[i]!;
            Assert.Equal(new long[] { grads[i]!.numel(), meta.Architecture.InputSize }, x.shape);
            var sign = Values(grads[i]!.reshape(-1).sign());
            for (int j = 0; j < k; j++)
            {
                var column = Values(x[TensorIndex.Colon, j]);
                for (int e = 0; e < sign.Length; e++)
                    Assert.Equal(sign[e] * Asinh1, column[e], 1e-6);
            }
            // The products of adjacent scales are asinh(1)², the relative log mean squares 0 (every timescale saw only g).
            foreach (var v in Values(x.narrow(1, k, k - 1)))
                Assert.Equal(Asinh1 * Asinh1, v, 1e-6);
            foreach (var v in Values(x.narrow(1, 2 * k - 1, k)))
                Assert.Equal(0, v, 1e-5);
            // One fixed initial learning rate: relative log learning rate 0.
            foreach (var v in Values(x.narrow(1, 3 * k - 1, 1)))
                Assert.Equal(0, v, 1e-6);
        }
    }

    /// <summary>θ after each of <paramref name="steps"/> steps on the linear loss Σ_t c·⟨G_t, θ⟩ (gradient c·G_t exactly).</summary>
    private static List<double[]> LinearTrajectory(HierarchicalRnnMetaParameters meta, double c, int steps, HierarchicalRnnOptimizer.Options? options = null)
    {
        var gen = new Generator(21);
        var w = new Parameter(randn([6, 3], generator: gen), requires_grad: true);
        var b = new Parameter(randn([3], generator: gen), requires_grad: true);
        using var optimizer = new HierarchicalRnnOptimizer([w, b], meta, options ?? new HierarchicalRnnOptimizer.Options { Seed = 4 });
        var trajectory = new List<double[]>();
        for (int t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            var gw = MixedGradient(gen, 6, 3);
            var gb = MixedGradient(gen, 3);
            optimizer.zero_grad();
            var loss = c * ((gw * w).sum() + (gb * b).sum());
            loss.backward();
            optimizer.step();
            trajectory.Add([.. Values(w), .. Values(b)]);
        }
        return trajectory;
    }

    [Theory]
    [InlineData(1e-3)]
    [InlineData(1e3)]
    public void TheUpdateIsInvariantToRescalingTheGradient(double c)
    {
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(seed: 5);
        var reference = LinearTrajectory(meta, 1, 6);
        var rescaled = LinearTrajectory(meta, c, 6);
        var start = LinearTrajectory(meta, 1, 1)[0];
        for (int t = 0; t < reference.Count; t++)
        {
            for (int e = 0; e < reference[t].Length; e++)
                Assert.Equal(reference[t][e], rescaled[t][e], 1e-5);
        }
        // The steps are not negligible: the parameters moved by far more than the tolerance.
        Assert.True(reference[^1].Zip(start).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    [Fact]
    public void TheStraightThroughLearningRateGradientIsNonZeroWhenClipped()
    {
        using var meta = HierarchicalRnnMetaParameters.CreateReduced();
        var (_, lrBias) = meta.LearningRateChange;
        using (no_grad())
            lrBias.fill_(100.0); // log lr + 100 ≫ 33: the step log learning rate is clipped
        using var scope = NewDisposeScope();
        var gen = new Generator(9);
        var parameters = new[] { zeros(8) };
        using var state = HierarchicalRnnUpdate.Initial(meta, parameters, 1e-2, 1e-2, gen);
        var result = HierarchicalRnnUpdate.Step(meta, [MixedGradient(gen, 8)], state);
        var update = result.Updates[0]!;
        // Forward: the clipped value, so the update has RMS exp(33 − 1) (the direction has unit RMS).
        double rms = update.square().mean().sqrt().item<float>();
        Assert.Equal(1, rms / Math.Exp(HierarchicalRnnUpdate.MaxLogLearningRate + HierarchicalRnnMetaParameters.StepSizeOffsetInit), 1e-4);
        // Backward: d(Σ update)/d(lr bias) = Σ update (∂ step-log-lr/∂ bias = 1 through the straight-through clip); a plain clip gives 0.
        var objective = update.sum();
        objective.backward();
        double grad = lrBias.grad!.item<float>();
        Assert.NotEqual(0, grad);
        Assert.Equal(1, grad / objective.item<float>(), 1e-4);
    }

    [Fact]
    public void WithZeroLearnedWeightsTheStepIsTheReducedRuleComputedByHand()
    {
        // Loss ½ Σ a_j θ_j² on two tensors, fixed learning rate 0.05, 5 steps; the hand rule (docs, "Reduced rule") in float64.
        const double lr = 0.05;
        double[][] a = [[1, 3, 0.2], [2, 0.5, 8, 1]];
        double[][] theta = [[1, -2, 0.5], [-1, 0.3, 0.7, 2]];
        using var meta = HierarchicalRnnMetaParameters.CreateReduced();
        var p0 = new Parameter(tensor(theta[0]), requires_grad: true);
        var p1 = new Parameter(tensor(theta[1]).reshape(2, 2), requires_grad: true);
        using var optimizer = new HierarchicalRnnOptimizer([p0, p1], meta, new HierarchicalRnnOptimizer.Options { MinInitialLearningRate = lr, MaxInitialLearningRate = lr });
        var ta = new[] { tensor(a[0]), tensor(a[1]).reshape(2, 2) };

        int k = meta.Architecture.GradientScales;
        double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));
        var acc = a.Select(x => new double[x.Length, k]).ToArray();
        var ms = a.Select(x => new double[x.Length, k]).ToArray();
        for (int t = 0; t < 5; t++)
        {
            using (var scope = NewDisposeScope())
            {
                optimizer.zero_grad();
                (0.5 * (ta[0] * p0.square()).sum() + 0.5 * (ta[1] * p1.square()).sum()).backward();
                optimizer.step();
            }
            for (int i = 0; i < 2; i++)
            {
                int n = a[i].Length;
                var d = new double[n];
                for (int e = 0; e < n; e++)
                {
                    double g = a[i][e] * theta[i][e];
                    double beta = t == 0 ? 0 : Sigmoid(HierarchicalRnnMetaParameters.InputDecayLogitInit);
                    double sigma = Sigmoid(HierarchicalRnnMetaParameters.ScaleDecayLogitInit);
                    for (int j = 0; j < k; j++, beta = Math.Sqrt(beta))
                    {
                        acc[i][e, j] = (1 - beta) * g + beta * acc[i][e, j];
                        ms[i][e, j] = t == 0 ? acc[i][e, j] * acc[i][e, j] : sigma * ms[i][e, j] + (1 - sigma) * acc[i][e, j] * acc[i][e, j];
                        d[e] += Math.Asinh(acc[i][e, j] / Math.Sqrt(ms[i][e, j] + 1e-16)) / k;
                    }
                }
                double norm = Math.Sqrt(d.Select(v => v * v).Average() + 1e-16);
                for (int e = 0; e < n; e++)
                    theta[i][e] -= Math.Exp(Math.Log(lr) - 1) * d[e] / norm;
            }
            var got0 = Values(p0);
            var got1 = Values(p1);
            for (int e = 0; e < 3; e++)
                Assert.Equal(theta[0][e], got0[e], 1e-5);
            for (int e = 0; e < 4; e++)
                Assert.Equal(theta[1][e], got1[e], 1e-5);
        }
        Assert.Equal(5, optimizer.Steps);
    }

    /// <summary>θ of a 2-tensor quadratic problem after each of <paramref name="steps"/> further steps.</summary>
    private static List<double[]> QuadraticSteps(HierarchicalRnnOptimizer optimizer, Parameter w, Parameter b, int steps)
    {
        var trajectory = new List<double[]>();
        using var target = linspace(-1, 1, w.numel()).reshape(w.shape);
        for (int t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            ((w - target).square().sum() + (b.sum() - 2).square()).backward();
            optimizer.step();
            trajectory.Add([.. Values(w), .. Values(b)]);
        }
        return trajectory;
    }

    [Fact]
    public void SavingAndLoadingTheStateContinuesTheTrajectoryIdentically()
    {
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(seed: 8);
        var w = new Parameter(zeros(3, 4), requires_grad: true);
        var b = new Parameter(ones(2), requires_grad: true);
        using var a = new HierarchicalRnnOptimizer([w, b], meta, new HierarchicalRnnOptimizer.Options { Seed = 1 });
        QuadraticSteps(a, w, b, 3);
        using var saved = new MemoryStream();
        a.SaveState(saved);
        var w2 = new Parameter(w.detach().clone(), requires_grad: true);
        var b2 = new Parameter(b.detach().clone(), requires_grad: true);
        var w3 = new Parameter(w.detach().clone(), requires_grad: true);
        var b3 = new Parameter(b.detach().clone(), requires_grad: true);
        var continued = QuadraticSteps(a, w, b, 4);

        // Another seed: different initial learning rates, overwritten by the loaded state.
        using var restored = new HierarchicalRnnOptimizer([w2, b2], meta, new HierarchicalRnnOptimizer.Options { Seed = 2 });
        saved.Position = 0;
        restored.LoadState(saved);
        Assert.Equal(continued, QuadraticSteps(restored, w2, b2, 4));

        // Without the state the same optimizer takes other steps (the comparison above can fail).
        using var fresh = new HierarchicalRnnOptimizer([w3, b3], meta, new HierarchicalRnnOptimizer.Options { Seed = 1 });
        Assert.NotEqual(continued[^1], QuadraticSteps(fresh, w3, b3, 4)[^1]);

        // The in-memory state dict round-trips too.
        var dict = a.StateDict();
        Assert.Equal(1 + 2 * 8, dict.Count);
        Assert.Equal(7.0, dict["tensor.0.steps"].item<double>());
        restored.LoadStateDict(dict);
        Assert.Equal(Values(dict["tensor.1.mean_squares"]), Values(restored.StateDict()["tensor.1.mean_squares"]));
        foreach (var t in dict.Values)
            t.Dispose();
    }
}
