using Components.Core.Data;
using Components.Transforms.MetaLearnedFeaturizer;
using Components.Transforms.MetaLearnedFeaturizer.MetaTraining;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.MetaLearnedFeaturizer;

/// <summary>
/// Meta-training of the update rule: the pure meta-gradient, a few meta-steps lowering the meta-loss of a fixed task,
/// checkpoint → resume equal to an uninterrupted run, 1 and 2 workers equal, cancellation, and bad checkpoints / data.
/// </summary>
public sealed class MetaTrainingTests : IClassFixture<MetaTrainingTests.Data>
{
    /// <summary>The embedded Fashion-MNIST subset pooled to 7×7 (small and fast), shared by the tests.</summary>
    public sealed class Data : IDisposable
    {
        internal MetaTrainingData Train { get; } = MetaTrainingData.FromDataView(FashionMnist.LoadEmbeddedSubset(new MLContext(0)).Train, pool: 4);
        public void Dispose() => Train.Dispose();
    }

    private readonly MetaTrainingData _data;
    public MetaTrainingTests(Data data) => _data = data.Train;

    private static readonly MetaTaskDistribution Small = new()
    {
        MaxClasses = 4, BatchSize = 32, HiddenWidths = [12], OutputWidths = [8], UnrollSteps = 3, MaxWarmupSteps = 2,
    };

    private static RuleMetaTrainerOptions Options(int workers = 1, string? checkpoint = null, int taskCount = 1 << 20, double lr = 3e-3, Action<string>? log = null, int unrolls = 3) => new()
    {
        Seed = 3, Workers = workers, UnrollsPerStep = unrolls, Distribution = Small, CheckpointPath = checkpoint, CheckpointEvery = 2,
        TaskCount = taskCount, LearningRate = lr, Log = log,
    };

    private static LocalUpdateRule NewRule() => new(new LocalUpdateRuleOptions { Seed = 2, DeltaDim = 4, HiddenDim = 8 });

    private static float[] Flat(LocalUpdateRule rule) => [.. rule.parameters().SelectMany(p => p.detach().contiguous().data<float>().ToArray())];

    [Fact]
    public void TheMetaGradientIsAPureFunctionOfRuleTaskAndWarmup()
    {
        using var rule = NewRule();
        using var a = RuleMetaObjective.Compute(rule, _data, Small, new MetaUnroll(11, 2));
        using var b = RuleMetaObjective.Compute(rule, _data, Small, new MetaUnroll(11, 2));
        using var c = RuleMetaObjective.Compute(rule, _data, Small, new MetaUnroll(12, 2));
        Assert.Equal(a.MetaLoss, b.MetaLoss);
        for (int i = 0; i < a.Gradients.Length; i++)
            Assert.Equal(a.Gradients[i].data<float>().ToArray(), b.Gradients[i].data<float>().ToArray());
        Assert.NotEqual(a.MetaLoss, c.MetaLoss);
        Assert.Contains(a.Gradients, g => g.abs().max().item<float>() > 0);
        Assert.True(rule.parameters().All(p => p.grad is null), "the meta-gradient must not touch .grad");
    }

    [Fact]
    public void AFewMetaStepsLowerTheMetaLossOfAFixedTask()
    {
        // TaskCount 1: every unroll is task 0; its meta-loss with 2 warm-up steps is the objective being lowered.
        var options = Options(taskCount: 1, lr: 2e-2, unrolls: 1);
        using var trainer = new LocalUpdateRuleMetaTrainer(NewRule(), _data, options);
        var unroll = new MetaUnroll(0, 1);
        double before;
        using (var g = RuleMetaObjective.Compute(trainer.Rule, _data, Small, unroll)) before = g.MetaLoss;
        trainer.Train(8);
        double after;
        using (var g = RuleMetaObjective.Compute(trainer.Rule, _data, Small, unroll)) after = g.MetaLoss;
        Assert.True(after < 0.9 * before, $"meta-loss {before:F4} → {after:F4}");
    }

    [Fact]
    public void ResumingFromACheckpointEqualsAnUninterruptedRun()
    {
        string dir = Directory.CreateTempSubdirectory("mlur-ckpt").FullName;
        try
        {
            string path = Path.Combine(dir, "ckpt.bin");
            using var whole = new LocalUpdateRuleMetaTrainer(NewRule(), _data, Options());
            whole.Train(4);
            using (var first = new LocalUpdateRuleMetaTrainer(NewRule(), _data, Options(checkpoint: path)))
                first.Train(2);
            using var resumed = LocalUpdateRuleMetaTrainer.Resume(path, _data, Options());
            Assert.Equal(2, resumed.StepsTaken);
            resumed.Train(4);
            Assert.Equal(Flat(whole.Rule), Flat(resumed.Rule));
            Assert.Equal(whole.History, resumed.History);
            Assert.Equal(whole.InnerSteps, resumed.InnerSteps);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void OneAndTwoWorkersGiveTheSameRule()
    {
        using var one = new LocalUpdateRuleMetaTrainer(NewRule(), _data, Options(workers: 1));
        using var two = new LocalUpdateRuleMetaTrainer(NewRule(), _data, Options(workers: 2));
        one.Train(2);
        two.Train(2);
        Assert.Equal(Flat(one.Rule), Flat(two.Rule));
        Assert.Equal(one.History, two.History);
        Assert.NotEqual(Flat(NewRule()), Flat(one.Rule));
    }

    [Fact]
    public void CancellationIsHonouredBeforeAndBetweenMetaSteps()
    {
        using var cts = new CancellationTokenSource();
        using var trainer = new LocalUpdateRuleMetaTrainer(NewRule(), _data, Options(log: _ => cts.Cancel()));
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Train(5, cts.Token));
        Assert.Equal(1, trainer.StepsTaken);
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Train(5, cts.Token));
        Assert.Equal(1, trainer.StepsTaken);
        Assert.ThrowsAny<OperationCanceledException>(() => RuleMetaObjective.Compute(trainer.Rule, _data, Small, new MetaUnroll(1, 2), cts.Token));
    }

    [Fact]
    public void DamagedMissingOrForeignCheckpointsFailClearly()
    {
        string dir = Directory.CreateTempSubdirectory("mlur-ckpt").FullName;
        try
        {
            string path = Path.Combine(dir, "ckpt.bin");
            using (var t = new LocalUpdateRuleMetaTrainer(NewRule(), _data, Options(checkpoint: path)))
                t.Train(2);
            var bytes = File.ReadAllBytes(path);
            bytes[bytes.Length / 2] ^= 0x10;
            string damaged = Path.Combine(dir, "damaged.bin");
            File.WriteAllBytes(damaged, bytes);
            Assert.Contains("checksum", Assert.Throws<FormatException>(() => LocalUpdateRuleMetaTrainer.Resume(damaged, _data, Options())).Message);
            string truncated = Path.Combine(dir, "truncated.bin");
            File.WriteAllBytes(truncated, bytes[..10]);
            Assert.Throws<FormatException>(() => LocalUpdateRuleMetaTrainer.Resume(truncated, _data, Options()));
            string foreign = Path.Combine(dir, "foreign.bin");
            File.WriteAllText(foreign, "not a checkpoint at all");
            Assert.Contains("MLURMTCK", Assert.Throws<FormatException>(() => LocalUpdateRuleMetaTrainer.Resume(foreign, _data, Options())).Message);
            Assert.Throws<FileNotFoundException>(() => LocalUpdateRuleMetaTrainer.Resume(Path.Combine(dir, "none.bin"), _data, Options()));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void BadDataAndOptionsAreRejectedWithClearMessages()
    {
        using var scope = NewDisposeScope();
        var x = rand(6, 4);
        x[1, 2] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => MetaTrainingData.Create(x, tensor(new long[] { 0, 1, 0, 1, 0, 1 }), 2)).Message);
        Assert.Contains("[0, 1]", Assert.Throws<ArgumentException>(() => MetaTrainingData.Create(rand(3, 4), tensor(new long[] { 0, 1, 2 }), 2)).Message);
        Assert.Contains("Class 1", Assert.Throws<ArgumentException>(() => MetaTrainingData.Create(rand(3, 4), tensor(new long[] { 0, 0, 2 }), 3)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalUpdateRuleMetaTrainer(NewRule(), _data, new RuleMetaTrainerOptions { Workers = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalUpdateRuleMetaTrainer(NewRule(), _data, new RuleMetaTrainerOptions { Distribution = new MetaTaskDistribution { UnrollSteps = 0 } }));
        // A task that needs more labelled rows per class than the data has fails naming the class.
        using var tiny = MetaTrainingData.Create(rand(8, 4), tensor(new long[] { 0, 1, 0, 1, 0, 1, 0, 1 }), 2);
        using var rule = NewRule();
        Assert.Contains("has 4 rows", Assert.Throws<ArgumentException>(() => RuleMetaObjective.Compute(rule, tiny, Small, new MetaUnroll(0, 0))).Message);
    }
}
