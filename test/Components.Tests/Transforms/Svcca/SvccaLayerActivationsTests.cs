using Components.Core.Data;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Svcca;
using Microsoft.ML;

namespace Components.Tests.Transforms.Svcca;

/// <summary>SVCCA on columns produced by <c>ml.Transforms.LayerActivations</c> (the suite's intended workflow).</summary>
public sealed class SvccaLayerActivationsTests
{
    [Fact]
    public void SvccaComparesLayersOfTrainedNetworks()
    {
        var ml = new MLContext(seed: 0);
        var data = SyntheticData.GaussianBlobs(ml, 300, 10, 3, seed: 4);
        var net = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [16, 12], numberOfEpochs: 3, seed: 1).Fit(data);
        var acts = ml.Transforms.LayerActivations(net, new LayerActivationsEstimator.Options { Layers = [1, 2], OutputColumnNames = ["H1", "H2"] })
            .Fit(data).Transform(data);

        // A layer compared with itself: every canonical correlation is 1 (up to the 99% variance cut).
        using (var self = ml.Transforms.Svcca("H1", "H1").Fit(acts))
        {
            Assert.All(self.Coefficients, r => Assert.InRange(r, 1 - 1e-6, 1 + 1e-9));
        }

        // Two different layers of the same net: coefficients are valid correlations, sorted, one per kept direction.
        using var cross = ml.Transforms.Svcca("H1", "H2").Fit(acts);
        Assert.Equal(Math.Min(cross.KeptA, cross.KeptB), cross.Coefficients.Count);
        Assert.All(cross.Coefficients, r => Assert.InRange(r, 0, 1 + 1e-9));
        Assert.True(cross.Coefficients.Zip(cross.Coefficients.Skip(1)).All(p => p.First >= p.Second));
        // Layer 2 is a function of layer 1, and the classes are separable: the top direction is strongly shared.
        Assert.True(cross.Coefficients[0] > 0.9, $"top ρ {cross.Coefficients[0]}");
        net.Dispose();
    }
}
