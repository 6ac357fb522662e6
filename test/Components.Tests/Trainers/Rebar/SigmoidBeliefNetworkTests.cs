using Components.Tests.Harness;
using Components.Trainers.Rebar;
using Components.Trainers.Rebar.Modules;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Rebar;

/// <summary>
/// <c>ml.Transforms.SigmoidBeliefNetwork</c>: the harness; the ELBO and IWAE bounds against log p(x) by enumeration of
/// every latent configuration; training raises the ELBO; determinism for a seed; bad inputs; cancellation.
/// </summary>
public sealed class SigmoidBeliefNetworkTests
{
    private const int Width = 12;

    private sealed class Row
    {
        [VectorType(Width)]
        public float[] Features { get; set; } = [];
    }

    private sealed class ScalarRow
    {
        public float Features { get; set; }
    }

    private sealed class Out
    {
        public float[] LatentProbabilities { get; set; } = [];
        public float Elbo { get; set; }
    }

    /// <summary>Binary rows: three prototypes with 10% of the bits flipped.</summary>
    private static List<Row> Data(int n, int seed)
    {
        var rng = new Random(seed);
        var prototypes = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, Width).Select(_ => rng.Next(2)).ToArray()).ToArray();
        return [.. Enumerable.Range(0, n).Select(i => new Row
        {
            Features = [.. prototypes[i % 3].Select(b => (float)(rng.NextDouble() < 0.1 ? 1 - b : b))],
        })];
    }

    private static SigmoidBeliefNetworkEstimator.Options Small(GradientEstimatorKind kind = GradientEstimatorKind.DynamicRebar, int steps = 20, int layers = 1) => new()
    {
        LatentWidth = 4,
        LatentLayers = layers,
        GradientEstimator = kind,
        Steps = steps,
        BatchSize = 16,
        LearningRate = 3e-3,
        ElboSamples = 3,
        Seed = 3,
    };

    [Fact]
    public void SigmoidBeliefNetworkPassesTheHarness()
    {
        var ml = new MLContext(seed: 1);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new ScalarRow { Features = 1 } });
        using var model = EstimatorHarness.Run(ml, ml.Transforms.SigmoidBeliefNetwork(Small(layers: 2)), ml.Data.LoadFromEnumerable(Data(60, 1)),
            ml.Data.LoadFromEnumerable(Data(20, 2)), invalid, tolerance: 1e-5);
        Assert.Equal(4, model.LatentWidth);
        Assert.Equal(2, model.LatentLayers);
    }

    [Fact]
    public void SigmoidBeliefNetworkBoundsAgreeWithTheExactLikelihoodByEnumeration()
    {
        using var scope = NewDisposeScope();
        using var x = tensor(new float[] { 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1 }, [3, 6]);
        using var net = SigmoidBeliefNetworkModule.Create(6, 3, 1, false, x.mean([0]), new Generator(4));
        using (no_grad())
        {
            foreach (var p in net.parameters())
                p.mul_(3); // sharper posteriors than at initialisation: the ELBO is visibly below log p(x)
        }
        // log p(x) = log Σ_b p(x, b) over the 8 configurations; uniforms near 0 or 1 select b.
        var logits = net.forward(x).logit();
        var terms = new List<Tensor>();
        for (int m = 0; m < 8; m++)
        {
            var b = tensor(new float[] { m & 1, (m >> 1) & 1, (m >> 2) & 1 }).expand(3, 3);
            var u = b * (1 - 1e-6f) + (1 - b) * 1e-6f;
            using var _ = no_grad();
            terms.Add(net.LogWeight(x, [u]) + BernoulliRelaxation.LogLikelihood(b, logits));
        }
        var exact = stack(terms).logsumexp(0).mean().ToDouble();
        var k1 = SigmoidBeliefNetworkBounds.Compute(net, x, 1, new Generator(1));
        var many = SigmoidBeliefNetworkBounds.Compute(net, x, 3000, new Generator(2));
        Assert.Equal(3000, many.Samples);
        Assert.True(many.Elbo < exact - 0.05, $"ELBO {many.Elbo} should be below log p(x) {exact}");
        var ten = SigmoidBeliefNetworkBounds.Compute(net, x, 10, new Generator(3));
        // The k-sample bound rises with k towards log p(x) from below (its bias shrinks like 1/k).
        Assert.True(many.Elbo < ten.Iwae && ten.Iwae < many.Iwae, $"ELBO {many.Elbo}, IWAE(10) {ten.Iwae}, IWAE(3000) {many.Iwae}");
        Assert.True(many.Iwae < exact + 0.01 && many.Iwae > exact - 0.05, $"IWAE(3000) {many.Iwae} vs log p(x) {exact}");
        Assert.Equal(k1.Elbo, k1.Iwae, 10); // one sample: the two bounds coincide
        Assert.Throws<ArgumentOutOfRangeException>(() => SigmoidBeliefNetworkBounds.Compute(net, x, 0, null));
        Assert.Contains("binary", Assert.Throws<ArgumentException>(() => SigmoidBeliefNetworkBounds.Compute(net, x * 0.5, 5, null)).Message);
        Assert.Throws<ArgumentException>(() => SigmoidBeliefNetworkBounds.Compute(net, zeros(0, 6), 5, null));
        Assert.Throws<ArgumentException>(() => SigmoidBeliefNetworkBounds.Compute(net, zeros(2, 5), 5, null));
    }

    [Theory]
    [InlineData(GradientEstimatorKind.DynamicRebar, 1)]
    [InlineData(GradientEstimatorKind.Nvil, 2)]
    public void SigmoidBeliefNetworkTrainingRaisesTheElbo(GradientEstimatorKind kind, int layers)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Data(90, 5));
        using var before = ml.Transforms.SigmoidBeliefNetwork(Small(kind, steps: 1, layers: layers)).Fit(data);
        using var after = ml.Transforms.SigmoidBeliefNetwork(Small(kind, steps: 150, layers: layers)).Fit(data);
        double Elbo(ITransformer m) => ml.Data.CreateEnumerable<Out>(m.Transform(data), false).Average(r => r.Elbo);
        double b = Elbo(before), a = Elbo(after);
        Assert.True(a > b + 1, $"{kind}: mean ELBO {b:F2} → {a:F2} after 150 steps");
    }

    [Fact]
    public void SigmoidBeliefNetworkIsDeterministicForASeedAndLogsProgress()
    {
        var messages = new List<string>();
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Source.Contains("SigmoidBeliefNetwork")) messages.Add(e.Message); };
        var data = ml.Data.LoadFromEnumerable(Data(40, 6));
        using var a = ml.Transforms.SigmoidBeliefNetwork(Small()).Fit(data);
        using var b = ml.Transforms.SigmoidBeliefNetwork(Small()).Fit(data);
        var ra = ml.Data.CreateEnumerable<Out>(a.Transform(data), false).ToList();
        var rb = ml.Data.CreateEnumerable<Out>(b.Transform(data), false).ToList();
        for (int i = 0; i < ra.Count; i++)
        {
            Assert.Equal(ra[i].Elbo, rb[i].Elbo);
            Assert.Equal(ra[i].LatentProbabilities, rb[i].LatentProbabilities);
        }
        Assert.Contains(messages, m => m.Contains("sigmoid belief network"));
    }

    [Fact]
    public void SigmoidBeliefNetworkRejectsBadInputs()
    {
        var ml = new MLContext(seed: 1);
        var rows = Data(30, 7);
        var grey = rows.Select(r => new Row { Features = [.. r.Features] }).ToList();
        grey[4].Features[2] = 0.5f;
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.SigmoidBeliefNetwork(Small()).Fit(ml.Data.LoadFromEnumerable(grey)));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("row 4", e.Message);
        // With a threshold the same data trains.
        var withThreshold = Small();
        withThreshold.BinarizationThreshold = 0.3f;
        using (ml.Transforms.SigmoidBeliefNetwork(withThreshold).Fit(ml.Data.LoadFromEnumerable(grey))) { }
        var nan = rows.Select(r => new Row { Features = [.. r.Features] }).ToList();
        nan[3].Features[0] = float.NaN;
        Assert.Contains("Features", Assert.ThrowsAny<Exception>(() => ml.Transforms.SigmoidBeliefNetwork(Small()).Fit(ml.Data.LoadFromEnumerable(nan))).Message);
        var inf = rows.Select(r => new Row { Features = [.. r.Features] }).ToList();
        inf[3].Features[0] = float.PositiveInfinity;
        Assert.ThrowsAny<Exception>(() => ml.Transforms.SigmoidBeliefNetwork(Small()).Fit(ml.Data.LoadFromEnumerable(inf)));
        Assert.Contains("no rows", Assert.Throws<InvalidOperationException>(() => ml.Transforms.SigmoidBeliefNetwork(Small()).Fit(ml.Data.LoadFromEnumerable(new List<Row>()))).Message);
        // A model fed non-binary rows at transform time names the column and the row.
        using var model = ml.Transforms.SigmoidBeliefNetwork(Small(steps: 2)).Fit(ml.Data.LoadFromEnumerable(rows));
        var t = Assert.ThrowsAny<Exception>(() => ml.Data.CreateEnumerable<Out>(model.Transform(ml.Data.LoadFromEnumerable(grey)), false).ToList());
        Assert.Contains("row 4", (t.InnerException ?? t).Message + t.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.SigmoidBeliefNetwork(new SigmoidBeliefNetworkEstimator.Options { LatentLayers = 3 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.SigmoidBeliefNetwork(new SigmoidBeliefNetworkEstimator.Options { ElboSamples = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.SigmoidBeliefNetwork(new SigmoidBeliefNetworkEstimator.Options { EstimatorOptions = new GradientEstimatorOptions { Temperature = -1 } }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.SigmoidBeliefNetwork(latentWidth: 0));
    }

    [Fact]
    public void SigmoidBeliefNetworkFitHonoursCancellation()
    {
        var ml = new MLContext(seed: 1);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var o = Small();
        o.CancellationToken = cts.Token;
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.SigmoidBeliefNetwork(o).Fit(ml.Data.LoadFromEnumerable(Data(30, 8))));
    }
}
