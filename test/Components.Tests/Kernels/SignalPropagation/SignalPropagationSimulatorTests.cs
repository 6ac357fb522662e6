using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using static Components.Tests.Kernels.SignalPropagation.SignalPropagationMeanFieldTests;

namespace Components.Tests.Kernels.SignalPropagation;

public sealed class SignalPropagationSimulatorTests
{
    private static RandomNetworkSimulation Simulate(NngpNonlinearity phi, int width, int depth, double sw, double sb, int samples,
        double q0 = 1.0, double c0 = 0.5, RandomNetworkSimulationMethod method = RandomNetworkSimulationMethod.ConditionalGaussian, int seed = 0)
        => new RandomNetworkSimulator(new RandomNetworkSimulator.Options
        {
            Nonlinearity = phi,
            Width = width,
            Depth = depth,
            WeightVariance = sw,
            BiasVariance = sb,
            Samples = samples,
            InputVariance = q0,
            InputCorrelation = c0,
            Method = method,
            Seed = seed,
        }).Run();

    [Theory]
    [InlineData("tanh", 1.8, 0.05)]
    [InlineData("tanh", 4.0, 0.05)]
    [InlineData("relu", 1.7, 0.2)]
    [InlineData("erf", 1.2, 0.3)]
    public void SimulatorAgreesWithTheMapsWithinMonteCarloError(string name, double sw, double sb)
    {
        var phi = Phi(name);
        const int depth = 10, width = 1000;
        var sim = Simulate(phi, width, depth, sw, sb, samples: 300, q0: 2.0, c0: 0.6);
        var (q, _, c) = MeanField.Trajectory(phi, sw, sb, 2.0, 2.0, 0.6, depth);
        for (int l = 0; l <= depth; l++)
        {
            // Monte-Carlo error (4 standard errors) plus the O(1/N) finite-width bias.
            Assert.True(Math.Abs(sim.VarianceMean[l] - q[l]) <= 4 * sim.VarianceStdError[l] + 3.0 / width * q[l],
                $"layer {l}: simulated q {sim.VarianceMean[l]} ± {sim.VarianceStdError[l]}, map {q[l]}");
            Assert.True(Math.Abs(sim.CorrelationMean[l] - c[l]) <= 4 * sim.CorrelationStdError[l] + 3.0 / width,
                $"layer {l}: simulated c {sim.CorrelationMean[l]} ± {sim.CorrelationStdError[l]}, map {c[l]}");
        }
    }

    [Fact]
    public void ExplicitWeightsAndTheConditionalLawGiveTheSameStatistics()
    {
        var phi = NngpNonlinearity.Tanh;
        const int width = 48, depth = 5;
        var a = Simulate(phi, width, depth, 2.0, 0.1, 1500, method: RandomNetworkSimulationMethod.ExplicitWeights, seed: 1);
        var b = Simulate(phi, width, depth, 2.0, 0.1, 1500, method: RandomNetworkSimulationMethod.ConditionalGaussian, seed: 2);
        var (ca, ea) = a.NormCovariance();
        var (cb, eb) = b.NormCovariance();
        for (int l = 0; l <= depth; l++)
        {
            double se = Math.Sqrt(a.VarianceStdError[l] * a.VarianceStdError[l] + b.VarianceStdError[l] * b.VarianceStdError[l]);
            Assert.True(Math.Abs(a.VarianceMean[l] - b.VarianceMean[l]) <= 4.5 * se, $"layer {l}: q {a.VarianceMean[l]} vs {b.VarianceMean[l]} ± {se}");
            double sc = Math.Sqrt(a.CorrelationStdError[l] * a.CorrelationStdError[l] + b.CorrelationStdError[l] * b.CorrelationStdError[l]);
            Assert.True(Math.Abs(a.CorrelationMean[l] - b.CorrelationMean[l]) <= 4.5 * sc, $"layer {l}: c {a.CorrelationMean[l]} vs {b.CorrelationMean[l]} ± {sc}");
            double sv = Math.Sqrt(ea[l, depth] * ea[l, depth] + eb[l, depth] * eb[l, depth]);
            Assert.True(Math.Abs(ca[l, depth] - cb[l, depth]) <= 4.5 * sv, $"Cov(Q^{l}, Q^{depth}) {ca[l, depth]} vs {cb[l, depth]} ± {sv}");
        }
    }

    [Theory]
    [InlineData("relu", 1.5, 0.5)]
    [InlineData("linear", 0.6, 0.4)]
    public void CrossLayerCovarianceAgreesWithTheGaussianTheory(string name, double sw, double sb)
    {
        var phi = Phi(name);
        const int width = 250, depth = 12;
        double q0 = MeanField.FixedPoint(phi, sw, sb);
        var sim = Simulate(phi, width, depth, sw, sb, samples: 3000, q0: q0, seed: 3);
        var theory = LatticeGaussianTheory.NormCovariance(phi, sw, sb, q0, depth).Covariance;
        var (cov, err) = sim.NormCovariance();
        double worst = 0;
        for (int l = 0; l <= depth; l++)
        {
            for (int m = l; m <= depth; m++)
            {
                double z = Math.Abs(width * cov[l, m] - theory[l, m]) / (width * err[l, m] + 1e-300);
                worst = Math.Max(worst, z);
            }
        }
        Assert.True(worst < 4.5, $"largest |N·Cov_sim − theory| / N·SE = {worst:F2}");
        // The covariance is not trivial: neighbouring layers are strongly correlated.
        Assert.True(theory[depth - 1, depth] > 0.3 * theory[depth, depth]);
    }

    [Fact]
    public void TheDeviationFromTheGaussianTheoryShrinksWithWidth()
    {
        var phi = NngpNonlinearity.ABRelu(1, 1);
        const double sw = 0.8, sb = 0.2;       // linear network at its fixed point q* = 1, ξ_q = 4.5 layers
        const int depth = 10;
        var theory = LatticeGaussianTheory.NormCovariance(phi, sw, sb, 1.0, depth).Covariance;
        (double Error, double Noise) Deviation(int width, int samples)
        {
            var sim = Simulate(phi, width, depth, sw, sb, samples, q0: 1.0, seed: width);
            var (cov, err) = sim.NormCovariance();
            double dev = 0, noise = 0, norm = 0;
            for (int l = 0; l <= depth; l++)
            {
                for (int m = 0; m <= depth; m++)
                {
                    dev += Math.Pow(width * cov[l, m] - theory[l, m], 2);
                    noise += Math.Pow(width * err[l, m], 2);
                    norm += theory[l, m] * theory[l, m];
                }
            }
            return (Math.Sqrt(dev / norm), Math.Sqrt(noise / norm));
        }
        var narrow = Deviation(6, 20000);
        var wide = Deviation(100, 4000);
        Assert.True(narrow.Error > 5 * narrow.Noise, $"width 6: relative deviation {narrow.Error:F3} vs noise {narrow.Noise:F3}");
        Assert.True(wide.Error < narrow.Error / 5, $"width 100: {wide.Error:F3}, width 6: {narrow.Error:F3}");
        Assert.True(wide.Error < 3 * wide.Noise + 0.05, $"width 100: relative deviation {wide.Error:F3} vs noise {wide.Noise:F3}");
    }

    [Fact]
    public void AFourierTransformOverDepthDiagonalisesTheStationaryCovariance()
    {
        var phi = NngpNonlinearity.Relu;
        const double sw = 1.2, sb = 0.4;            // a = 0.6
        var theory = LatticeGaussianTheory.NormCovariance(phi, sw, sb, MeanField.FixedPoint(phi, sw, sb), 80).Covariance;
        // Deep in the network the covariance is Toeplitz with the stationary C(k).
        for (int k = 0; k < 10; k++)
            Assert.Equal(LatticeGaussianTheory.StationaryCovariance(phi, sw, sb, k), theory[60, 60 + k], 9);
        // Its Fourier series is the predicted spectrum.
        foreach (double omega in new[] { 0.0, 0.7, 2.0, Math.PI })
        {
            double s = LatticeGaussianTheory.StationaryCovariance(phi, sw, sb, 0);
            for (int k = 1; k < 200; k++)
                s += 2 * LatticeGaussianTheory.StationaryCovariance(phi, sw, sb, k) * Math.Cos(omega * k);
            Assert.Equal(s, LatticeGaussianTheory.Spectrum(phi, sw, sb, omega), 9);
        }
        // The DFT over a block of 64 deep layers is nearly diagonal, its diagonal near S(ω_j) (edge effects O(ξ/M)).
        var (re, _, fraction) = LatticeGaussianTheory.DepthFourier(theory, 16, 64);
        Assert.True(fraction > 0.95, $"diagonal fraction {fraction}");
        for (int j = 0; j < 64; j += 8)
        {
            double predicted = LatticeGaussianTheory.Spectrum(phi, sw, sb, 2 * Math.PI * j / 64);
            Assert.True(Math.Abs(re[j, j] - predicted) < 0.1 * predicted, $"ω_{j}: {re[j, j]} vs {predicted}");
        }
    }

    [Fact]
    public void BadOptionsThrowClearExceptions()
    {
        static ArgumentOutOfRangeException Bad(Action<RandomNetworkSimulator.Options> change)
        {
            var o = new RandomNetworkSimulator.Options();
            change(o);
            return Assert.Throws<ArgumentOutOfRangeException>(() => new RandomNetworkSimulator(o));
        }
        Assert.Contains("WeightVariance", Bad(o => o.WeightVariance = -1).Message);
        Assert.Contains("BiasVariance", Bad(o => o.BiasVariance = -0.1).Message);
        Assert.Contains("Depth", Bad(o => o.Depth = 0).Message);
        Assert.Contains("Width", Bad(o => o.Width = 0).Message);
        Assert.Contains("Samples", Bad(o => o.Samples = 1).Message);
        Assert.Contains("InputCorrelation", Bad(o => o.InputCorrelation = 1.5).Message);
        Assert.Contains("InputVariance", Bad(o => o.InputVariance = double.NaN).Message);
        Assert.Contains("Nonlinearity", Bad(o => o.Nonlinearity = null!).Message);
        Assert.Contains("Method", Bad(o => o.Method = (RandomNetworkSimulationMethod)7).Message);
        Assert.Contains("Device", Bad(o => o.Device = "tpu").Message);
    }

    [Fact]
    public void SameSeedSameNumbers()
    {
        var a = Simulate(NngpNonlinearity.Relu, 64, 4, 1.5, 0.1, 50, seed: 9);
        var b = Simulate(NngpNonlinearity.Relu, 64, 4, 1.5, 0.1, 50, seed: 9);
        var c = Simulate(NngpNonlinearity.Relu, 64, 4, 1.5, 0.1, 50, seed: 10);
        Assert.Equal(a.VarianceMean, b.VarianceMean);
        Assert.NotEqual(a.VarianceMean, c.VarianceMean);
    }
}
