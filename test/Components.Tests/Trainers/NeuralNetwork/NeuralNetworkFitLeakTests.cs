using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Xunit;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>
/// Fitting (with a validation set, early stopping and every optimizer path the study runners use) leaves no live
/// tensors behind once the model is disposed: tensors that escape their dispose scope are freed only by the GC's
/// finalizer, so native memory grows with every fit between collections.
/// </summary>
public sealed class NeuralNetworkFitLeakTests
{
    [Theory]
    [InlineData(NeuralNetworkActivation.Relu, 0.0)]
    [InlineData(NeuralNetworkActivation.Erf, 1e-3)]
    public void FitLeaksNoTensors(NeuralNetworkActivation activation, double weightDecay)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(NeuralNetworkTestData.Blobs(ml, rows: 120, dim: 6, classes: 3, seed: 2));
        var validation = ml.Data.Cache(NeuralNetworkTestData.Blobs(ml, rows: 60, dim: 6, classes: 3, seed: 3));
        var options = new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [16],
            Activation = activation,
            WeightDecay = weightDecay,
            NumberOfEpochs = 4,
            BatchSize = 16,
            ValidationSet = validation,
            EarlyStoppingPatience = 2,
        };
        { using var warm = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(data); }
        var stats = TorchSharp.DisposeScopeManager.Statistics;
        // No garbage collection during the measured fit, so a finalizer cannot hide a tensor that escaped its scope.
        bool noGc = GC.TryStartNoGCRegion(200_000_000);
        long before = stats.ThreadTotalLiveCount;
        { using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(data); }
        long after = stats.ThreadTotalLiveCount;
        if (noGc && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
            GC.EndNoGCRegion();
        Assert.True(noGc, "Could not suspend garbage collection for the measurement.");
        Assert.Equal(before, after);
    }
}
