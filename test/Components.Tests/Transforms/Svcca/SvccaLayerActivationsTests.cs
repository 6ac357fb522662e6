using Components.Core.Data;
using Components.Tests.Harness;
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
        var acts = ml.Transforms.LayerActivations(net, new LayerActivationsOptions { Layers = [1, 2], OutputColumnNames = ["H1", "H2"] })
            .Fit(data).Transform(data);

        // The estimator on the two columns equals the math core on the activations read back from them.
        double[,] Matrix(string column)
        {
            var rows = EstimatorHarness.ReadColumn(acts, column);
            var m = new double[rows.Count, rows[0].Length];
            for (int i = 0; i < rows.Count; i++)
            {
                for (int j = 0; j < rows[i].Length; j++)
                    m[i, j] = rows[i][j];
            }
            return m;
        }
        var h1 = Matrix("H1");
        var h2 = Matrix("H2");
        Assert.Equal((300, 16, 12), (h1.GetLength(0), h1.GetLength(1), h2.GetLength(1)));
        var direct = SvccaAnalysis.Compute(h1, h2);
        using var cross = ml.Transforms.Svcca("H1", "H2").Fit(acts);
        Assert.Equal((16, 12), (cross.Result.NeuronsA, cross.Result.NeuronsB));
        Assert.Equal((direct.KeptA, direct.KeptB), (cross.KeptA, cross.KeptB));
        Assert.Equal(direct.Coefficients.Count, cross.Coefficients.Count);
        for (int i = 0; i < direct.Coefficients.Count; i++)
            Assert.True(Math.Abs(direct.Coefficients[i] - cross.Coefficients[i]) < 1e-9, $"ρ[{i}]: {cross.Coefficients[i]} vs {direct.Coefficients[i]}");
        Assert.Equal(direct.Mean, cross.Mean, 9);

        // Coefficients are valid correlations, sorted, one per kept direction.
        Assert.Equal(Math.Min(cross.KeptA, cross.KeptB), cross.Coefficients.Count);
        Assert.All(cross.Coefficients, r => Assert.InRange(r, 0, 1 + 1e-9));
        Assert.True(cross.Coefficients.Zip(cross.Coefficients.Skip(1)).All(p => p.First >= p.Second));
        // Layer 2 is a function of layer 1, and the classes are separable: the top direction is strongly shared.
        Assert.True(cross.Coefficients[0] > 0.9, $"top ρ {cross.Coefficients[0]}");
        net.Dispose();
    }
}
