using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Components.Samplers.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Samplers.Hmc;

/// <summary>HMC math core: leapfrog accuracy, invariance, acceptance rules, dual averaging.</summary>
public sealed class HmcSamplerTests
{
    [Fact]
    public void HmcLeapfrogEnergyErrorIsSecondOrder()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var gen = new torch.Generator(1, torch.CPU);
        var energy = HmcTestUtil.CorrelatedGaussian(2);
        var x = energy.SampleExact(500, gen);
        var v = torch.randn([500, 2], generator: gen);
        var (u0, g0) = energy.EnergyAndGradient(x);
        var h0 = u0 + 0.5f * v.square().sum(1);
        double Error(double eps, int steps)
        {
            var (x1, v1, u1, _) = new LeapfrogKernel(energy, eps, steps).Integrate(x, v, g0);
            return (u1 + 0.5f * v1.square().sum(1) - h0).abs().mean().item<float>();
        }
        // Same trajectory length τ = 1: halving ε divides the energy error by about 4.
        double ratio = Error(0.1, 10) / Error(0.05, 20);
        Assert.InRange(ratio, 3.0, 5.0);
    }

    [Fact]
    public void HmcKeepsGaussianInvariantFromExactSamples()
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(5, torch.CPU);
        var energy = HmcTestUtil.CorrelatedGaussian(3);
        var hmc = new HmcSampler(energy, 0.4, 5);
        var x0 = energy.SampleExact(4000, gen);
        var trace = hmc.Sample(x0, 2, gen, burnIn: 4);
        var last = torch.tensor(trace.Samples[(4000 * 3)..].ToArray(), [4000, 3]);
        var cov = new double[3, 3];
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++)
                cov[i, j] = i == j ? 1 + 0.5 * i : 0.3;
        }
        HmcTestUtil.AssertMoments(last, new double[3], cov, 4.5, "after 5 HMC transitions");
        Assert.InRange(trace.AcceptanceRate, 0.3, 1.0);
    }

    [Fact]
    public void HmcAcceptanceIsAProbabilityAndZeroForNonFiniteValues()
    {
        using var scope = torch.NewDisposeScope();
        float nan = float.NaN, inf = float.PositiveInfinity;
        var h0 = torch.tensor(new[] { 0f, 0f, 0f, 0f, 0f, 0f, nan, 0f, 0f });
        var h1 = torch.tensor(new[] { 1f, -1f, inf, -inf, nan, 0f, 0f, 1000f, 0.5f });
        var ld = torch.tensor(new[] { 0f, 0f, 0f, 0f, 0f, nan, 0f, 0f, 0.5f });
        var x = torch.zeros([9, 2]);
        x[8, 1] = torch.tensor(inf);
        var p = Acceptance.Probability(h0, h1, ld, x).data<float>().ToArray();
        Assert.Equal(Math.Exp(-1), p[0], 6);
        Assert.Equal(1f, p[1]);
        Assert.All(p[2..7], q => Assert.Equal(0f, q));   // +∞ / −∞ / NaN energies, NaN log-det, NaN start
        Assert.Equal(0f, p[7]);                           // exp(−1000) underflows to 0
        Assert.Equal(0f, p[8]);                           // non-finite proposal
        Assert.All(p, q => Assert.InRange(q, 0f, 1f));
    }

    [Fact]
    public void HmcNeverAcceptsIntoInfiniteEnergy()
    {
        // A wall: U = +∞ for x₀ > 1. Proposals beyond it must be rejected, never accepted.
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(9, torch.CPU);
        var wall = EnergyFunction.FromFunction("HmcTests.Wall", 2,
            x => 0.5f * x.square().sum(1) + torch.where(x[.., 0].gt(1), torch.tensor(float.PositiveInfinity), torch.tensor(0f)));
        var hmc = new HmcSampler(wall, 0.3, 5);
        var x0 = (torch.randn([200, 2], generator: gen) * 0.3f).clamp_max(0.9f);
        var trace = hmc.Sample(x0, 40, gen);
        Assert.All(trace.AcceptanceProbability, p => Assert.InRange(p, 0.0, 1.0));
        Assert.True(trace.AcceptanceRate < 0.99 && trace.AcceptanceRate > 0.1, $"Acceptance {trace.AcceptanceRate}.");
        for (int t = 0; t < trace.Steps; t++)
        {
            for (int c = 0; c < trace.Chains; c++)
                Assert.True(trace[t, c, 0] <= 1f, $"Chain {c} crossed the wall at step {t}.");
        }
    }

    [Theory]
    [InlineData(1, 10, 2.0, 0.3)]
    [InlineData(1, 10, 2.0, 0.7)]
    [InlineData(1, 10, 2.0, 0.95)]
    [InlineData(3, 20, 1.0, 0.9)]
    public void HmcDualAveragingFindsTheStepSizeTheoryGivesForTheTarget(int leapfrogSteps, int d, double sigma, double target)
    {
        // On N(0, σ²I_d) the mean acceptance probability α(ε, L) is known exactly (HmcGaussianAcceptance, derivation
        // there). The averaged step size ε̄ must land near ε*, the root of α(ε*) = δ on the branch where α decreases
        // (all of 0 < ε < 2σ for L = 1; below the first resonance for L = 3), and the acceptance measured at ε̄
        // must equal the theory's α(ε̄).
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(2, torch.CPU);
        var cov = new double[d, d];
        for (int i = 0; i < d; i++)
            cov[i, i] = sigma * sigma;
        var energy = EnergyFunction.Gaussian(new double[d], cov);
        double high = leapfrogSteps == 1 ? 1.95 * sigma : 0.7 * sigma;
        double expected = HmcGaussianAcceptance.StepSizeFor(target, leapfrogSteps, d, sigma, 0.02 * sigma, high);

        var hmc = new HmcSampler(energy, 0.02, leapfrogSteps);
        var x = hmc.Adapt(energy.SampleExact(100, gen), 500, target, gen);
        double eps = hmc.StepSize;
        double theory = HmcGaussianAcceptance.Rate(eps, leapfrogSteps, d, sigma);
        double measured = hmc.Sample(x, 100, gen).MeanAcceptanceProbability;
        // Over generator seeds 2, 7 and 11: |ε̄/ε* − 1| ≤ 0.018 and |measured − α(ε̄)| ≤ 0.007 (the old test allowed a factor 3).
        Assert.True(Math.Abs(eps / expected - 1) < 0.04, $"δ = {target}: ε̄ = {eps:G4}, theory ε* = {expected:G4}; α(ε̄) = {theory:G4}, measured {measured:G4}.");
        Assert.True(Math.Abs(measured - theory) < 0.02, $"δ = {target}: measured acceptance {measured:G4} at ε̄ = {eps:G4}, theory {theory:G4}.");
    }

    [Fact]
    public void HmcSampleRejectsNonFiniteInitialGradient()
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(2, torch.CPU);
        var nanGrad = EnergyFunction.FromFunction("HmcTests.NanGradient", 2, x => x.abs().sqrt().sum(1));
        var hmc = new HmcSampler(nanGrad);
        var x0 = torch.tensor(new float[] { 1, 1, 0, 0, 2, 2 }, [3, 2]);
        var ex = Assert.Throws<InvalidOperationException>(() => hmc.Sample(x0, 5, gen));
        Assert.Contains("non-finite gradient", ex.Message);
        Assert.Contains("initial state 1", ex.Message);
    }

    [Fact]
    public void HmcRejectsEnergyOfWrongShape()
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(2, torch.CPU);
        var bad = EnergyFunction.FromFunction("HmcTests.WrongShape", 2, x => x * 2);
        var ex = Assert.Throws<InvalidOperationException>(() => new HmcSampler(bad).Sample(torch.zeros([4, 2]), 3, gen));
        Assert.Contains("one value per state", ex.Message);
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => new HmcSampler(bad).Sample(torch.zeros([4, 3]), 3, gen));
        Assert.Contains("R^2", ex2.Message);
    }
}
