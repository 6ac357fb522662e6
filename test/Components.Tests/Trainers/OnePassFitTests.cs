using Components.Tests.Core;
using Components.Tests.Trainers.NeuralNetwork;
using Components.Trainers.NeuralNetwork;
using Components.Trainers.Nngp;
using Microsoft.ML;

namespace Components.Tests.Trainers;

/// <summary>
/// Every trainer's Fit reads its input with one cursor: a source that can be read only once (a stream, or upstream
/// transforms too expensive to run twice) trains.
/// </summary>
public sealed class OnePassFitTests
{
    private static readonly MLContext s_ml = new(seed: 0);

    private static CountingDataView ReadOnce(IDataView data) => new(data, readOnce: true);

    private static IDataView Blobs() => NeuralNetworkTestData.Blobs(s_ml, rows: 30, dim: 4, classes: 3);

    [Fact]
    public void NeuralNetworkMulticlassFitOpensOneCursor()
    {
        var source = ReadOnce(Blobs());
        using var model = s_ml.MulticlassClassification.Trainers.NeuralNetwork(
            new NeuralNetworkMulticlassTrainer.Options { HiddenLayerWidths = [4], NumberOfEpochs = 1, ValidationFraction = 0.2, Seed = 1 }).Fit(source);
        Assert.Equal(1, source.Cursors);
        Assert.Equal(30, source.RowsRead);
    }

    [Fact]
    public void NeuralNetworkRegressionFitOpensOneCursorOnTrainingAndValidationData()
    {
        var source = ReadOnce(Blobs());
        var validation = ReadOnce(NeuralNetworkTestData.Blobs(s_ml, rows: 10, dim: 4, classes: 3, seed: 1));
        using var model = s_ml.Regression.Trainers.NeuralNetwork(new NeuralNetworkRegressionTrainer.Options
        {
            LabelColumnName = "Target", HiddenLayerWidths = [4], NumberOfEpochs = 1, ValidationSet = validation, Seed = 1,
        }).Fit(source);
        Assert.Equal((1, 30L), (source.Cursors, source.RowsRead));
        Assert.Equal((1, 10L), (validation.Cursors, validation.RowsRead));
    }

    [Fact]
    public void NngpMulticlassFitOpensOneCursor()
    {
        var source = ReadOnce(Blobs());
        using var model = s_ml.MulticlassClassification.Trainers.Nngp(new NngpMulticlassTrainer.Options { Depth = 2 }).Fit(source);
        Assert.Equal((1, 30L), (source.Cursors, source.RowsRead));
    }

    [Fact]
    public void NngpRegressionFitOpensOneCursor()
    {
        var source = ReadOnce(Blobs());
        using var model = s_ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options { Depth = 2, LabelColumnName = "Target" }).Fit(source);
        Assert.Equal((1, 30L), (source.Cursors, source.RowsRead));
    }
}
