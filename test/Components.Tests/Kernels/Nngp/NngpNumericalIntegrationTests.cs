using Components.Core.Tensors;
using Components.Kernels.Nngp;
using TorchSharp;
using static Components.Tests.Kernels.Nngp.NngpTestData;
using static TorchSharp.torch;

namespace Components.Tests.Kernels.Nngp;

/// <summary>The paper's lookup grid, Gauss–Hermite quadrature and the Monte-Carlo estimator against the closed forms.</summary>
public class NngpNumericalIntegrationTests
{
    [Fact]
    public void ReluGridMatchesArcCosineKernel()
    {
        // brain-research/nngp testComputeQmapGridRelu: n_gauss 301, n_var 33, n_corr 31 (class defaults max_var = max_gauss = 100).
        using var grid = new NngpLookupGrid(NngpNonlinearity.Relu, 301, 33, 31, 100, 100, torch.CPU);
        var v = grid.VarianceGrid;
        var c = grid.CorrelationGrid;
        Assert.Equal(33, v.Length);
        Assert.Equal(31, c.Length);
        var qaa = TensorData.ToDoubleArray(grid.Qaa);
        var qab = TensorData.ToDoubleArray(grid.Qab);
        for (int i = 0; i < v.Length; i++)
        {
            Assert.True(Math.Abs(qaa[i] - 0.5 * v[i]) <= 1e-6 + 1e-6 * 0.5 * v[i], $"q_aa at var {v[i]}: {qaa[i]}");
            for (int j = 0; j < c.Length; j++)
            {
                double theta = Math.Acos(c[j]);
                double exact = v[i] / (2 * Math.PI) * (Math.Sin(theta) + (Math.PI - theta) * Math.Cos(theta));
                Assert.True(Math.Abs(qab[i * c.Length + j] - exact) <= 2e-2 + 1e-6 * Math.Abs(exact), $"q_ab at var {v[i]}, corr {c[j]}: {qab[i * c.Length + j]} vs {exact}");
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpLookupGrid(NngpNonlinearity.Relu, 102, 33, 31, 100, 100, torch.CPU));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GridKernelApproachesClosedForm(bool erf)
    {
        // Layer-normalised inputs share one variance per layer, the setting the paper's grid is built for.
        var phi = erf ? NngpNonlinearity.Erf() : NngpNonlinearity.Relu;
        var arch = new NngpArchitecture(3, phi, 1.6, 0.2, inputLayerNorm: true);
        using var x = Gaussian(12, 8, 91);
        using var exact = new NngpKernel(arch);
        using var grid = new NngpKernel(arch, new NngpKernelOptions
        {
            Integration = NngpIntegration.LookupGrid, GridGaussPoints = 201, GridVariancePoints = 41, GridCorrelationPoints = 201, GridMaxVariance = 10, TileSize = 5,
        });
        using var a = exact.Compute(x);
        using var b = grid.Compute(x);
        double scale = a.Nngp.abs().max().item<double>();
        Assert.True(MaxAbsDiff(a.Nngp, b.Nngp) < 5e-3 * scale, $"NNGP grid error {MaxAbsDiff(a.Nngp, b.Nngp)}");
        // E[φ′φ′] of ReLU is a step in z, so its reweighted sums and the interpolation in c are coarser than for φφ.
        Assert.True(MaxAbsDiff(a.Ntk!, b.Ntk!) < (erf ? 5e-3 : 5e-2) * a.Ntk!.abs().max().item<double>(), $"NTK grid error {MaxAbsDiff(a.Ntk!, b.Ntk!)}");
    }

    [Fact]
    public void GridRejectsVariancesBeyondItsRange()
    {
        var arch = new NngpArchitecture(2, NngpNonlinearity.Relu, 2.0, 0.1);
        using var grid = new NngpKernel(arch, new NngpKernelOptions { Integration = NngpIntegration.LookupGrid, GridGaussPoints = 21, GridVariancePoints = 5, GridCorrelationPoints = 5, GridMaxVariance = 1.0 });
        using var x = Gaussian(3, 4, 92, scale: 10);
        var ex = Assert.Throws<InvalidOperationException>(() => grid.Compute(x));
        Assert.Contains("GridMaxVariance", ex.Message);
    }

    [Fact]
    public void GaussHermiteRuleIntegratesPolynomialsExactly()
    {
        var (nodes, weights) = NngpGaussHermite.Rule(10);
        Assert.Equal(Math.Sqrt(Math.PI), weights.Sum(), 1e-13);
        Assert.Equal(Math.Sqrt(Math.PI) / 2, nodes.Zip(weights, (x, w) => w * x * x).Sum(), 1e-13);
        Assert.Equal(3 * Math.Sqrt(Math.PI) / 4, nodes.Zip(weights, (x, w) => w * Math.Pow(x, 4)).Sum(), 1e-12);
    }

    [Fact]
    public void GaussHermiteConvergesToErfClosedForm()
    {
        // erf(b·x) is smooth but its continuation grows like exp(b²|x|²), so the rule converges geometrically, not instantly.
        using var x = Gaussian(10, 5, 93);
        using var y = Gaussian(7, 5, 94);
        var arch = new NngpArchitecture(3, NngpNonlinearity.Erf(1.1, 0.9, 0.1), 1.7, 0.1);
        using var exact = new NngpKernel(arch);
        using var a = exact.Compute(x, y);
        (double K, double T) Error(int degree)
        {
            using var gh = new NngpKernel(arch, new NngpKernelOptions { Integration = NngpIntegration.GaussHermite, GaussHermiteDegree = degree });
            using var b = gh.Compute(x, y);
            return (MaxAbsDiff(a.Nngp, b.Nngp), MaxAbsDiff(a.Ntk!, b.Ntk!));
        }
        var e10 = Error(10);
        var e25 = Error(25);
        var e80 = Error(80);
        Assert.True(e25.K < e10.K && e80.K < e25.K && e25.T < e10.T && e80.T < e25.T, $"errors {e10}, {e25}, {e80}");
        Assert.True(e25.K < 2e-3 && e80.K < 1e-5 && e80.T < 1e-4, $"errors {e25}, {e80}");
    }

    [Fact]
    public void GaussHermiteConvergesToReluClosedForm()
    {
        // Non-smooth φ: quadrature converges, slowly (neural-tangents warns about ReLU/Abs).
        using var x = Gaussian(8, 4, 95);
        var arch = new NngpArchitecture(2, NngpNonlinearity.Relu, 2.0, 0.1);
        using var exact = new NngpKernel(arch);
        using var a = exact.Compute(x);
        double Error(int degree)
        {
            using var gh = new NngpKernel(arch, new NngpKernelOptions { Integration = NngpIntegration.GaussHermite, GaussHermiteDegree = degree });
            using var b = gh.Compute(x);
            return MaxAbsDiff(a.Nngp, b.Nngp) / a.Nngp.abs().max().item<double>();
        }
        double e5 = Error(5), e15 = Error(15), e45 = Error(45);
        Assert.True(e15 < e5 && e45 < e15, $"errors {e5}, {e15}, {e45}");
        Assert.True(e45 < 2e-2, $"relative error at degree 45: {e45}");
    }

    [Fact]
    public void CustomNonlinearityWithAutogradDerivativeMatchesBuiltIn()
    {
        // Erf as a user function (derivative by autograd) against the built-in Erf through the same quadrature.
        var custom = NngpNonlinearity.Custom("my-erf", t => torch.erf(t));
        using var x = Gaussian(6, 3, 96);
        using var gh = new NngpKernel(new NngpArchitecture(2, custom, 1.5, 0.1), new NngpKernelOptions { GaussHermiteDegree = 20 });
        Assert.Equal(NngpIntegration.GaussHermite, gh.Integration);
        using var builtIn = new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.Erf(), 1.5, 0.1),
            new NngpKernelOptions { Integration = NngpIntegration.GaussHermite, GaussHermiteDegree = 20 });
        using var a = builtIn.Compute(x);
        using var b = gh.Compute(x);
        Assert.True(MaxAbsDiff(a.Nngp, b.Nngp) < 1e-12);
        Assert.True(MaxAbsDiff(a.Ntk!, b.Ntk!) < 1e-12);
        Assert.False(custom.CanSave);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void MonteCarloAgreesWithAnalyticKernels(int which)
    {
        // neural-tangents _test_activation_fc: Dense(1024)–φ–Dense, x = cos(N(0, 1)), atol 0.01, rtol 0.05.
        var phi = which switch { 0 => NngpNonlinearity.Relu, 1 => NngpNonlinearity.Erf(), _ => NngpNonlinearity.Tanh };
        var arch = new NngpArchitecture(1, phi, 2.0, 0.05);
        using var x1 = Gaussian(3, 2, 100 + (ulong)which).cos();
        using var x2 = Gaussian(2, 2, 110 + (ulong)which).cos();
        using var kernel = new NngpKernel(arch);
        using var exact = kernel.Compute(x1, x2);
        using var g = new torch.Generator(7);
        using var mc = NngpMonteCarlo.Estimate(arch, x1, x2, 1024, 400, g);
        AssertAllClose(exact.Nngp, mc.Nngp, 0.01, 0.05);
        AssertAllClose(exact.Ntk!, mc.Ntk!, 0.01, 0.05);
        AssertAllClose(exact.Cov1, mc.Cov1, 0.01, 0.05);
    }

    [Fact]
    public void MonteCarloAgreesForDeeperNetworks()
    {
        var arch = new NngpArchitecture(2, NngpNonlinearity.Relu, 1.8, 0.1);
        using var x = Gaussian(4, 3, 120).cos();
        using var kernel = new NngpKernel(arch);
        using var exact = kernel.Compute(x);
        using var g = new torch.Generator(8);
        using var mc = NngpMonteCarlo.Estimate(arch, x, null, 256, 150, g);
        AssertAllClose(exact.Nngp, mc.Nngp, 0.01, 0.05);
        AssertAllClose(exact.Ntk!, mc.Ntk!, 0.02, 0.05);
        Assert.Throws<ArgumentOutOfRangeException>(() => NngpMonteCarlo.Estimate(arch, x, null, 0, 10, g));
    }

    private static void AssertAllClose(Tensor expected, Tensor actual, double atol, double rtol)
    {
        var e = TensorData.ToDoubleArray(expected);
        var a = TensorData.ToDoubleArray(actual);
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= atol + rtol * Math.Abs(e[i]), $"entry {i}: analytic {e[i]}, Monte Carlo {a[i]}");
    }
}
