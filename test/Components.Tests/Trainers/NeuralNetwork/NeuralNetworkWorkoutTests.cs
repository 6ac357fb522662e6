using Components.Core;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>
/// The estimator harness (schema propagation, invalid input, row path = batch path, save/load in a fresh MLContext,
/// no tensor leak) on both trainers and both architectures.
/// </summary>
public sealed class NeuralNetworkWorkoutTests
{
    // The row path (PredictionEngine, 1 row per forward pass) and the batch path (up to 512 rows) use different BLAS
    // kernels, whose float32 sums may differ in the last bits; save/load itself is exact (checked separately).
    private const double RowVersusBatchTolerance = 1e-5;

    [Fact]
    public void MulticlassMlpPassesTheHarness()
    {
        var ml = new MLContext(seed: 1);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 90, dim: 5, classes: 3);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Features = 1f, Label = 1u } });
        var trainer = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [16, 8],
            NumberOfEpochs = 3,
            BatchSize = 16,
            InferenceBatchSize = 32, // 90 rows: two full batches and a partial one
            Seed = 1,
        });
        using var model = EstimatorHarness.Run(ml, trainer, data, invalidData: invalid, tolerance: RowVersusBatchTolerance);
        Assert.Equal(["c0", "c1", "c2"], model.ClassNames);
        Assert.Equal(3, model.TrainingHistory.Count);
    }

    [Fact]
    public void RegressionMlpPassesTheHarness()
    {
        var ml = new MLContext(seed: 1);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 60, dim: 4, classes: 3);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Features = new float[4], Target = "text" } });
        var trainer = ml.Regression.Trainers.NeuralNetwork(new NeuralNetworkRegressionTrainer.Options
        {
            LabelColumnName = "Target",
            HiddenLayerWidths = [8],
            Activation = NeuralNetworkActivation.Tanh,
            NumberOfEpochs = 2,
            Seed = 1,
        });
        using var model = EstimatorHarness.Run(ml, trainer, data, invalidData: invalid, tolerance: RowVersusBatchTolerance);
        Assert.Equal(1, model.Architecture.OutputSize);
    }

    [Fact]
    public void MulticlassCnnPassesTheHarness()
    {
        var ml = new MLContext(seed: 1);
        var data = NeuralNetworkTestData.Fashion(ml, trainRows: 40, testRows: 10);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Features = new float[100], Label = 1u } }); // Features not a 28×28 image
        var trainer = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            Architecture = NeuralNetworkArchitectureKind.Cnn,
            ConvolutionChannels = [2, 3],
            HiddenLayerWidths = [8],
            NumberOfEpochs = 1,
            BatchSize = 20,
            Seed = 1,
        });
        using var model = EstimatorHarness.Run(ml, trainer, data.Train, data.Test, tolerance: RowVersusBatchTolerance);
        Assert.Equal([2 * 14 * 14, 3 * 7 * 7, 8, 10], model.Architecture.LayerSizes);
        EstimatorHarness.AssertInvalid(() => trainer.Fit(invalid));
    }

    [Fact]
    public void SaveAndLoadReproduceScoresExactlyAndKeepTheArchitectureAndHistory()
    {
        var ml = new MLContext(seed: 1);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 60, dim: 4, classes: 3);
        var trainer = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [6, 5],
            Activation = NeuralNetworkActivation.Erf,
            WeightVariance = 1.5,
            BiasVariance = 0.1,
            NumberOfEpochs = 2,
            ValidationFraction = 0.25,
            Seed = 3,
        });
        using var model = trainer.Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var ml2 = new MLContext().RegisterComponents();
        using var loaded = Assert.IsType<NeuralNetworkMulticlassModel>(ml2.Model.Load(stream, out _));
        Assert.Equal(model.Architecture.ToString(), loaded.Architecture.ToString());
        Assert.Equal(model.TrainingHistory, loaded.TrainingHistory);
        Assert.Equal(model.BestEpoch, loaded.BestEpoch);
        Assert.Equal(EstimatorHarness.ReadColumn(model.Transform(data), "Score"), EstimatorHarness.ReadColumn(loaded.Transform(data), "Score"));
    }
}
