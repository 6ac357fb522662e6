using Components.Transforms.Svcca;
using TorchSharp;
using static Components.Tests.Transforms.Svcca.SvccaReferenceCca;

namespace Components.Tests.Transforms.Svcca;

public sealed class SvccaComparisonTests
{
    private static torch.Tensor[] Layers(Random rng, int n, params int[] widths)
    {
        // A toy "network": each layer a tanh of a random map of the previous one.
        var x = Gaussian(rng, n, 6);
        var layers = new List<torch.Tensor>();
        foreach (var w in widths)
        {
            x = Multiply(x, Gaussian(rng, x.GetLength(1), w, 1.0 / Math.Sqrt(x.GetLength(1))));
            for (int i = 0; i < n; i++)
                for (int j = 0; j < w; j++)
                    x[i, j] = Math.Tanh(x[i, j]);
            layers.Add(ToTensor(x));
        }
        return layers.ToArray();
    }

    [Fact]
    public void MatrixEntriesEqualPairwiseComputations()
    {
        var rng = new Random(41);
        var net1 = Layers(rng, 300, 8, 10, 5);
        var net2 = Layers(rng, 300, 7, 9);
        foreach (var (measure, pair) in new (SimilarityMeasure, Func<torch.Tensor, torch.Tensor, double>)[]
        {
            (SimilarityMeasure.Svcca, (x, y) => SvccaAnalysis.Compute(x, y).Mean),
            (SimilarityMeasure.SvccaThresholdMean, (x, y) => SvccaAnalysis.Compute(x, y).ThresholdMean),
            (SimilarityMeasure.Pwcca, (x, y) => SvccaAnalysis.Compute(x, y).Pwcca),
            (SimilarityMeasure.LinearCka, (x, y) => Cka.Linear(x, y)),
            (SimilarityMeasure.RbfCka, (x, y) => Cka.Rbf(x, y)),
        })
        {
            var m = RepresentationComparison.Compare(net1, net2, measure);
            Assert.Equal(3, m.Rows);
            Assert.Equal(2, m.Columns);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 2; j++)
                    Assert.True(Math.Abs(pair(net1[i], net2[j]) - m[i, j]) < 1e-9, $"{measure} [{i},{j}]");
        }
    }

    [Fact]
    public void SelfComparisonIsSymmetricWithUnitDiagonal()
    {
        var rng = new Random(42);
        var net = Layers(rng, 250, 6, 8, 4);
        var m = RepresentationComparison.Compare(net, net, SimilarityMeasure.Svcca, names1: ["l1", "l2", "l3"], names2: ["l1", "l2", "l3"]);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(1.0, m[i, i], 9);
            for (int j = 0; j < 3; j++)
                Assert.Equal(m[i, j], m[j, i], 9);
        }
        Assert.StartsWith("Svcca,l1,l2,l3", m.ToCsv());
    }

    [Fact]
    public void ComparisonRejectsMismatchedLayers()
    {
        var rng = new Random(43);
        var net = Layers(rng, 100, 4);
        Assert.Throws<ArgumentException>(() => RepresentationComparison.Compare(net, [torch.randn(99, 3)]));
        Assert.Throws<ArgumentException>(() => RepresentationComparison.Compare(net, []));
        Assert.Throws<ArgumentException>(() => RepresentationComparison.Compare(net, net, names1: ["a", "b"]));
    }
}
