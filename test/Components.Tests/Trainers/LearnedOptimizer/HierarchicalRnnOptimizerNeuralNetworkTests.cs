using Components.Core.Data;
using Components.Tests.Harness;
using Components.Tests.Trainers.NeuralNetwork;
using Components.Trainers.LearnedOptimizer;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>
/// The learned optimizer in the NeuralNetwork trainers: as the <see cref="NeuralNetworkOptimizerKind.LearnedHierarchicalRnn"/>
/// choice (shipped weights or a weights file) and through the optimizer factory; bad weights files and options.
/// </summary>
public sealed class HierarchicalRnnOptimizerNeuralNetworkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hrnn-nn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A weights file holding the reduced (zero-weight) rule: a fixed, documented update, whatever the shipped weights are.</summary>
    private string ReducedWeightsFile()
    {
        var path = Path.Combine(_dir, "reduced.hrnn");
        using var meta = HierarchicalRnnMetaParameters.CreateReduced();
        meta.Save(path);
        return path;
    }

    private static NeuralNetworkMulticlassTrainer.Options Learned(string? weightsPath, double min = 3e-2, double max = 3e-2) => new()
    {
        HiddenLayerWidths = [16],
        NumberOfEpochs = 3,
        BatchSize = 64,
        Seed = 1,
        Optimizer = NeuralNetworkOptimizerKind.LearnedHierarchicalRnn,
        LearnedOptimizerWeightsPath = weightsPath,
        LearnedOptimizerMinInitialLearningRate = min,
        LearnedOptimizerMaxInitialLearningRate = max,
        LearnedOptimizerMaxLearningRate = HierarchicalRnnOptimizer.Options.Defaults.MaxLearningRate, // unbounded, as the optimizer's default
    };

    [Fact]
    public void TheLearnedOptimizerChoiceTrainsAnMlpOnFashionMnistLikeTheFactoryWithTheSameWeights()
    {
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 640, testRows: 500);
        var path = ReducedWeightsFile();
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(Learned(path)).Fit(data.Train);

        // The enum choice is the optimizer built by hand over the same weights (with one fixed initial learning rate the seed does not matter).
        using var meta = HierarchicalRnnMetaParameters.Load(path);
        HierarchicalRnnOptimizer? used = null;
        var factory = Learned(null);
        factory.Optimizer = NeuralNetworkOptimizerKind.Adam;
        factory.OptimizerFactory = p => used = new HierarchicalRnnOptimizer(p, meta, new() { MinInitialLearningRate = 3e-2, MaxInitialLearningRate = 3e-2 });
        using var byHand = ml.MulticlassClassification.Trainers.NeuralNetwork(factory).Fit(data.Train);
        Assert.Equal(3 * 10, used!.Steps); // 640 rows in batches of 64: 10 steps per epoch
        Assert.Equal(byHand.TrainingHistory, model.TrainingHistory);

        // It learns: the loss falls and after 30 steps the test accuracy clears a floor far above chance (0.1); measured 0.472
        // (seed 1, the reduced rule at learning rate 0.03; the floor leaves a margin for BLAS differences between machines).
        Assert.True(model.TrainingHistory[^1].TrainingLoss < 0.7 * model.TrainingHistory[0].TrainingLoss,
            $"loss {model.TrainingHistory[0].TrainingLoss} → {model.TrainingHistory[^1].TrainingLoss}");
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data.Test));
        Assert.True(metrics.MicroAccuracy >= 0.40, $"MicroAccuracy {metrics.MicroAccuracy:F4} < 0.40");
    }

    [Fact]
    public void WithTheShippedWeightsAndDefaultOptionsTheTrainerLearns()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 300, dim: 6, classes: 3);
        var options = new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [16],
            NumberOfEpochs = 5,
            Seed = 2,
            Optimizer = NeuralNetworkOptimizerKind.LearnedHierarchicalRnn,
        };
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Training ", StringComparison.Ordinal)) lock (messages) messages.Add(e.Message); };
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(data);
        Assert.Contains(messages, m => m.Contains("learned optimizer (shipped weights)", StringComparison.Ordinal));
        Assert.All(model.TrainingHistory, e => Assert.True(double.IsFinite(e.TrainingLoss)));
        Assert.True(model.TrainingHistory[^1].TrainingLoss < model.TrainingHistory[0].TrainingLoss,
            $"loss {model.TrainingHistory[0].TrainingLoss} → {model.TrainingHistory[^1].TrainingLoss}");
    }

    [Fact]
    public void TheRegressionTrainerTakesTheLearnedOptimizerToo()
    {
        var ml = new MLContext(seed: 0);
        var rng = new Random(3);
        var rows = Enumerable.Range(0, 200).Select(_ =>
        {
            float a = (float)(rng.NextDouble() * 2 - 1), b = (float)(rng.NextDouble() * 2 - 1);
            return new RegressionRow { Features = [a, b], Label = 3 * a - 2 * b };
        }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var o = new NeuralNetworkRegressionTrainer.Options
        {
            HiddenLayerWidths = [],
            NumberOfEpochs = 15,
            BatchSize = 20,
            Seed = 1,
            Optimizer = NeuralNetworkOptimizerKind.LearnedHierarchicalRnn,
            LearnedOptimizerWeightsPath = ReducedWeightsFile(),
            LearnedOptimizerMinInitialLearningRate = 0.1,
            LearnedOptimizerMaxInitialLearningRate = 0.1,
            LearnedOptimizerMaxLearningRate = 0.1, // the default bound (1e-3, Adam's default scale) needs far more than 150 steps here
        };
        using var model = ml.Regression.Trainers.NeuralNetwork(o).Fit(data);
        // The target's standard deviation is about 2.1; a linear model fits it exactly.
        double rmse = ml.Regression.Evaluate(model.Transform(data)).RootMeanSquaredError;
        Assert.True(rmse < 0.3, $"RMSE {rmse}; history {string.Join(", ", model.TrainingHistory.Select(e => e.TrainingLoss.ToString("G3")))}");
    }

    public sealed class RegressionRow
    {
        [Microsoft.ML.Data.VectorType(2)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    [Fact]
    public void AMissingCorruptOrForeignWeightsFileFailsAtFitNamingTheFile()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 30, dim: 4, classes: 3);

        var missing = Path.Combine(_dir, "absent.hrnn");
        var trainer = ml.MulticlassClassification.Trainers.NeuralNetwork(Learned(missing)); // constructing does not read the file
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => trainer.Fit(data)).Message);

        var corrupt = Path.Combine(_dir, "corrupt.hrnn");
        var bytes = File.ReadAllBytes(ReducedWeightsFile());
        bytes[^3] ^= 0x10;
        File.WriteAllBytes(corrupt, bytes);
        var ex = Assert.Throws<FormatException>(() => ml.MulticlassClassification.Trainers.NeuralNetwork(Learned(corrupt)).Fit(data));
        Assert.Contains(corrupt, ex.Message);
        Assert.Contains("checksum", ex.Message);

        var foreign = Path.Combine(_dir, "foreign.hrnn");
        File.WriteAllText(foreign, "not a weights file at all");
        ex = Assert.Throws<FormatException>(() => ml.MulticlassClassification.Trainers.NeuralNetwork(Learned(foreign)).Fit(data));
        Assert.Contains(foreign, ex.Message);

        var other = Path.Combine(_dir, "other.hrnn");
        using (var meta = HierarchicalRnnMetaParameters.CreateInitial(seed: 1, new HierarchicalRnnArchitecture(3, 8, 16, 16)))
            meta.Save(other);
        var io = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.NeuralNetwork(Learned(other)).Fit(data));
        Assert.Contains(other, io.Message);
        Assert.Contains("3 gradient scales, GRU sizes [8, 16, 16]", io.Message);
    }

    [Fact]
    public void BadLearnedOptimizerOptionsAreRefusedWhenTheTrainerIsCreated()
    {
        var ml = new MLContext(seed: 0);
        void Refused(string option, Action<NeuralNetworkMulticlassTrainer.Options> change)
        {
            var o = Learned(null);
            change(o);
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.NeuralNetwork(o));
            Assert.Equal(option, ex.ParamName);
        }
        Refused(nameof(NeuralNetworkOptions.LearnedOptimizerMinInitialLearningRate), o => o.LearnedOptimizerMinInitialLearningRate = 0);
        Refused(nameof(NeuralNetworkOptions.LearnedOptimizerMinInitialLearningRate), o => o.LearnedOptimizerMinInitialLearningRate = double.NaN);
        Refused(nameof(NeuralNetworkOptions.LearnedOptimizerMaxInitialLearningRate), o => o.LearnedOptimizerMaxInitialLearningRate = 1e-3);
        Refused(nameof(NeuralNetworkOptions.LearnedOptimizerMaxInitialLearningRate), o => o.LearnedOptimizerMaxInitialLearningRate = double.PositiveInfinity);
        Refused(nameof(NeuralNetworkOptions.LearnedOptimizerWeightsPath), o => o.LearnedOptimizerWeightsPath = " ");
        Refused(nameof(NeuralNetworkOptions.LearnedOptimizerMaxLearningRate), o => o.LearnedOptimizerMaxLearningRate = 0);
        Refused(nameof(NeuralNetworkOptions.LearnedOptimizerMaxLearningRate), o => o.LearnedOptimizerMaxLearningRate = double.NaN);
        Refused(nameof(NeuralNetworkOptions.LearnedOptimizerMaxLearningRate), o => o.LearnedOptimizerMaxLearningRate = 1e15);
        Refused(nameof(NeuralNetworkOptions.WeightDecay), o => o.WeightDecay = 1e-4);
        // The learned optimizer's options are checked only when it is chosen.
        var adam = Learned(null);
        adam.Optimizer = NeuralNetworkOptimizerKind.Adam;
        adam.LearnedOptimizerMinInitialLearningRate = 0;
        adam.WeightDecay = 1e-4;
        Assert.NotNull(ml.MulticlassClassification.Trainers.NeuralNetwork(adam));
    }

    /// <summary>
    /// A rule whose learning rates keep growing (log-lr change +5 a step) diverges; the fit says so in the log (warning) instead of returning a
    /// chance-level model silently. A capped learning rate (the option) keeps the same rule from diverging, and no warning comes.
    /// </summary>
    [Fact]
    public void ADivergingLearnedOptimizerIsReportedAndTheLearningRateCapPreventsIt()
    {
        var ml = new MLContext(seed: 0);
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.RawMessage); };
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 640, testRows: 200);
        var path = Path.Combine(_dir, "growing.hrnn");
        using (var meta = HierarchicalRnnMetaParameters.CreateReduced())
        {
            using (TorchSharp.torch.no_grad())
                meta.LearningRateChange.B.fill_(5);
            meta.Save(path);
        }
        var o = Learned(path, 1e-4, 1e-4);
        o.NumberOfEpochs = 5;
        using (var diverged = ml.MulticlassClassification.Trainers.NeuralNetwork(o).Fit(data.Train))
        {
            var h = diverged.TrainingHistory;
            Assert.True(h[^1].TrainingLoss > 1.25 * h.Min(e => e.TrainingLoss) || !double.IsFinite(h[^1].TrainingLoss));
        }
        Assert.Contains(warnings, w => w.Contains("The learned optimizer diverged", StringComparison.Ordinal) && w.Contains(nameof(NeuralNetworkOptions.LearnedOptimizerMaxLearningRate), StringComparison.Ordinal));
        warnings.Clear();
        o.LearnedOptimizerMaxLearningRate = 1e-3;
        using (var capped = ml.MulticlassClassification.Trainers.NeuralNetwork(o).Fit(data.Train))
        {
            var h = capped.TrainingHistory;
            Assert.True(h[^1].TrainingLoss < h[0].TrainingLoss, $"capped: {h[0].TrainingLoss} → {h[^1].TrainingLoss}");
        }
        Assert.DoesNotContain(warnings, w => w.Contains("The learned optimizer diverged", StringComparison.Ordinal));
    }

    [Fact]
    public void FittingWithTheLearnedOptimizerLeaksNoTensor()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 60, dim: 4, classes: 3);
        var o = Learned(ReducedWeightsFile());
        o.HiddenLayerWidths = [8];
        o.BatchSize = 16;
        o.NumberOfEpochs = 2;
        var trainer = ml.MulticlassClassification.Trainers.NeuralNetwork(o);
        EstimatorHarness.AssertNoTensorLeak(() =>
        {
            using var model = trainer.Fit(data);
        });
        // The shipped-weights path too, and a failed Fit.
        var shipped = Learned(null);
        shipped.HiddenLayerWidths = [8];
        shipped.NumberOfEpochs = 1;
        EstimatorHarness.AssertNoTensorLeak(() =>
        {
            using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(shipped).Fit(data);
        });
        var missing = ml.MulticlassClassification.Trainers.NeuralNetwork(Learned(Path.Combine(_dir, "absent.hrnn")));
        EstimatorHarness.AssertNoTensorLeak(() => Assert.Throws<FileNotFoundException>(() => missing.Fit(data)));
    }

    [Fact]
    public void TheTrainerWithTheLearnedOptimizerPassesTheEstimatorHarness()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 60, dim: 4, classes: 3);
        var o = Learned(ReducedWeightsFile());
        o.HiddenLayerWidths = [8];
        o.BatchSize = 16;
        o.NumberOfEpochs = 2;
        using var model = EstimatorHarness.Run(ml, ml.MulticlassClassification.Trainers.NeuralNetwork(o), data, tolerance: 1e-5); // row vs batch BLAS sums, as NeuralNetworkWorkoutTests
    }
}
