using Components.Core.Data;
using Components.Core.Schema;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Svcca;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Tests.Transforms.Svcca;

/// <summary>DFT-CCA straight from image-shaped columns (CNN layers from LayerActivations; CHW and HWC).</summary>
public sealed class SvccaDftImageColumnTests
{
    /// <summary>Rows of CHW vectors rearranged by explicit index arithmetic into an [n, h, w, c] float64 tensor.</summary>
    private static torch.Tensor ManualNhwc(List<double[]> rows, int c, int h, int w)
    {
        var values = new double[rows.Count * h * w * c];
        for (int i = 0; i < rows.Count; i++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        values[(((i * h) + y) * w + x) * c + ch] = rows[i][(ch * h + y) * w + x];
        return torch.tensor(values, [rows.Count, h, w, c]);
    }

    private static void AssertSame(DftCcaResult expected, DftCcaResult actual)
    {
        Assert.Equal((expected.Height, expected.Width), (actual.Height, actual.Width));
        for (int i = 0; i < expected.Height; i++)
            for (int j = 0; j < expected.Width; j++)
                Assert.Equal(expected.CoefficientsAt(i, j), actual.CoefficientsAt(i, j), (a, b) => Math.Abs(a - b) < 1e-9);
    }

    [Fact]
    public void DftCcaOnCnnLayerColumnsEqualsDftCcaOnTheManuallyReshapedArrays()
    {
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 20, testRows: 30);
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassOptions
        {
            Architecture = NeuralNetworkArchitectureKind.Cnn,
            ConvolutionChannels = [3, 4],
            HiddenLayerWidths = [5],
            Activation = NeuralNetworkActivation.Tanh,
            NumberOfEpochs = 1,
            Seed = 1,
        }).Fit(data.Train);
        using var layers = ml.Transforms.LayerActivations(model, new LayerActivationsOptions { Layers = [1, 2], OutputColumnNames = ["conv1", "conv2"] }).Fit(data.Test);
        var output = layers.Transform(data.Test);

        using var scope = torch.NewDisposeScope();
        var conv1 = EstimatorHarness.ReadColumn(output, "conv1");
        var conv2 = EstimatorHarness.ReadColumn(output, "conv2");
        var expected = DftCca.Compute(ManualNhwc(conv1, 3, 14, 14), ManualNhwc(conv2, 4, 7, 7));
        var actual = DftCca.Compute(output, "conv1", "conv2");
        AssertSame(expected, actual);
        Assert.Equal((7, 7), (actual.Height, actual.Width)); // the frequencies both layers share

        // The same images stored channels-last (HWC) and annotated so: the same result.
        var nhwc1 = ManualNhwc(conv1, 3, 14, 14).reshape(30, -1).to(torch.ScalarType.Float32);
        var nhwc2 = ManualNhwc(conv2, 4, 7, 7).reshape(30, -1).to(torch.ScalarType.Float32);
        var rows = Enumerable.Range(0, 30).Select(i => new HwcRow
        {
            A = Components.Core.Tensors.TensorData.ToSingleArray(nhwc1[i]),
            B = Components.Core.Tensors.TensorData.ToSingleArray(nhwc2[i]),
        }).ToArray();
        var hwc = ImageShape.Annotate(ImageShape.Annotate(ml.Data.LoadFromEnumerable(rows), "A", new ImageShape(3, 14, 14, ImageLayout.Hwc)),
            "B", new ImageShape(4, 7, 7, ImageLayout.Hwc));
        AssertSame(expected, DftCca.Compute(hwc, "A", "B"));

        // A column without a shape is refused, naming it.
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => DftCca.Compute(ml.Data.LoadFromEnumerable(rows), "A", "B"));
        Assert.Contains("'A'", ex.Message);
    }

    private sealed class HwcRow
    {
        [VectorType(3 * 14 * 14)]
        public float[] A { get; set; } = [];

        [VectorType(4 * 7 * 7)]
        public float[] B { get; set; } = [];
    }
}
