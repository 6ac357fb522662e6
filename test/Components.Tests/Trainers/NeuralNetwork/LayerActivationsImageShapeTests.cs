using Components.Core;
using Components.Core.Data;
using Components.Core.Schema;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>LayerActivations columns of convolution layers carry their image shape, through schema propagation and save/load.</summary>
public sealed class LayerActivationsImageShapeTests
{
    [Fact]
    public void ConvolutionLayersCarryTheirShapeThroughSchemaPropagationAndSaveLoad()
    {
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 20, testRows: 6);
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassOptions
        {
            Architecture = NeuralNetworkArchitectureKind.Cnn,
            ConvolutionChannels = [3, 4],
            HiddenLayerWidths = [5],
            NumberOfEpochs = 1,
            Seed = 1,
        }).Fit(data.Train);
        var estimator = ml.Transforms.LayerActivations(model, new LayerActivationsOptions { Layers = [1, 2, 3], OutputColumnNames = ["conv1", "conv2", "dense"] });

        // Estimator-time: the annotation columns are declared.
        var shape = estimator.GetOutputSchema(SchemaShapes.FromSchema(data.Test.Schema));
        Assert.Contains(shape.Single(c => c.Name == "conv1").Annotations, a => a.Name == AnnotationNames.ImageShape);
        Assert.DoesNotContain(shape.Single(c => c.Name == "dense").Annotations, a => a.Name == AnnotationNames.ImageShape);

        using var transformer = estimator.Fit(data.Test);
        var output = transformer.Transform(data.Test);
        Assert.Equal(new ImageShape(3, 14, 14), ImageShape.Of(output.Schema["conv1"]));
        Assert.Equal(new ImageShape(4, 7, 7), ImageShape.Of(output.Schema["conv2"]));
        Assert.Null(ImageShape.Of(output.Schema["dense"]));
        Assert.Equal(new ImageShape(1, 28, 28), ImageShape.Of(output.Schema["Features"])); // the input's passes through

        var ml2 = new MLContext(seed: 1).RegisterComponents();
        using var stream = new MemoryStream();
        ml.Model.Save(transformer, data.Test.Schema, stream);
        stream.Position = 0;
        var loaded = ml2.Model.Load(stream, out _);
        try
        {
            var reloaded = loaded.Transform(data.Test);
            Assert.Equal(new ImageShape(3, 14, 14), ImageShape.Of(reloaded.Schema["conv1"]));
            Assert.Equal(new ImageShape(4, 7, 7), ImageShape.Of(reloaded.Schema["conv2"]));
            Assert.Equal(EstimatorHarness.ReadColumn(output, "conv2"), EstimatorHarness.ReadColumn(reloaded, "conv2"));
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void TheCnnRejectsAColumnWhoseImagesAreNotItsOwn()
    {
        var ml = new MLContext(seed: 0);
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 10, testRows: 2);
        // 784 values, but declared as 4 channels of 14×14: a 28×28 CNN would read them as the wrong image.
        var reshaped = ImageShape.Annotate(data.Train, "Features", new ImageShape(4, 14, 14));
        var trainer = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassOptions
        {
            Architecture = NeuralNetworkArchitectureKind.Cnn,
            ConvolutionChannels = [2],
            NumberOfEpochs = 1,
        });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(reshaped));
        Assert.Contains("Features", ex.Message);
        Assert.Contains("4×14×14", ex.Message);
    }
}
