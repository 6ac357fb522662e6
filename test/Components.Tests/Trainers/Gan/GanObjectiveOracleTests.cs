using Components.Trainers.Gan;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Gan;

/// <summary>
/// The paper's oracles for the generator objectives (papers-learning.md (e)): exact-ratio gradients, sign conventions,
/// g(1), and the custom-f path against the closed forms. The f of each objective is written here, independently of the
/// library, and the divergences are computed by quadrature.
/// </summary>
public sealed class GanObjectiveOracleTests
{
    /// <summary>f of each objective (test-owned), the divergence generator.</summary>
    private static Func<double, double> F(GanObjective kind, double alpha) => kind switch
    {
        GanObjective.Minimax => u => u * Math.Log(u) - (u + 1) * Math.Log(u + 1),
        GanObjective.NonSaturating => u => (u + 1) * Math.Log(1 + 1 / u) + (1 - 2 * Math.Log(2)) * u - 1,
        GanObjective.ReverseKl => u => -Math.Log(u),
        GanObjective.ForwardKl => u => u * Math.Log(u),
        GanObjective.JensenShannon => u => u * Math.Log(u) - (u + 1) * Math.Log((u + 1) / 2),
        GanObjective.SquaredHellinger => u => Math.Pow(Math.Sqrt(u) - 1, 2),
        GanObjective.PearsonChiSquared => u => (u - 1) * (u - 1),
        GanObjective.Alpha => u => (Math.Pow(u, alpha) - 1 - alpha * (u - 1)) / (alpha * (alpha - 1)),
        _ => u => (u - 1) * (u - 1) / (u + 1), // the custom f of these tests: triangular discrimination
    };

    private static Tensor CustomF(Tensor u) => (u - 1).square() / (u + 1);

    /// <summary>D_f(p‖q_μ) = ∫ q_μ f(p/q_μ), p = N(0,1), q_μ = N(μ,1), by the trapezoid rule on [−14, 14 + μ].</summary>
    private static double Divergence(Func<double, double> f, double mu)
    {
        const int n = 40001;
        double a = -14, b = 14 + mu, h = (b - a) / (n - 1), sum = 0;
        for (int i = 0; i < n; i++)
        {
            double x = a + i * h;
            double logP = -0.5 * x * x, logQ = -0.5 * (x - mu) * (x - mu);
            double q = Math.Exp(logQ) / Math.Sqrt(2 * Math.PI);
            double term = q == 0 ? 0 : q * f(Math.Exp(logP - logQ));
            if (!double.IsFinite(term))
                term = 0; // far tails, where q underflows
            sum += (i == 0 || i == n - 1 ? 0.5 : 1) * term;
        }
        return sum * h;
    }

    public static TheoryData<GanObjective, double, double> Cases()
    {
        var data = new TheoryData<GanObjective, double, double>();
        foreach (var kind in Enum.GetValues<GanObjective>().Where(k => k != GanObjective.Alpha))
        {
            data.Add(kind, 0.5, 0.5);
            data.Add(kind, 0.5, -0.3);
        }
        foreach (double alpha in new[] { -0.5, 0.5, 2.0 })
            data.Add(GanObjective.Alpha, alpha, 0.5);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExactRatioGradientEqualsDivergenceDerivative(GanObjective kind, double alpha, double mu)
    {
        using var scope = NewDisposeScope();
        var objective = GeneratorObjective.Create(kind, alpha, kind == GanObjective.Custom ? CustomF : null);
        using var generator = new Generator(17, CPU);
        const int n = 100_000;
        // x = μ + ε with the exact log ratio r*(x) = log p/q_μ = −μx + μ²/2 frozen (μ a constant inside r*).
        var x = (mu + randn([n], ScalarType.Float64, generator: generator)).requires_grad_(true);
        var r = -mu * x + mu * mu / 2;
        var perSample = torch.autograd.grad([objective.Loss(r).sum()], [x])[0]; // d loss_i / dx_i = d loss_i / dμ
        double gradient = perSample.mean().item<double>();
        double se = perSample.std().item<double>() / Math.Sqrt(n);

        var f = F(kind, alpha);
        const double h = 1e-3;
        double derivative = (Divergence(f, mu + h) - Divergence(f, mu - h)) / (2 * h);
        Assert.True(Math.Abs(gradient - derivative) <= 5 * se + 1e-3 * Math.Abs(derivative),
            $"{objective.Name}, μ = {mu}: MC gradient {gradient:G6} ± {se:G3}, dD_f/dμ {derivative:G6}");
        if (kind is GanObjective.ReverseKl or GanObjective.ForwardKl)
            Assert.Equal(mu, derivative, 4); // d/dμ of μ²/2, both KLs
    }

    [Theory]
    [InlineData(GanObjective.Minimax)]
    [InlineData(GanObjective.NonSaturating)]
    [InlineData(GanObjective.ReverseKl)]
    [InlineData(GanObjective.ForwardKl)]
    [InlineData(GanObjective.JensenShannon)]
    [InlineData(GanObjective.SquaredHellinger)]
    [InlineData(GanObjective.PearsonChiSquared)]
    [InlineData(GanObjective.Alpha)]
    [InlineData(GanObjective.Custom)]
    public void LossesFallAsRatioRisesAndMatchTheirF(GanObjective kind)
    {
        using var scope = NewDisposeScope();
        const double alpha = -0.7;
        var objective = GeneratorObjective.Create(kind, alpha, CustomF);
        var r = linspace(-6, 6, 121, ScalarType.Float64).requires_grad_(true);
        var loss = objective.Loss(r);
        var slope = torch.autograd.grad([loss.sum()], [r])[0];
        Assert.True(slope.lt(0).all().item<bool>(), $"{objective.Name}: d loss/dr must be negative, max {slope.max().item<double>()}");

        // g(e^r) = f(u) − u f′(u) at every u, with f′ by central differences of the test's f.
        var f = F(kind, alpha);
        var values = loss.detach().data<double>().ToArray();
        var rs = r.detach().data<double>().ToArray();
        for (int i = 0; i < rs.Length; i++)
        {
            double u = Math.Exp(rs[i]), hu = 1e-5 * u;
            double expected = f(u) - u * (f(u + hu) - f(u - hu)) / (2 * hu);
            Assert.True(Math.Abs(values[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"{objective.Name}: g(e^{rs[i]:F2}) = {values[i]}, f − u f′ = {expected}");
        }
    }

    [Theory]
    [InlineData(GanObjective.NonSaturating)]
    [InlineData(GanObjective.ReverseKl)]
    [InlineData(GanObjective.ForwardKl)]
    [InlineData(GanObjective.PearsonChiSquared)]
    [InlineData(GanObjective.Custom)]
    public void LossAtEqualDistributionsHasZeroGradient(GanObjective kind)
    {
        // p = q: r* ≡ 0, the loss is the constant g(1) = −f′(1), and its reparameterised gradient vanishes.
        using var scope = NewDisposeScope();
        var objective = GeneratorObjective.Create(kind, 0.5, CustomF);
        using var generator = new Generator(3, CPU);
        var mu = zeros(1, ScalarType.Float64).requires_grad_(true);
        var x = mu + randn([1000], ScalarType.Float64, generator: generator);
        var r = 0.0 * x; // r*(x) = −μ₀x + μ₀²/2 with μ₀ = 0
        var loss = objective.Loss(r).mean();
        loss.backward();
        Assert.Equal(0, mu.grad!.item<double>());
        var f = F(kind, 0.5);
        Assert.Equal(-(f(1 + 1e-6) - f(1 - 1e-6)) / 2e-6, loss.item<double>(), 5);
    }

    [Fact]
    public void CustomFMatchesClosedFormLossesAndGradients()
    {
        using var scope = NewDisposeScope();
        var pairs = new (GanObjective Kind, Func<Tensor, Tensor> F)[]
        {
            (GanObjective.ForwardKl, u => u * u.log()),
            (GanObjective.ReverseKl, u => -u.log()),
            (GanObjective.SquaredHellinger, u => (u.sqrt() - 1).square()),
            (GanObjective.PearsonChiSquared, u => (u - 1).square()),
        };
        foreach (var (kind, f) in pairs)
        {
            var custom = GeneratorObjective.Create(GanObjective.Custom, f: f);
            var builtIn = GeneratorObjective.Create(kind);
            var r1 = linspace(-4, 4, 33, ScalarType.Float32).requires_grad_(true);
            var r2 = linspace(-4, 4, 33, ScalarType.Float32).requires_grad_(true);
            var l1 = custom.Loss(r1);
            var l2 = builtIn.Loss(r2);
            Assert.True(l1.allclose(l2, 1e-4, 1e-4), $"{kind}: custom g differs from the closed form");
            l1.sum().backward();
            l2.sum().backward();
            Assert.True(r1.grad!.allclose(r2.grad!, 1e-3, 1e-3), $"{kind}: custom gradient differs from the closed form");
            // Without gradients (evaluation), the custom path returns a plain tensor.
            using var noGrad = no_grad();
            var l3 = custom.Loss(linspace(-4, 4, 33, ScalarType.Float32));
            Assert.False(l3.requires_grad);
            Assert.True(l3.allclose(l2.detach(), 1e-4, 1e-4));
        }
    }

    [Fact]
    public void LogisticDiscriminatorRecoversTheLogRatio()
    {
        // p = N(0, 1), q = N(0.5, 1.5²): r*(x) = −x²/2 + (x − 0.5)²/4.5 + log 1.5, quadratic in x. A quadratic
        // discriminator trained with the library's logistic loss recovers its coefficients.
        using var scope = NewDisposeScope();
        using var generator = new Generator(5, CPU);
        const int n = 20_000;
        var real = randn([n], ScalarType.Float64, generator: generator);
        var fake = 0.5 + 1.5 * randn([n], ScalarType.Float64, generator: generator);
        var w = new TorchSharp.Modules.Parameter(zeros(3, ScalarType.Float64));
        Tensor R(Tensor x) => w[0] * x.square() + w[1] * x + w[2];
        var optimizer = torch.optim.LBFGS(new[] { w }, lr: 0.5, max_iter: 300);
        optimizer.step(() =>
        {
            optimizer.zero_grad();
            var loss = GeneratorObjective.DiscriminatorLoss(R(real), R(fake));
            loss.backward();
            return loss;
        });
        double a = -0.5 + 1 / 4.5, b = -1 / 4.5, c = 0.25 / 4.5 + Math.Log(1.5);
        var got = w.detach().data<double>().ToArray();
        Assert.True(Math.Abs(got[0] - a) < 0.03 && Math.Abs(got[1] - b) < 0.04 && Math.Abs(got[2] - c) < 0.04,
            $"r(x) = {got[0]:F4} x² + {got[1]:F4} x + {got[2]:F4}; r* = {a:F4} x² + {b:F4} x + {c:F4}");
    }

    [Fact]
    public void MixingMovesLinearlyFromFirstToFinalObjective()
    {
        using var scope = NewDisposeScope();
        var first = GeneratorObjective.Create(GanObjective.NonSaturating);
        var final = GeneratorObjective.Create(GanObjective.ReverseKl);
        var s = new GanTrainingSettings(first, final, 11, 1, 8, 1e-3, 1e-3, 0.5, 1);
        var r = tensor(new float[] { -1, 0.5f, 2 });
        double a = first.Loss(r).mean().item<float>(), b = final.Loss(r).mean().item<float>();
        Assert.Equal(a, GanTraining.MixedLoss(s, r, 0).item<float>(), 5);
        Assert.Equal(0.7 * a + 0.3 * b, GanTraining.MixedLoss(s, r, 3).item<float>(), 5);
        Assert.Equal(b, GanTraining.MixedLoss(s, r, 10).item<float>(), 5);
    }

    [Fact]
    public void BadCustomFAndAlphaAreRejected()
    {
        var notConvex = Assert.Throws<ArgumentException>(() => GeneratorObjective.Create(GanObjective.Custom, f: u => -(u - 1).square()));
        Assert.Contains("convex", notConvex.Message);
        var notZero = Assert.Throws<ArgumentException>(() => GeneratorObjective.Create(GanObjective.Custom, f: u => u * u.log() + 0.1));
        Assert.Contains("f(1) = 0", notZero.Message);
        var nan = Assert.Throws<ArgumentException>(() => GeneratorObjective.Create(GanObjective.Custom, f: u => (u - 2).log()));
        Assert.Contains("not finite", nan.Message);
        var shape = Assert.Throws<ArgumentException>(() => GeneratorObjective.Create(GanObjective.Custom, f: u => (u - 1).square().sum()));
        Assert.Contains("shape", shape.Message);
        var constant = Assert.Throws<ArgumentException>(() => GeneratorObjective.Create(GanObjective.Custom, f: u => torch.zeros_like(u).detach()));
        Assert.Contains("differentiable", constant.Message);
        Assert.Throws<ArgumentException>(() => GeneratorObjective.Create(GanObjective.Custom));
        Assert.Throws<ArgumentOutOfRangeException>(() => GeneratorObjective.Create(GanObjective.Alpha, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => GeneratorObjective.Create((GanObjective)99));
    }
}
