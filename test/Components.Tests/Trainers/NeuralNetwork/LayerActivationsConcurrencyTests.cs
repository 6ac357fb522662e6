using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>LayerActivations owns its network through a TorchModuleOwner: concurrent PredictionEngines and dispose.</summary>
public sealed class LayerActivationsConcurrencyTests
{
    private sealed class Input
    {
        [VectorType(4)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Output
    {
        public float[] Layer1 { get; set; } = [];

        public float[] Layer2 { get; set; } = [];
    }

    [Fact]
    public void LayerActivationsFourThreadsGiveTheSequentialOutputsAndDisposeFreesTheNetwork()
    {
        var ml = new MLContext(seed: 1);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 30, dim: 4, classes: 3);
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [8], numberOfEpochs: 1, seed: 1).Fit(data);
        var transformer = ml.Transforms.LayerActivations(model, 1, 2).Fit(data);
        var inputs = Enumerable.Range(0, 200).Select(i => new Input { Features = [i % 5 * 0.3f, -i % 3, i % 7 * 0.1f, 1] }).ToArray();
        var (sequential, concurrent) = ConcurrentPrediction.Run<Input, Output, float[]>(ml, transformer, inputs, o => [.. o.Layer1, .. o.Layer2]);
        Assert.All(concurrent, thread => Assert.Equal(sequential, thread));

        var weights = transformer.Module.parameters().ToList();
        transformer.Dispose();
        Assert.All(weights, p => Assert.True(p.IsInvalid));
        Assert.All(model.Module.parameters(), p => Assert.False(p.IsInvalid)); // the model's own network is untouched
    }
}
