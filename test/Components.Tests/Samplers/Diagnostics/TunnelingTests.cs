using Components.Samplers.Diagnostics;
using Components.Samplers.Energies;
using Components.Samplers.L2hmc;
using Components.Samplers.Sampling;
using Components.Tests.Samplers.Hmc;
using TorchSharp;

namespace Components.Tests.Samplers.Diagnostics;

/// <summary>The tunnelling rate of the reference (utils/tunneling.py), the reference's ring of Gaussians, and its annealing staircase.</summary>
public sealed class TunnelingTests
{
    private static readonly double[][] TwoModes = [[-2, 0], [2, 0]];

    private static ChainTrace Trace(params float[][][] chains)
    {
        // chains[c][t] is a 2-d state; the trace is laid out [step, chain, dim].
        int m = chains.Length, n = chains[0].Length;
        var samples = new float[n * m * 2];
        for (int c = 0; c < m; c++)
            for (int t = 0; t < n; t++)
                for (int j = 0; j < 2; j++)
                    samples[(t * m + c) * 2 + j] = chains[c][t][j];
        return new ChainTrace(n, m, 2, samples, [], [], n, TimeSpan.Zero);
    }

    [Fact]
    public void TunnelingRateCountsNearestCentreChangesAsTheReference()
    {
        // Hand count. Chain 0: modes 0, 0, 1, 1, 0 → 2 changes in 4 transitions. Chain 1 stays at the right mode,
        // and (0, 3) is equidistant from both centres: the first centre wins (np.argmin), so chain 2 reads 1, 0, 1, 1, 1.
        var trace = Trace(
            [[-2, 0], [-1.9f, 0.3f], [2, 0], [2.1f, -0.2f], [-0.1f, 0]],
            [[2, 0], [1.5f, 1], [2.5f, 0], [3, 0], [0.1f, 0]],
            [[1, 0], [0, 3], [1, 1], [2, 2], [0.5f, -4]]);
        Assert.Equal([[0, 0, 1, 1, 0], [1, 1, 1, 1, 1], [1, 0, 1, 1, 1]], Tunneling.Modes(trace, TwoModes));
        Assert.Equal([0.5, 0.0, 0.5], Tunneling.Rates(trace, TwoModes));
        var (mean, sd) = Tunneling.MeanRate(trace, TwoModes);
        Assert.Equal(1.0 / 3, mean, 12);
        Assert.Equal(Math.Sqrt((2 * (0.5 - 1.0 / 3) * (0.5 - 1.0 / 3) + 1.0 / 9) / 3), sd, 12);
    }

    [Fact]
    public void TunnelingRateRejectsBadInput()
    {
        var trace = Trace([[0, 0], [1, 1]]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tunneling.Rates(trace, [new double[] { 0, 0, 0 }]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tunneling.Rates(trace, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tunneling.Rates(trace, [new[] { double.NaN, 0 }]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tunneling.Rates(Trace([[0, 0]]), TwoModes));
        var bad = Assert.Throws<ArgumentException>(() => Tunneling.Rates(Trace([[0, 0], [float.NaN, 0]]), TwoModes));
        Assert.Contains("step 1", bad.Message);
    }

    [Fact]
    public void GaussianRingMatchesTheReferenceGenRing()
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(5, torch.CPU);
        var ring = EnergyFunction.GaussianRing(4, 2, 0.1);
        var centres = ring.ModeCentres!;
        double[][] expected = [[2, 0], [0, 2], [-2, 0], [0, -2]];
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 2; j++)
                Assert.Equal(expected[k][j], centres[k][j], 12);
        // Mean 0, so trace Σ = E|x|² = r² + 2σ².
        Assert.Equal(4 + 0.2, ring.CovarianceTrace!.Value, 9);
        var x = ring.SampleExact(20000, gen);
        Assert.Equal(4.2, x.square().sum(1).mean().item<float>(), 0.1);
        // Every exact sample lies near one centre, a quarter of them near each.
        var rates = Tunneling.Modes(new ChainTrace(20000, 1, 2, x.data<float>().ToArray(), [], [], 0, TimeSpan.Zero), centres)[0];
        for (int k = 0; k < 4; k++)
            Assert.InRange(rates.Count(m => m == k) / 20000.0, 0.23, 0.27);
        // U = −log Σ_k ¼ N(x; μ_k, 0.1 I), by hand at two points.
        var pts = torch.tensor(new float[] { 2, 0, 1, 1 }, [2, 2]);
        var u = ring.Energy(pts).data<float>().ToArray();
        static double Density(double x, double y, double[][] mus) => mus.Sum(m =>
            0.25 / (2 * Math.PI * 0.1) * Math.Exp(-((x - m[0]) * (x - m[0]) + (y - m[1]) * (y - m[1])) / 0.2));
        Assert.Equal(-Math.Log(Density(2, 0, expected)), u[0], 4);
        Assert.Equal(-Math.Log(Density(1, 1, expected)), u[1], 4);
        // Two components are the paper's MoG with distance 2r.
        var two = EnergyFunction.GaussianRing(2, 2, 0.1).Energy(pts).data<float>().ToArray();
        var mog = EnergyFunction.MixtureOfGaussians(4, 0.1).Energy(pts).data<float>().ToArray();
        Assert.Equal(mog[0], two[0], 4);
        Assert.Equal(mog[1], two[1], 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.GaussianRing(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.GaussianRing(4, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.GaussianRing(4, 2, 0));
        Assert.Null(EnergyFunction.StronglyCorrelatedGaussian().ModeCentres);
    }

    [Fact]
    public void StaircaseAnnealingFollowsTheReferenceSchedule()
    {
        // mog_experiment.py: step s trains at τ; after a step with s % k == 0, τ ← 0.98 τ if that stays above 1.
        Assert.Equal(10, L2hmcTrainer.StaircaseTemperature(10, 100, 0.98, 0));
        Assert.Equal(9.8, L2hmcTrainer.StaircaseTemperature(10, 100, 0.98, 1), 12);
        Assert.Equal(9.8, L2hmcTrainer.StaircaseTemperature(10, 100, 0.98, 100), 12);
        Assert.Equal(9.604, L2hmcTrainer.StaircaseTemperature(10, 100, 0.98, 101), 12);
        // 10 · 0.98^113 ≈ 1.0206 > 1 ≥ 10 · 0.98^114: the temperature stops there for good.
        double last = 10 * Math.Pow(0.98, 113);
        Assert.True(last > 1 && 0.98 * last <= 1);
        Assert.Equal(last, L2hmcTrainer.StaircaseTemperature(10, 100, 0.98, 11301), 9);
        Assert.Equal(last, L2hmcTrainer.StaircaseTemperature(10, 100, 0.98, 1_000_000), 9);
        Assert.Equal(1, L2hmcTrainer.StaircaseTemperature(1, 100, 0.98, 5));

        // The sampler trains at those temperatures (progress records): 4, then 2 from step 1; 2·0.5 = 1 is not above 1.
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(3, torch.CPU);
        using var sampler = new L2hmcSampler(HmcTestUtil.CorrelatedGaussian(2), gen, leapfrogSteps: 2, hiddenUnits: 4);
        var (_, history) = sampler.Train(torch.randn([8, 2], generator: gen), 6, gen, logInterval: 1,
            initialTemperature: 4, annealingSteps: 2, annealingFactor: 0.5);
        Assert.Equal([4.0, 2.0, 2.0, 2.0, 2.0, 2.0], history.Select(p => p.Temperature));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Train(torch.randn([8, 2], generator: gen), 1, gen, annealingFactor: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Train(torch.randn([8, 2], generator: gen), 1, gen,
            initialTemperature: 4, annealingSteps: 0, annealingFactor: 0.5));
    }
}
