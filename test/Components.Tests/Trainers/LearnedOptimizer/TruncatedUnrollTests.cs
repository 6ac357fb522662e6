using Components.Trainers.LearnedOptimizer;
using Components.Trainers.LearnedOptimizer.MetaTraining;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>
/// Truncated unrolls: partial unrolls carry the parameters and optimizer state (two halves retrace one whole unroll and
/// their meta-losses average to its meta-loss, since both use the trajectory's f(θ₀)), the held-out evaluation agrees
/// with the meta-objective's forward value, trajectory draws respect their bounds, and a checkpoint taken in the middle of
/// noisy trajectories resumes identically on another number of workers.
/// </summary>
public sealed class TruncatedUnrollTests
{
    private static readonly HierarchicalRnnArchitecture Tiny = new(2, 3, 3, 3);

    private static MetaTrainingEnsemble Only(MetaTrainingFamily family, double noisy = 0) => new([(family, 1.0)], noisy, 0, 0, 0);

    private static double[] Flat(Tensor t) => t.detach().to(ScalarType.Float64).contiguous().data<double>().ToArray();

    [Theory]
    [InlineData((int)MetaTrainingFamily.Quadratic)]
    [InlineData((int)MetaTrainingFamily.Mlp)]
    public void TwoPartialUnrollsRetraceOneUnrollAndAverageToItsMetaLoss(int familyIndex)
    {
        var ensemble = Only((MetaTrainingFamily)familyIndex);
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(3, Tiny);
        meta.to(ScalarType.Float64);
        using var problem = ensemble.Draw(11, ScalarType.Float64);
        using var start = MetaObjective.Start(meta, problem, 11);
        var (whole, wholeEnd) = MetaObjective.ComputePartial(meta, problem, start, 8);
        var (first, middle) = MetaObjective.ComputePartial(meta, problem, start, 4);
        var (second, end) = MetaObjective.ComputePartial(meta, problem, middle, 4);
        using (whole) using (wholeEnd) using (first) using (middle) using (second) using (end)
        {
            Assert.Equal(2, end.UnrollsDone);
            Assert.Equal(start.InitialLoss, end.InitialLoss);
            for (int i = 0; i < end.Parameters.Length; i++)
            {
                var a = Flat(wholeEnd.Parameters[i]);
                var b = Flat(end.Parameters[i]);
                for (int j = 0; j < a.Length; j++)
                    Assert.Equal(a[j], b[j], 10);
                Assert.NotEqual(Flat(start.Parameters[i]), b);
            }
            Assert.Equal(wholeEnd.State.Tensors[0].Steps, end.State.Tensors[0].Steps);
            Assert.Equal(whole.MetaLoss, (first.MetaLoss + second.MetaLoss) / 2, 10);
            Assert.True(second.MetaLoss < first.MetaLoss, $"the loss should keep falling: {first.MetaLoss} then {second.MetaLoss}");
        }
    }

    /// <summary>
    /// The loss limit (the reference's obj_train_max_multiplier): a rule whose step sizes explode stops at the first loss
    /// above 10·f₀, marked Exploded, with a finite meta-gradient that pushes the learning rate down (positive for the
    /// log-lr bias); a later loss within the limit changes nothing.
    /// </summary>
    [Fact]
    public void AnExplodingUnrollStopsAtTheLossLimitWithAFiniteMetaGradientThatLowersTheLearningRate()
    {
        var ensemble = Only(MetaTrainingFamily.Quadratic);
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(3, Tiny);
        meta.to(ScalarType.Float64);
        using (no_grad())
            meta.LearningRateChange.B.fill_(20); // step learning rates e²⁰ ≈ 5·10⁸× the initial ones
        using var problem = ensemble.Draw(11, ScalarType.Float64);
        using var start = MetaObjective.Start(meta, problem, 11);
        var (limited, next) = MetaObjective.ComputePartial(meta, problem, start, 30, maxLossRatio: 10);
        using (limited) using (next)
        {
            Assert.True(limited.Exploded);
            Assert.InRange(limited.StepsTaken, 1, 29);
            Assert.True(limited.FinalLoss > 10 * start.InitialLoss, $"stopped at {limited.FinalLoss} (f0 {start.InitialLoss})");
            Assert.True(limited.MetaLoss > Math.Log(10) / limited.StepsTaken - 1e-9);
            Assert.All(limited.Gradients, g => Assert.All(Flat(g), v => Assert.True(double.IsFinite(v))));
            int lrBias = meta.named_parameters().Select(n => n.name).ToList().IndexOf("lr_b");
            Assert.True(Flat(limited.Gradients[lrBias])[0] > 0, $"d meta-loss / d lr_b = {Flat(limited.Gradients[lrBias])[0]}");
        }
        // Within the limit the result is the unlimited one.
        using (no_grad())
            meta.LearningRateChange.B.fill_(0);
        var (a, an) = MetaObjective.ComputePartial(meta, problem, start, 5);
        var (b, bn) = MetaObjective.ComputePartial(meta, problem, start, 5, maxLossRatio: 1e6);
        using (a) using (an) using (b) using (bn)
        {
            Assert.False(b.Exploded);
            Assert.Equal(5, b.StepsTaken);
            Assert.Equal(a.MetaLoss, b.MetaLoss);
            for (int i = 0; i < a.Gradients.Length; i++)
                Assert.Equal(Flat(a.Gradients[i]), Flat(b.Gradients[i]));
        }
    }

    /// <summary>
    /// The learned initial GRU states (param_init, tensor_init, global_init) get a meta-gradient from the first partial
    /// unroll (the reference's learnable_rnn_init) and none from later ones (their effect is in the carried state), and it
    /// matches central finite differences in float64.
    /// </summary>
    [Fact]
    public void TheLearnedInitialStatesGetAMetaGradientOnTheFirstPartialUnrollThatMatchesFiniteDifferences()
    {
        var ensemble = Only(MetaTrainingFamily.SoftmaxRegression);
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(2, Tiny);
        meta.to(ScalarType.Float64);
        var names = meta.named_parameters().Select(n => n.name).ToList();
        using var first = MetaObjective.Compute(meta, ensemble, new MetaUnroll(5, 4));
        using var problem = ensemble.Draw(5, ScalarType.Float64);
        using var start = MetaObjective.Start(meta, problem, 5);
        var (g1, middle) = MetaObjective.ComputePartial(meta, problem, start, 2);
        var (g2, end) = MetaObjective.ComputePartial(meta, problem, middle, 2);
        using (g1) using (middle) using (g2) using (end)
        {
            foreach (var name in new[] { "param_init", "tensor_init", "global_init" })
            {
                int i = names.IndexOf(name);
                Assert.Contains(Flat(first.Gradients[i]), v => v != 0);
                Assert.All(Flat(g2.Gradients[i]), v => Assert.Equal(0, v));
                var p = meta.parameters().ElementAt(i);
                using var original = p.detach().clone();
                double Perturbed(double delta)
                {
                    using (no_grad())
                    {
                        using var bump = zeros_like(original).view(-1);
                        bump[0] = tensor(delta, ScalarType.Float64);
                        p.copy_(original + bump.view(original.shape));
                    }
                    using var r = MetaObjective.Compute(meta, ensemble, new MetaUnroll(5, 4));
                    return r.MetaLoss;
                }
                double numeric = (Perturbed(1e-6) - Perturbed(-1e-6)) / 2e-6;
                using (no_grad())
                    p.copy_(original);
                double exact = Flat(first.Gradients[i])[0];
                Assert.True(Math.Abs(numeric - exact) <= 1e-6 + 1e-4 * Math.Abs(exact), $"{name}[0]: analytic {exact}, finite differences {numeric}");
            }
        }
    }

    [Fact]
    public void TheHeldOutEvaluationEqualsTheMetaObjectivesForwardValue()
    {
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(2, Tiny);
        meta.to(ScalarType.Float64);
        var ensemble = Only(MetaTrainingFamily.SoftmaxRegression);
        using var exact = MetaObjective.Compute(meta, ensemble, new MetaUnroll(5, 6));
        double evaluated = MetaObjective.Evaluate(meta, ensemble, 5, 6);
        Assert.Equal(exact.MetaLoss, evaluated, 9);
        Assert.Throws<ArgumentOutOfRangeException>(() => MetaObjective.Evaluate(meta, ensemble, 5, 0));
    }

    [Fact]
    public void TrajectoryDrawsAreRandomWithinTheirBounds()
    {
        using var trainer = new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny),
            new MetaTrainerOptions { MinUnrollLength = 5, UnrollLengthScale = 10, MaxUnrollLength = 30, PartialUnrollScale = 4, MaxPartialUnrolls = 12 });
        var draws = Enumerable.Range(0, 200).Select(j => trainer.DrawTrajectory(j % 2, j / 2)).ToArray();
        Assert.All(draws, d => Assert.InRange(d.UnrollLength, 5, 30));
        Assert.All(draws, d => Assert.InRange(d.PartialUnrolls, 1, 12));
        Assert.True(draws.Select(d => d.UnrollLength).Distinct().Count() > 10);
        Assert.True(draws.Select(d => d.PartialUnrolls).Distinct().Count() > 5);
        Assert.Contains(draws, d => d.UnrollLength == 30);
        // Exp(10) has mean 10: the mean length is near 5 + 10 less what the cap at 30 removes (≈ 14.2 for the uncapped mean 15).
        Assert.InRange(draws.Average(d => d.UnrollLength), 12, 17);
        Assert.Equal(trainer.DrawTrajectory(1, 7), trainer.DrawTrajectory(1, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), new MetaTrainerOptions { MaxPartialUnrolls = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), new MetaTrainerOptions { PartialUnrollScale = double.NaN }));
    }

    private static MetaTrainerOptions ThreePartials(int workers, string? checkpoint = null, List<string>? log = null) => new()
    {
        Seed = 9, Workers = workers, UnrollsPerStep = 2, LearningRate = 1e-2, MinUnrollLength = 3, UnrollLengthScale = 2, MaxUnrollLength = 6,
        PartialUnrollScale = 1000, MaxPartialUnrolls = 3, Ensemble = Only(MetaTrainingFamily.Quadratic, noisy: 1), ProblemCount = 50,
        CheckpointPath = checkpoint, Log = log is null ? null : log.Add,
    };

    [Fact]
    public void ACheckpointInsideNoisyTrajectoriesResumesIdenticallyOnOtherWorkers()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lopt-trunc-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "ckpt.bin");
            var lines = new List<string>();
            using var straight = new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), ThreePartials(1, log: lines));
            straight.Train(5);
            // Each slot runs trajectories of 3 partial unrolls: steps 1–3 the first, 4–6 the second.
            Assert.Contains("1/3", lines[0]);
            Assert.Contains("3/3", lines[2]);
            Assert.Contains("1/3", lines[3]);
            using (var first = new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), ThreePartials(1, checkpoint: path)))
                first.Train(2);
            using var resumed = HierarchicalRnnMetaTrainer.Resume(path, ThreePartials(2));
            resumed.Train(5);
            Assert.Equal(straight.History.Skip(2), resumed.History);
            foreach (var (a, b) in straight.Meta.parameters().Zip(resumed.Meta.parameters()))
                Assert.Equal(Flat(a), Flat(b));
            var other = Assert.Throws<InvalidOperationException>(() => HierarchicalRnnMetaTrainer.Resume(path, ThreePartials(1) is var o ? new MetaTrainerOptions { UnrollsPerStep = 3, Ensemble = o.Ensemble } : null));
            Assert.Contains("unrolls per step", other.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
