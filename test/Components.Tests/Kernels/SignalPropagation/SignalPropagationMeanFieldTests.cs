using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Kernels.SignalPropagation;

public sealed class SignalPropagationMeanFieldTests
{
    [Theory]
    [InlineData(1.9, 0.2)]
    [InlineData(1.0, 0.5)]
    [InlineData(0.3, 1.7)]
    public void ReluFixedPointIsTheClosedFormAndTheLimitOfTheMap(double sw, double sb)
    {
        double expected = sb / (1 - sw / 2);
        Assert.Equal(expected, MeanField.FixedPoint(NngpNonlinearity.Relu, sw, sb), 12);
        // Independent check: iterate the variance map itself (closed form E[relu(z)²] = q/2).
        double q = 1;
        for (int i = 0; i < 2000; i++)
            q = MeanField.VarianceMap(NngpNonlinearity.Relu, sw, sb, q);
        Assert.Equal(expected, q, 8);
        var fp = MeanField.Analyze(NngpNonlinearity.Relu, sw, sb);
        Assert.Equal(sw / 2, fp.Chi1, 12);
        Assert.Equal(sw / 2, fp.VarianceSlope, 12);
        Assert.Equal(1.0, fp.Correlation);
        Assert.Equal(-1 / Math.Log(sw / 2), fp.CorrelationDepthScale, 10);
        Assert.Equal(SignalPropagationPhase.Ordered, fp.Phase);
    }

    [Theory]
    [InlineData("tanh", 1.3, 0.2)]
    [InlineData("erf", 2.5, 0.1)]
    [InlineData("tanh", 3.0, 0.0)]
    public void SmoothFixedPointsAreFixedPointsOfTheMap(string name, double sw, double sb)
    {
        var phi = Phi(name);
        double q = MeanField.FixedPoint(phi, sw, sb);
        Assert.True(q > 0 && double.IsFinite(q));
        Assert.Equal(q, MeanField.VarianceMap(phi, sw, sb, q), 9);
        // The slope of the map at q* by central differences equals χ_q (E[φ′² + φφ″] via E[gφφ′]/√q).
        double h = 1e-5 * q;
        double numeric = (MeanField.VarianceMap(phi, sw, sb, q + h) - MeanField.VarianceMap(phi, sw, sb, q - h)) / (2 * h);
        Assert.Equal(numeric, MeanField.VarianceMapSlope(phi, sw, q), 6);
        // Slope of the correlation map at c = 1 equals χ₁ (one-sided difference).
        double chi1 = MeanField.Chi1(phi, sw, sb);
        double dc = 1e-5;
        double slope = (1 - MeanField.CorrelationMap(phi, sw, sb, q, 1 - dc)) / dc;
        Assert.Equal(chi1, slope, 3);
    }

    [Theory]
    [InlineData("tanh", 0.05)]
    [InlineData("tanh", 0.3)]
    [InlineData("erf", 0.05)]
    [InlineData("erf", 0.3)]
    public void Chi1IsOneOnTheCriticalLineAndThePhasesLieEitherSide(string name, double sb)
    {
        var phi = Phi(name);
        double critical = MeanField.CriticalWeightVariance(phi, sb);
        Assert.Equal(1.0, MeanField.Chi1(phi, critical, sb), 8);
        var at = MeanField.Analyze(phi, critical, sb);
        Assert.True(at.CorrelationDepthScale > 1e4, $"ξ_c = {at.CorrelationDepthScale} on the critical line");

        var ordered = MeanField.Analyze(phi, critical * 0.7, sb);
        Assert.True(ordered.Chi1 < 1);
        Assert.Equal(1.0, ordered.Correlation);
        Assert.Equal(SignalPropagationPhase.Ordered, ordered.Phase);

        var chaotic = MeanField.Analyze(phi, critical * 1.6, sb);
        Assert.True(chaotic.Chi1 > 1);
        Assert.True(chaotic.Correlation < 0.999, $"c* = {chaotic.Correlation}");
        Assert.Equal(chaotic.Correlation, MeanField.CorrelationMap(phi, critical * 1.6, sb, chaotic.Variance, chaotic.Correlation), 7);
        Assert.True(chaotic.CorrelationSlope < 1, "c* is a stable fixed point");
        Assert.Equal(SignalPropagationPhase.Chaotic, chaotic.Phase);
    }

    [Fact]
    public void CriticalLineOfPositivelyHomogeneousAndOddNonlinearitiesIsExact()
    {
        Assert.Equal(2.0, MeanField.CriticalWeightVariance(NngpNonlinearity.Relu, 0.3), 12);
        Assert.Equal(1.0, MeanField.CriticalWeightVariance(NngpNonlinearity.ABRelu(1, 1), 0.3), 12);
        // At σ_b² = 0, q* = 0 and χ₁ = σ_w²φ′(0)²: tanh 1, erf π/4.
        Assert.Equal(1.0, CriticalInitialization.Choose(NngpNonlinearity.Tanh, 10, 0.0).WeightVariance, 12);
        Assert.Equal(Math.PI / 4, CriticalInitialization.Choose(NngpNonlinearity.Erf(), 10, 0.0).WeightVariance, 12);
        // As σ_b² → 0 the bisection approaches the same limit from above (slowly: the line leaves σ_w² = 1 steeply).
        double near = MeanField.CriticalWeightVariance(NngpNonlinearity.Tanh, 1e-3), nearer = MeanField.CriticalWeightVariance(NngpNonlinearity.Tanh, 1e-4);
        Assert.True(1 < nearer && nearer < near && near < 1.2, $"critical σ_w²: {near} at σ_b² = 1e-3, {nearer} at 1e-4");
    }

    [Theory]
    [InlineData("relu")]
    [InlineData("erf")]
    [InlineData("tanh")]
    public void MapsAgreeWithTheNngpKernelLayerByLayer(string name)
    {
        var phi = Phi(name);
        const double sw = 1.6, sb = 0.1;
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(3);
        var x = torch.randn([2, 5], ScalarType.Float64, generator: gen);
        var xs = TensorData.ToDoubleArray(x);
        double d11 = 0, d22 = 0, d12 = 0;
        for (int j = 0; j < 5; j++)
        {
            d11 += xs[j] * xs[j];
            d22 += xs[5 + j] * xs[5 + j];
            d12 += xs[j] * xs[5 + j];
        }
        double q1 = sw * d11 / 5 + sb, q2 = sw * d22 / 5 + sb, k0 = sw * d12 / 5 + sb;
        const int depth = 6;
        var (a, b, c) = MeanField.Trajectory(phi, sw, sb, q1, q2, k0 / Math.Sqrt(q1 * q2), depth);
        for (int l = 1; l <= depth; l++)
        {
            using var kernel = new NngpKernel(new NngpArchitecture(l, phi, sw, sb), new NngpKernelOptions { GaussHermiteDegree = 64 });
            using var k = kernel.Compute(x, null, NngpOutputs.Nngp);
            double k11 = k.Nngp[0, 0].item<double>(), k22 = k.Nngp[1, 1].item<double>(), k12 = k.Nngp[0, 1].item<double>();
            Assert.Equal(k11, a[l], 10);
            Assert.Equal(k22, b[l], 10);
            Assert.Equal(k12 / Math.Sqrt(k11 * k22), c[l], 10);
        }
    }

    [Fact]
    public void CriticalInitializationBandContainsTheCriticalPointAndNarrowsWithDepth()
    {
        var shallow = CriticalInitialization.Choose(NngpNonlinearity.Tanh, 10);
        var deep = CriticalInitialization.Choose(NngpNonlinearity.Tanh, 100);
        Assert.Equal(0.05, deep.BiasVariance);
        Assert.Equal(1.0, MeanField.Chi1(NngpNonlinearity.Tanh, deep.WeightVariance, 0.05), 8);
        Assert.True(deep.MinTrainableWeightVariance < deep.WeightVariance && deep.WeightVariance < deep.MaxTrainableWeightVariance);
        Assert.True(shallow.MinTrainableWeightVariance < deep.MinTrainableWeightVariance);
        Assert.True(shallow.MaxTrainableWeightVariance > deep.MaxTrainableWeightVariance);
        // On the band's edge ξ_c = depth / 6.
        var edge = MeanField.Analyze(NngpNonlinearity.Tanh, deep.MinTrainableWeightVariance, 0.05);
        Assert.Equal(100 / CriticalInitialization.TrainableDepthMultiple, edge.CorrelationDepthScale, 0);
        var relu = CriticalInitialization.Choose(NngpNonlinearity.Relu, 50);
        Assert.Equal((2.0, 0.0), (relu.WeightVariance, relu.BiasVariance));
    }

    [Fact]
    public void BadArgumentsThrowClearExceptions()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MeanField.FixedPoint(NngpNonlinearity.Tanh, -1, 0.1));
        Assert.Contains("σ_w²", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => MeanField.Analyze(NngpNonlinearity.Tanh, 1, -0.1));
        Assert.Contains("σ_b²", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => MeanField.Trajectory(NngpNonlinearity.Tanh, 1, 0.1, 1, 1, 0.5, 0));
        Assert.Contains("depth", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CriticalInitialization.Choose(NngpNonlinearity.Relu, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CriticalInitialization.Choose(NngpNonlinearity.Relu, 10, double.NaN));
        Assert.Throws<ArgumentNullException>(() => CriticalInitialization.Choose(null!, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => MeanField.CorrelationMap(NngpNonlinearity.Tanh, 1, 0.1, 1, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatticeGaussianTheory.Spectrum(NngpNonlinearity.Relu, 2.5, 0.1, 0.3));
        Assert.Throws<ArgumentOutOfRangeException>(() => MeanField.ComputePhaseDiagram(NngpNonlinearity.Tanh, [], [0.1]));
    }

    internal static NngpNonlinearity Phi(string name) => name switch
    {
        "relu" => NngpNonlinearity.Relu,
        "linear" => NngpNonlinearity.ABRelu(1, 1),
        "erf" => NngpNonlinearity.Erf(),
        _ => NngpNonlinearity.Tanh,
    };
}
