using Components.Samplers.Energies;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Samplers.Hmc;

/// <summary>Built-in energies: closed-form gradients vs autograd, double backward, exact samplers.</summary>
public sealed class HmcEnergyTests
{
    public static TheoryData<string> Targets => new() { "scg", "icg", "mog", "roughwell", "roughwellhard", "funnel", "gaussian", "ring" };

    private static EnergyFunction Make(string name) => name switch
    {
        "scg" => EnergyFunction.StronglyCorrelatedGaussian(),
        "icg" => EnergyFunction.IllConditionedGaussian(6),
        "mog" => EnergyFunction.MixtureOfGaussians(),
        "roughwell" => EnergyFunction.RoughWell(3, 0.05),
        "roughwellhard" => EnergyFunction.RoughWell(2, 0.3, hard: true),
        "funnel" => EnergyFunction.Funnel(3),
        "ring" => EnergyFunction.GaussianRing(3, 1.5, 0.2),
        _ => HmcTestUtil.CorrelatedGaussian(3),
    };

    [Theory]
    [MemberData(nameof(Targets))]
    public void HmcEnergyGradientMatchesAutograd(string name)
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(4, torch.CPU);
        var e = Make(name);
        var x = (torch.randn([16, e.Dimension], generator: gen) * 1.5f).requires_grad_(true);
        var u = e.Energy(x);
        Assert.Equal([16L], u.shape);
        var auto = torch.autograd.grad([u.sum()], [x])[0];
        var (u2, g) = e.EnergyAndGradient(x.detach());
        Assert.True((u2 - u.detach()).abs().max().item<float>() <= 1e-4f * (1 + u.abs().max().item<float>()));
        Assert.True((g - auto).abs().max().item<float>() <= 1e-3f * (1 + auto.abs().max().item<float>()), $"{name}: gradient differs from autograd.");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void HmcEnergyGradientSupportsDoubleBackward(string name)
    {
        // L2HMC's loss differentiates through ∂U: d/dx Σ (∂U · w) must equal the Hessian-vector product H w.
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(8, torch.CPU);
        var e = Make(name);
        var x = torch.randn([8, e.Dimension], generator: gen).requires_grad_(true);
        var w = torch.randn([8, e.Dimension], generator: gen);
        var (_, g) = e.EnergyAndGradient(x, createGraph: true);
        var hv = torch.autograd.grad([(g * w).sum()], [x])[0];
        // Finite differences of the gradient along w.
        const float h = 1e-2f;
        var (_, gp) = e.EnergyAndGradient((x.detach() + h * w).to_type(ScalarType.Float32));
        var (_, gm) = e.EnergyAndGradient((x.detach() - h * w).to_type(ScalarType.Float32));
        var fd = (gp - gm) / (2 * h);
        if (name.StartsWith("roughwell", StringComparison.Ordinal))
            return;   // η = 0.05 ripples make finite differences meaningless at this h; autograd path checked above
        Assert.True((hv - fd).abs().max().item<float>() <= 2e-2f * (1 + fd.abs().max().item<float>()), $"{name}: Hessian-vector product differs.");
    }

    [Fact]
    public void HmcEnergyExactSamplersMatchTargetMoments()
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(12, torch.CPU);
        var scg = EnergyFunction.StronglyCorrelatedGaussian();
        HmcTestUtil.AssertMoments(scg.SampleExact(20000, gen), [0, 0], new double[,] { { 50.05, -49.95 }, { -49.95, 50.05 } }, 4.5, "SCG");
        Assert.Equal(100.1, scg.CovarianceTrace!.Value, 9);

        var icg = EnergyFunction.IllConditionedGaussian();
        Assert.Equal(50, icg.Dimension);
        var x = icg.SampleExact(20000, gen);
        var variances = x.var(0).data<float>().ToArray();
        Assert.InRange(variances[0], 0.0096, 0.0104);
        Assert.InRange(variances[49], 96, 104);
        Assert.Equal(1.0, variances[24] * variances[25], 0.1);   // log-linear spacing is symmetric around 1

        var mog = EnergyFunction.MixtureOfGaussians();
        var m = mog.SampleExact(20000, gen);
        var left = m[.., 0].lt(0).to_type(ScalarType.Float32).mean().item<float>();
        Assert.InRange(left, 0.48, 0.52);
        Assert.Equal(4.0 + 0.2, mog.CovarianceTrace!.Value, 9);

        var funnel = EnergyFunction.Funnel(2);
        var f = funnel.SampleExact(20000, gen);
        Assert.Equal(4.0, f[.., 0].var().item<float>(), 0.25);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void HmcEnergyDescriptionRoundTrips(string name)
    {
        // What a saved model stores rebuilds the same energy.
        using var scope = torch.NewDisposeScope();
        using var gen = new torch.Generator(21, torch.CPU);
        var e = Make(name);
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            e.Write(w);
        stream.Position = 0;
        using var r = new BinaryReader(stream);
        var back = EnergyFunction.Read(r);
        Assert.Equal(e.Name, back.Name);
        Assert.Equal(e.Dimension, back.Dimension);
        var x = torch.randn([10, e.Dimension], generator: gen);
        var (u1, g1) = e.EnergyAndGradient(x);
        var (u2, g2) = back.EnergyAndGradient(x);
        Assert.True((u1 - u2).abs().max().item<float>() <= 1e-5f * (1 + u1.abs().max().item<float>()));
        Assert.True((g1 - g2).abs().max().item<float>() <= 1e-5f * (1 + g1.abs().max().item<float>()));
        Assert.Equal(e.CovarianceTrace, back.CovarianceTrace);
    }

    [Fact]
    public void HmcEnergyRoughWellHardRipplesAtScaleEtaSquared()
    {
        using var scope = torch.NewDisposeScope();
        var easy = EnergyFunction.RoughWell(1, 0.1);
        var hard = EnergyFunction.RoughWell(1, 0.1, hard: true);
        var x = torch.tensor(new float[] { 0.3f }, [1, 1]);
        Assert.Equal(0.5 * 0.09 + 0.1 * Math.Cos(3.0), easy.Energy(x).item<float>(), 5);
        Assert.Equal(0.5 * 0.09 + 0.1 * Math.Cos(30.0), hard.Energy(x).item<float>(), 5);
        Assert.Equal(0.3 - Math.Sin(30.0) / 0.1, hard.EnergyAndGradient(x).Gradient.item<float>(), 4);
    }

    [Fact]
    public void HmcEnergyFactoriesValidateArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.Gaussian([0, 0], new double[,] { { 1, 2 }, { 2, 1 } }));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.Gaussian([0, 0], new double[,] { { 1, 0.5 }, { 0.4, 1 } }));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.Gaussian([0], new double[,] { { 1, 0 }, { 0, 1 } }));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.IllConditionedGaussian(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.RoughWell(2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.Funnel(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.Mixture([[0, 0], [1]], [1, 1], [1, 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.Mixture([[0, 0]], [-1], [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnergyFunction.FromFunction("HmcEnergyTests.Zero", 0, x => x.sum(1)));
    }
}
