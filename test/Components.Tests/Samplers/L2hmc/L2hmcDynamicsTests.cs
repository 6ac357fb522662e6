using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Components.Samplers.L2hmc;
using Components.Samplers.Sampling;
using Components.Tests.Samplers.Hmc;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Samplers.L2hmc;

/// <summary>Oracles of the augmented leapfrog: invertibility, log-determinant, reduction to HMC, invariance.</summary>
public sealed class L2hmcDynamicsTests
{
    /// <summary>Dynamics with random networks whose outputs are O(1) (the paper's init gives near-zero heads).</summary>
    /// <remarks>Three layers: the reference eval_toy.py shape (50-100-50) scaled down to 8-12-6.</remarks>
    private static L2hmcDynamics RandomDynamics(int d, int steps, double eps, int seed, double perturbation = 0.3, int layers = 2)
    {
        using var gen = new torch.Generator((ulong)seed, torch.CPU);
        var dyn = new L2hmcDynamics(d, steps, layers == 3 ? [8, 12, 6] : [8, 8], eps, true, gen);
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in dyn.named_parameters())
        {
            if (name != "alpha")
                p.add_(torch.randn(p.shape, generator: gen) * perturbation);
        }
        return dyn;
    }

    private static Tensor Directions(int n, bool? all, Generator gen)
        => all is bool a ? torch.full([n], a, ScalarType.Bool) : torch.rand([n], generator: gen).lt(0.5);

    [Theory]
    [InlineData(2, true, 2)]
    [InlineData(3, false, 2)]
    [InlineData(5, null, 2)]
    [InlineData(5, null, 3)]
    public void L2hmcForwardThenInverseReturnsToStart(int d, bool? forward, int layers)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var gen = new torch.Generator(7, torch.CPU);
        var energy = HmcTestUtil.CorrelatedGaussian(d);
        using var dyn = RandomDynamics(d, 6, 0.2, seed: d, layers: layers);
        var x = torch.randn([64, d], generator: gen);
        var v = torch.randn([64, d], generator: gen);
        var dir = Directions(64, forward, gen);
        var (_, g) = energy.EnergyAndGradient(x);
        var (x1, v1, ld1, _, g1) = dyn.Propose(energy, x, v, dir, g, false);
        var (x2, v2, ld2, _, _) = dyn.Propose(energy, x1, v1, dir.logical_not(), g1, false);

        Assert.True(ld1.abs().mean().item<float>() > 0.05, "The random networks should change volume (test would be vacuous).");
        Assert.True((x1 - x).abs().max().item<float>() > 0.1, "The proposal should move.");
        double ex = (x2 - x).abs().max().item<float>(), ev = (v2 - v).abs().max().item<float>(), el = (ld1 + ld2).abs().max().item<float>();
        Assert.True(ex < 1e-5 && ev < 1e-5, $"Round trip error: x {ex:G3}, v {ev:G3}.");
        Assert.True(el < 1e-5, $"Log-determinants do not cancel: {el:G3}.");
    }

    [Theory]
    [InlineData(2, true, 2)]
    [InlineData(2, false, 2)]
    [InlineData(3, true, 2)]
    [InlineData(3, false, 2)]
    [InlineData(3, true, 3)]
    [InlineData(3, false, 3)]
    public void L2hmcLogDetEqualsAutogradJacobian(int d, bool forward, int layers)
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(11, torch.CPU);
        var energy = HmcTestUtil.CorrelatedGaussian(d);
        using var dyn = RandomDynamics(d, 4, 0.25, seed: 100 + d, layers: layers);
        var x = torch.randn([1, d], generator: gen).requires_grad_(true);
        var v = torch.randn([1, d], generator: gen).requires_grad_(true);
        var (_, g) = energy.EnergyAndGradient(x, createGraph: true);
        var (x1, v1, ld, _, _) = dyn.Propose(energy, x, v, torch.full([1], forward, ScalarType.Bool), g, createGraph: true);
        var output = torch.cat([x1, v1], 1);
        var jac = new double[2 * d, 2 * d];
        for (int i = 0; i < 2 * d; i++)
        {
            var grads = torch.autograd.grad([output[0, i]], [x, v], retain_graph: true);
            for (int j = 0; j < d; j++)
            {
                jac[i, j] = grads[0][0, j].item<float>();
                jac[i, d + j] = grads[1][0, j].item<float>();
            }
        }
        double expected = HmcTestUtil.LogAbsDet(jac);
        double actual = ld[0].item<float>();
        Assert.True(Math.Abs(expected) > 0.05, $"Vacuous test: log|det J| = {expected}.");
        Assert.True(Math.Abs(actual - expected) < 1e-3, $"Tracked log-det {actual:G6}, autograd Jacobian {expected:G6}.");
    }

    [Fact]
    public void L2hmcZeroNetworksReduceToLeapfrog()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var gen = new torch.Generator(3, torch.CPU);
        var energy = EnergyFunction.StronglyCorrelatedGaussian();
        using var dyn = RandomDynamics(2, 10, 0.1, seed: 5);
        dyn.ZeroNetworks();
        var x = energy.SampleExact(128, gen);
        var v = torch.randn([128, 2], generator: gen);
        var (_, g) = energy.EnergyAndGradient(x);

        var (xf, vf, ldf, _, _) = dyn.Propose(energy, x, v, torch.ones([128], ScalarType.Bool), g, false);
        var leapfrog = new LeapfrogKernel(energy, dyn.StepSize, 10);
        var (xh, vh, _, _) = leapfrog.Integrate(x, v, g);
        Assert.Equal(0f, ldf.abs().max().item<float>());
        Assert.True((xf - xh).abs().max().item<float>() <= 1e-5 * (1 + xh.abs().max().item<float>()), "Forward zero-network dynamics differ from leapfrog.");
        Assert.True((vf - vh).abs().max().item<float>() <= 1e-5 * (1 + vh.abs().max().item<float>()), "Forward zero-network momenta differ from leapfrog.");

        // Backward direction with zero networks is leapfrog run backwards in time (step −ε).
        var (xb, vb, ldb, _, _) = dyn.Propose(energy, x, v, torch.zeros([128], ScalarType.Bool), g, false);
        var (xr, vr, _, _) = new LeapfrogKernel(energy, -dyn.StepSize, 10).Integrate(x, v, g);
        Assert.Equal(0f, ldb.abs().max().item<float>());
        Assert.True((xb - xr).abs().max().item<float>() <= 1e-5 * (1 + xr.abs().max().item<float>()), "Backward zero-network dynamics differ from reversed leapfrog.");
        Assert.True((vb - vr).abs().max().item<float>() <= 1e-5 * (1 + vr.abs().max().item<float>()));
    }

    [Fact]
    public void L2hmcUntrainedSamplerKeepsGaussianInvariant()
    {
        // Detailed balance: from exact samples, K transitions with random networks leave the distribution unchanged.
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(2024, torch.CPU);
        const int n = 4000, d = 3;
        var cov = new double[d, d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
                cov[i, j] = i == j ? 1 + i : 0.6;
        }
        var energy = EnergyFunction.Gaussian(new double[d], cov);
        using var sampler = new L2hmcSampler(energy, gen, leapfrogSteps: 4, hiddenUnits: 8, stepSize: 0.3);
        using (torch.no_grad())
        {
            foreach (var (name, p) in sampler.Dynamics.named_parameters())
            {
                if (name != "alpha")
                    p.add_(torch.randn(p.shape, generator: gen) * 0.3);
            }
        }
        var x0 = energy.SampleExact(n, gen);
        var trace = sampler.Sample(x0, 2, gen, burnIn: 5);
        Assert.InRange(trace.MeanAcceptanceProbability, 0.2, 0.999);
        var last = torch.tensor(trace.Samples[(n * d)..].ToArray(), [n, d]);
        HmcTestUtil.AssertMoments(last, new double[d], cov, 4.5, "after 6 L2HMC transitions");
        // The chains really moved (otherwise invariance would be trivial).
        var moved = (last - x0).abs().sum(1).gt(1e-6).to_type(ScalarType.Float32).mean().item<float>();
        Assert.True(moved > 0.5, $"Only {moved:P0} of the chains moved.");
    }

    [Fact]
    public void L2hmcLossDecreasesWithJumpDistanceAndDivergesAtZero()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.zeros([4, 2]);
        var a = torch.ones([4]);
        double Loss(float jump) => L2hmcTrainer.Loss(x, torch.full([4, 2], jump), a, 2, 0.1f, 1f).item<float>();
        Assert.True(Loss(1f) < Loss(0.5f));
        Assert.True(Loss(0.5f) < Loss(0.1f));
        Assert.True(Loss(0f) > 1000, "The loss must blow up as the jump distance goes to 0 (λ/δ with δ = 1e-4).");
        // Rejected proposals (A = 0) count as no jump.
        Assert.Equal(Loss(0f), L2hmcTrainer.Loss(x, torch.full([4, 2], 3f), torch.zeros([4]), 2, 0.1f, 1f).item<float>(), 3);
    }
}
