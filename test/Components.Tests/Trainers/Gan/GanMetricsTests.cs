using Components.Trainers.Gan;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Gan;

/// <summary>The GAN metrics against closed forms: mode coverage and KL on exact mixture samples, Fréchet distance of Gaussians, classifier scores.</summary>
public sealed class GanMetricsTests
{
    [Fact]
    public void ExactSamplesCoverEveryModeWithSmallKl()
    {
        using var scope = NewDisposeScope();
        var centers = GanToyData.RingCenters();
        var q = GanToyData.ToTensor(GanToyData.Sample(centers, 0.05, 2000, seed: 1));
        var p = GanToyData.ToTensor(GanToyData.Sample(centers, 0.05, 2000, seed: 2));
        var m = GanMetrics.EvaluateMixture(q, GanToyData.ToTensor(centers), 0.05, p);
        // P(χ²₂ ≤ 9) = 1 − e^{−4.5} = 0.989; the KDE's smoothing biases the estimates up, choosing
        // its bandwidth on the held-out half biases KL(q‖p) down.
        Assert.True(m.ModesCovered == 8 && m.HighQualityFraction is > 0.98 and <= 1 && m.ForwardKl is > -0.05 and < 0.15 && m.ReverseKl is > -0.1 and < 0.15,
            m.ToString());
    }

    [Fact]
    public void HalfTheModesGiveLogTwoBothWays()
    {
        // q = the mixture of 4 of the 8 components: KL(p‖q) = ∞ in principle, but with q̂ a KDE the missed modes cost
        // their KDE tail; KL(q‖p) = log 2 exactly (q = 2p on its support).
        using var scope = NewDisposeScope();
        var centers = GanToyData.RingCenters();
        var half = new float[4, 2];
        for (int k = 0; k < 4; k++)
        {
            half[k, 0] = centers[2 * k, 0];
            half[k, 1] = centers[2 * k, 1];
        }
        var q = GanToyData.ToTensor(GanToyData.Sample(half, 0.05, 2000, seed: 3));
        var p = GanToyData.ToTensor(GanToyData.Sample(centers, 0.05, 2000, seed: 4));
        var m = GanMetrics.EvaluateMixture(q, GanToyData.ToTensor(centers), 0.05, p);
        Assert.True(m.ModesCovered == 4 && Math.Abs(m.ReverseKl - Math.Log(2)) < 0.12 && m.ForwardKl > 5, m.ToString());
    }

    [Fact]
    public void FrechetDistanceOfGaussiansMatchesClosedForm()
    {
        // N(0, I_k) vs N(m, 4 I_k): ‖m‖² + tr(I + 4I − 2·(4I)^½) = ‖m‖² + k.
        using var scope = NewDisposeScope();
        using var g = new Generator(5, CPU);
        const int k = 6, n = 40_000;
        var m = tensor(new double[] { 1, -1, 0.5, 0, 0, 2 });
        var a = randn([n, k], ScalarType.Float64, generator: g);
        var b = m + 2 * randn([n, k], ScalarType.Float64, generator: g);
        double expected = m.square().sum().item<double>() + k;
        double fd = GanMetrics.FrechetDistance(a, b);
        Assert.True(Math.Abs(fd - expected) < 0.3, $"Fréchet distance {fd}, closed form {expected}"); // sampling error of the traces ≈ 0.07
        Assert.InRange(GanMetrics.FrechetDistance(a, a), 0, 1e-6);
        Assert.Throws<ArgumentException>(() => GanMetrics.FrechetDistance(a, zeros(10, 3)));
    }

    [Fact]
    public void ClassifierScoreOfConfidentAndCollapsedSamples()
    {
        using var scope = NewDisposeScope();
        var balanced = eye(10).repeat(20, 1); // 200 samples, every class, one-hot
        var q = GanMetrics.ClassifierScore(balanced);
        Assert.Equal(10, q.ClassesCovered);
        Assert.Equal(1, q.MeanConfidence, 6);
        Assert.Equal(10, q.InceptionScore, 3);
        var collapsed = zeros(200, 10).index_fill_(1, tensor(new long[] { 3 }), 1.0);
        var c = GanMetrics.ClassifierScore(collapsed);
        Assert.Equal(1, c.ClassesCovered);
        Assert.Equal(1, c.InceptionScore, 3);
        var uniform = GanMetrics.ClassifierScore(full(200, 10, 0.1));
        Assert.Equal(0.1, uniform.MeanConfidence, 6);
        Assert.Equal(1, uniform.InceptionScore, 3);
    }
}
