using Components.Trainers.LearnedOptimizer;
using Components.Trainers.LearnedOptimizer.MetaTraining;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>
/// Meta-training: the log-ratio meta-objective's closed form, the ensemble's problems, the pure meta-gradient against
/// finite differences (float64), and the meta-trainer (smoke, checkpoint → resume, workers, cancellation, bad inputs).
/// </summary>
public sealed class MetaTrainingTests
{
    private static readonly HierarchicalRnnArchitecture Tiny = new(2, 3, 3, 3);

    private static MetaTrainingEnsemble Only(MetaTrainingFamily family) => new([(family, 1.0)], 0, 0, 0, 0);

    private static double[] Flat(Tensor t) => t.detach().to(ScalarType.Float64).contiguous().data<double>().ToArray();

    [Fact]
    public void TheMetaObjectiveIsZeroWhenTheLossDoesNotChangeAndNegativeWhenItFalls()
    {
        using var scope = NewDisposeScope();
        var f0 = tensor(2.0, ScalarType.Float64);
        double flat = MetaObjective.LogRatio([tensor(2.0, ScalarType.Float64), tensor(2.0, ScalarType.Float64)], f0).ToDouble();
        Assert.InRange(flat, -2e-6, 2e-6);
        double falling = MetaObjective.LogRatio([tensor(1.0, ScalarType.Float64), tensor(0.5, ScalarType.Float64)], f0).ToDouble();
        double expected = (Math.Log(1 / (2 + 1e-6) + 1e-6) + Math.Log(0.5 / (2 + 1e-6) + 1e-6)) / 2;
        Assert.Equal(expected, falling, 12);
        Assert.True(falling < 0);
        Assert.Throws<ArgumentException>(() => MetaObjective.LogRatio([], f0));
    }

    [Fact]
    public void EveryProblemOfTheEnsembleReplaysFromItsSeedWithFiniteNonNegativeLossesAndGradients()
    {
        using var scope = NewDisposeScope();
        var names = new HashSet<string>();
        for (int seed = 0; seed < 60; seed++)
        {
            double[] first = [], second = [];
            for (int replay = 0; replay < 2; replay++)
            {
                using var problem = MetaTrainingEnsemble.Default.Draw(seed);
                var theta = problem.InitialParameters.Select(t => t.clone().requires_grad_(true)).ToArray();
                var loss = problem.Loss(theta);
                var grads = torch.autograd.grad([loss], theta, allow_unused: true);
                double[] values = [loss.ToDouble(), .. grads.SelectMany(g => Flat(g))];
                Assert.True(values.All(double.IsFinite), $"problem {problem.Name} (seed {seed})");
                Assert.True(values[0] >= 0, $"problem {problem.Name} has a negative loss");
                names.Add(problem.Name);
                if (replay == 0) first = values; else second = values;
            }
            Assert.Equal(first, second);
        }
        foreach (var family in new[] { "quadratic", "bowl", "rosenbrock", "beale", "softmax", "mlp", "noisy", "sparse", "rescaled", "sum(" })
            Assert.Contains(names, n => n.Contains(family));
    }

    [Fact]
    public void TheMetaGradientIsDeterministicForASeed()
    {
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(5, Tiny);
        var ensemble = MetaTrainingEnsemble.Default;
        using var a = MetaObjective.Compute(meta, ensemble, new MetaUnroll(7, 5));
        using var b = MetaObjective.Compute(meta, ensemble, new MetaUnroll(7, 5));
        using var c = MetaObjective.Compute(meta, ensemble, new MetaUnroll(8, 5));
        Assert.Equal(a.MetaLoss, b.MetaLoss);
        for (int i = 0; i < a.Gradients.Length; i++)
            Assert.Equal(Flat(a.Gradients[i]), Flat(b.Gradients[i]));
        Assert.NotEqual(a.MetaLoss, c.MetaLoss);
        Assert.Contains(a.Gradients, g => Flat(g).Any(v => v != 0));
    }

    [Theory]
    [InlineData((int)MetaTrainingFamily.Quadratic)]
    [InlineData((int)MetaTrainingFamily.SoftmaxRegression)]
    public void TheMetaGradientMatchesFiniteDifferencesInFloat64(int familyIndex)
    {
        var family = (MetaTrainingFamily)familyIndex;
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(2, Tiny);
        meta.to(ScalarType.Float64);
        var ensemble = Only(family);
        var unroll = new MetaUnroll(3, 3);
        using var analytic = MetaObjective.Compute(meta, ensemble, unroll);
        var parameters = meta.parameters().ToArray();
        var random = new Random(11);
        const double h = 1e-6;
        int checkedCount = 0;
        for (int trial = 0; trial < 12; trial++)
        {
            int pi = random.Next(parameters.Length);
            var p = parameters[pi];
            int j = random.Next((int)p.numel());
            using var original = p.detach().clone();
            double Perturbed(double delta)
            {
                using (no_grad())
                {
                    using var bump = zeros_like(original).view(-1);
                    bump[j] = tensor(delta, ScalarType.Float64);
                    p.copy_(original + bump.view(original.shape));
                }
                using var r = MetaObjective.Compute(meta, ensemble, unroll);
                return r.MetaLoss;
            }
            double numeric = (Perturbed(h) - Perturbed(-h)) / (2 * h);
            using (no_grad())
                p.copy_(original);
            double exact = Flat(analytic.Gradients[pi])[j];
            Assert.True(Math.Abs(numeric - exact) <= 1e-5 + 1e-4 * Math.Abs(exact), $"parameter {pi}[{j}]: analytic {exact}, finite differences {numeric}");
            checkedCount++;
        }
        Assert.Equal(12, checkedCount);
    }

    private static MetaTrainerOptions FixedProblem(int workers = 1, int unrolls = 1, Action<string>? log = null, string? checkpoint = null, double learningRate = 1e-2) => new()
    {
        Seed = 4, Workers = workers, UnrollsPerStep = unrolls, LearningRate = learningRate, MinUnrollLength = 8, MaxUnrollLength = 8,
        Ensemble = Only(MetaTrainingFamily.Quadratic), ProblemCount = 1, Log = log, CheckpointPath = checkpoint,
    };

    [Fact]
    public void AFewMetaStepsLowerTheMetaLossOnAFixedProblem()
    {
        var lines = new List<string>();
        using var trainer = new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), FixedProblem(log: lines.Add, learningRate: 0.1));
        var spec = trainer.DrawTrajectory(0, 0);
        var unroll = new MetaUnroll(spec.ProblemSeed, spec.UnrollLength);
        double before;
        using (var g = MetaObjective.Compute(trainer.Meta, Only(MetaTrainingFamily.Quadratic), unroll))
            before = g.MetaLoss;
        trainer.Train(15);
        using var after = MetaObjective.Compute(trainer.Meta, Only(MetaTrainingFamily.Quadratic), unroll);
        Assert.True(after.MetaLoss < 2 * before && after.MetaLoss < before - 0.005, $"meta-loss {before} → {after.MetaLoss}");
        Assert.Equal(15, lines.Count);
        Assert.Equal(15, trainer.StepsTaken);
    }

    [Fact]
    public void CheckpointThenResumeContinuesIdenticallyAndWorkersDoNotChangeTheResult()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lopt-meta-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "ckpt.bin");
            using var straight = new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), FixedProblem(unrolls: 2));
            straight.Train(4);
            using (var first = new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), FixedProblem(unrolls: 2, checkpoint: path)))
                first.Train(2);
            using var resumed = HierarchicalRnnMetaTrainer.Resume(path, FixedProblem(workers: 2, unrolls: 2));
            Assert.Equal(2, resumed.StepsTaken);
            resumed.Train(4);
            foreach (var (a, b) in straight.Meta.parameters().Zip(resumed.Meta.parameters()))
                Assert.Equal(Flat(a), Flat(b));
            Assert.Throws<FileNotFoundException>(() => HierarchicalRnnMetaTrainer.Resume(Path.Combine(dir, "missing.bin")));
            File.WriteAllBytes(Path.Combine(dir, "bad.bin"), [1, 2, 3]);
            Assert.Throws<FormatException>(() => HierarchicalRnnMetaTrainer.Resume(Path.Combine(dir, "bad.bin")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CancellationStopsMetaTraining()
    {
        using var cts = new CancellationTokenSource();
        using var trainer = new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), FixedProblem(log: _ => cts.Cancel()));
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Train(100, cts.Token));
        Assert.Equal(1, trainer.StepsTaken);
        Assert.ThrowsAny<OperationCanceledException>(() => MetaObjective.Compute(trainer.Meta, MetaTrainingEnsemble.Default, new MetaUnroll(1, 5), cancellation: cts.Token));
    }

    [Fact]
    public void BadInputsGiveClearExceptions()
    {
        var empty = Assert.Throws<ArgumentException>(() => new MetaTrainingEnsemble([]));
        Assert.Contains("empty", empty.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MetaTrainingEnsemble([(MetaTrainingFamily.Beale, -1.0)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MetaTrainingEnsemble([(MetaTrainingFamily.Beale, 1.0)], noisyProbability: 2));
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(1, Tiny);
        Assert.Throws<ArgumentOutOfRangeException>(() => MetaObjective.Compute(meta, MetaTrainingEnsemble.Default, new MetaUnroll(1, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), new MetaTrainerOptions { MinUnrollLength = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), new MetaTrainerOptions { MinUnrollLength = 20, MaxUnrollLength = 10 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HierarchicalRnnMetaTrainer(HierarchicalRnnMetaParameters.CreateInitial(1, Tiny), new MetaTrainerOptions { Workers = 0 }));
    }
}
