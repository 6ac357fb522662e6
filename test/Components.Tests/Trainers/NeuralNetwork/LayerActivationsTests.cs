using Components.Core.Data;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary><c>ml.Transforms.LayerActivations</c>: harness, agreement with an independent forward pass, options and bad input.</summary>
public sealed class LayerActivationsTests
{
    private const double RowVersusBatchTolerance = 1e-5;

    private static (MLContext Ml, IDataView Data, NeuralNetworkMulticlassModel Model) TrainedMlp(NeuralNetworkActivation activation = NeuralNetworkActivation.Relu)
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 50, dim: 5, classes: 3);
        var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [7, 6],
            Activation = activation,
            BiasVariance = 0.1,
            NumberOfEpochs = 2,
            Seed = 1,
        }).Fit(data);
        return (ml, data, model);
    }

    [Fact]
    public void LayerActivationsPassesTheHarness()
    {
        var (ml, data, model) = TrainedMlp();
        using (model)
        {
            var invalid = ml.Data.LoadFromEnumerable(new[] { new { Features = 2f } });
            using var transformer = EstimatorHarness.Run(ml, ml.Transforms.LayerActivations(model, 1, 3), data, invalidData: invalid, tolerance: RowVersusBatchTolerance);
            Assert.Equal(["Layer1", "Layer3"], transformer.OutputColumnNames);
        }
    }

    [Theory]
    [InlineData(NeuralNetworkActivation.Relu)]
    [InlineData(NeuralNetworkActivation.Tanh)]
    [InlineData(NeuralNetworkActivation.Erf)]
    [InlineData(NeuralNetworkActivation.Linear)]
    public void ActivationsEqualAManualForwardPassThroughTheWeights(NeuralNetworkActivation activation)
    {
        var (ml, data, model) = TrainedMlp(activation);
        using (model)
        {
            using var transformer = ml.Transforms.LayerActivations(model, 1, 2, 3).Fit(data);
            var output = transformer.Transform(data);

            // Independent forward pass in float64 from the named parameters.
            using var scope = NewDisposeScope();
            var p = model.Module.named_parameters().ToDictionary(t => t.name, t => t.parameter.detach().to(ScalarType.Float64));
            var x = DataLoading.LoadFeatures(data, "Features").to(ScalarType.Float64);
            Tensor Phi(Tensor z) => activation switch
            {
                NeuralNetworkActivation.Relu => z.clamp_min(0),
                NeuralNetworkActivation.Tanh => z.tanh(),
                NeuralNetworkActivation.Erf => z.erf(),
                _ => z,
            };
            var h1 = Phi(x.matmul(p["layers.0.weight"].t()) + p["layers.0.bias"]);
            var h2 = Phi(h1.matmul(p["layers.1.weight"].t()) + p["layers.1.bias"]);
            var logits = h2.matmul(p["layers.2.weight"].t()) + p["layers.2.bias"];
            AssertColumn(output, "Layer1", h1, 7);
            AssertColumn(output, "Layer2", h2, 6);
            AssertColumn(output, "Layer3", logits, 3);

            // The output layer's activations are the logits behind the model's softmax score.
            var score = EstimatorHarness.ReadColumn(model.Transform(data), "Score");
            var softmax = nn.functional.softmax(logits, 1);
            for (int i = 0; i < score.Count; i++)
            {
                for (int j = 0; j < 3; j++)
                    Assert.Equal(softmax[i, j].item<double>(), score[i][j], 1e-5);
            }
        }
    }

    [Fact]
    public void CnnLayersHaveTheDocumentedSizesAndMatchConv2d()
    {
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 30, testRows: 8);
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            Architecture = NeuralNetworkArchitectureKind.Cnn,
            ConvolutionChannels = [3, 4],
            HiddenLayerWidths = [5],
            BiasVariance = 0.1,
            NumberOfEpochs = 1,
            Seed = 1,
        }).Fit(data.Train);
        using var transformer = ml.Transforms.LayerActivations(model, new LayerActivationsEstimator.Options { Layers = [1, 2, 3], OutputColumnNames = ["conv1", "conv2", "dense"] }).Fit(data.Test);
        var output = transformer.Transform(data.Test);
        Assert.Equal(3 * 14 * 14, ((Microsoft.ML.Data.VectorDataViewType)output.Schema["conv1"].Type).Size);
        Assert.Equal(4 * 7 * 7, ((Microsoft.ML.Data.VectorDataViewType)output.Schema["conv2"].Type).Size);
        Assert.Equal(5, ((Microsoft.ML.Data.VectorDataViewType)output.Schema["dense"].Type).Size);

        // Reference: im2col (unfold + matmul), independent of the module's conv2d.
        using var scope = NewDisposeScope();
        var p = model.Module.named_parameters().ToDictionary(t => t.name, t => t.parameter.detach());
        var x = DataLoading.LoadFeatures(data.Test, "Features").reshape(-1, 1, 28, 28);
        var c1 = nn.functional.max_pool2d(nn.functional.relu(UnfoldConvolution(x, p["convs.0.weight"], p["convs.0.bias"])), 2);
        var c2 = nn.functional.max_pool2d(nn.functional.relu(UnfoldConvolution(c1, p["convs.1.weight"], p["convs.1.bias"])), 2);
        var d = nn.functional.relu(c2.flatten(1).matmul(p["dense.0.weight"].t()) + p["dense.0.bias"]);
        AssertColumn(output, "conv1", c1.flatten(1).to(ScalarType.Float64), 3 * 14 * 14, 1e-5);
        AssertColumn(output, "conv2", c2.flatten(1).to(ScalarType.Float64), 4 * 7 * 7, 1e-5);
        AssertColumn(output, "dense", d.to(ScalarType.Float64), 5, 1e-5);
    }

    private static Tensor UnfoldConvolution(Tensor x, Tensor w, Tensor b)
    {
        var columns = nn.functional.unfold(x, 5, padding: 2);
        return (w.view(w.shape[0], -1).matmul(columns) + b.view(1, -1, 1)).view(x.shape[0], w.shape[0], x.shape[2], x.shape[3]);
    }

    [Fact]
    public void TheTransformerOwnsACopyOfTheNetwork()
    {
        var (ml, data, model) = TrainedMlp();
        var transformer = ml.Transforms.LayerActivations(model, 2).Fit(data);
        var before = EstimatorHarness.ReadColumn(transformer.Transform(data), "Layer2");
        model.Dispose();
        Assert.Equal(before, EstimatorHarness.ReadColumn(transformer.Transform(data), "Layer2"));
        transformer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => transformer.Transform(data));
    }

    [Fact]
    public void BadLayersNamesAndInputsAreRejected()
    {
        var (ml, data, model) = TrainedMlp();
        using (model)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model, 0));
            Assert.Contains("layers 1..3", ex.Message);
            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model, 4));
            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model));
            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model, 1, 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model, new LayerActivationsEstimator.Options { Layers = [1, 2], OutputColumnNames = ["a"] }));
            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model, new LayerActivationsEstimator.Options { Layers = [1, 2], OutputColumnNames = ["a", "a"] }));
            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model, new LayerActivationsEstimator.Options { Layers = [1], BatchSize = 0 }));
            ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model, new LayerActivationsEstimator.Options { Layers = [1], Device = "tpu" }));
            Assert.Contains("tpu", ex.Message);

            var estimator = ml.Transforms.LayerActivations(model, new LayerActivationsEstimator.Options { Layers = [1], InputColumnName = "Pixels" });
            ex = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(SchemaShapes.FromSchema(data.Schema)));
            Assert.Contains("'Pixels'", ex.Message);

            var wrongSize = NeuralNetworkTestData.Keyed(ml, NeuralNetworkTestData.KeyRows()); // Features of length 3, the network reads 5
            ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LayerActivations(model, 1).Fit(wrongSize));
            Assert.Contains("length 5", ex.Message);

            var rows = NeuralNetworkTestData.Blobs(ml, rows: 5, dim: 5, classes: 3);
            using var transformer = ml.Transforms.LayerActivations(model, 1).Fit(rows);
            // An explicit Device places the copy there; on the CPU it computes what the model's copy computes.
            using (var onCpu = ml.Transforms.LayerActivations(model, new LayerActivationsEstimator.Options { Layers = [1], Device = "cpu" }).Fit(rows))
            {
                Assert.Equal(EstimatorHarness.ReadColumn(transformer.Transform(rows), "Layer1"), EstimatorHarness.ReadColumn(onCpu.Transform(rows), "Layer1"));
            }
            var nan = ml.Data.LoadFromEnumerable(new[] { new NanRow() });
            Assert.Throws<InvalidOperationException>(() => EstimatorHarness.ReadColumn(transformer.Transform(nan), "Layer1"));
        }
    }

    private sealed class NanRow
    {
        [Microsoft.ML.Data.VectorType(5)]
        public float[] Features { get; set; } = [1, float.NaN, 0, 0, 0];
    }

    private static void AssertColumn(IDataView output, string column, Tensor expected, int width, double tolerance = 1e-5)
    {
        var values = EstimatorHarness.ReadColumn(output, column);
        Assert.Equal(expected.shape[0], values.Count);
        var e = TensorData.ToDoubleArray(expected);
        for (int i = 0; i < values.Count; i++)
        {
            Assert.Equal(width, values[i].Length);
            for (int j = 0; j < width; j++)
                Assert.True(Math.Abs(e[i * width + j] - values[i][j]) <= tolerance * (1 + Math.Abs(e[i * width + j])), $"{column}[{i},{j}]: {values[i][j]} vs {e[i * width + j]}");
        }
    }
}
