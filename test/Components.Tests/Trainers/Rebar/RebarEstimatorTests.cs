using Components.Trainers.Rebar;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Rebar;

/// <summary>
/// The gradient estimators on K ≤ 10 Bernoullis, against the exact gradient by enumeration of all 2^K outcomes: the
/// unbiased ones agree within their Monte Carlo confidence interval for several f, η and λ (Concrete does not); the
/// conditional sample; η = 0 reduces REBAR to REINFORCE with its baseline; the variance objective's gradient in η and
/// in the temperature equals finite differences; bad inputs.
/// </summary>
public sealed class RebarEstimatorTests
{
    private const int Rows = 10_000;
    private static readonly double[] s_theta = [-1.2, 0.3, 0.9, -0.2, 2.0];
    private static readonly double[] s_psi = [1.0, -0.7, 0.5, 1.5, 0.8];
    private static readonly double[] s_target = [0.45, 0.2, 0.7, 0.5, 0.1];

    /// <summary>Per-row f(b; ψ): a quadratic and a nonlinear function (both defined off the binary points for the relaxations).</summary>
    private static Tensor F(int which, Tensor b, Tensor psi, Tensor target) => which == 0
        ? (psi * (b - target).pow(2)).sum(-1)
        : (psi * b).sum(-1).sin() + 0.5 * (b.narrow(-1, 0, 2).prod(-1) + b.narrow(-1, 2, 3).sum(-1).pow(2));

    /// <summary>Exact ∂E[f]/∂θ and ∂E[f]/∂ψ by enumerating every b.</summary>
    private static (double[] Theta, double[] Psi) Exact(int which)
    {
        using var scope = NewDisposeScope();
        int k = s_theta.Length;
        var theta = tensor(s_theta, ScalarType.Float64).requires_grad_();
        var psi = tensor(s_psi, ScalarType.Float64).requires_grad_();
        var target = tensor(s_target, ScalarType.Float64);
        var all = zeros([1 << k, k], ScalarType.Float64);
        for (int m = 0; m < 1 << k; m++)
            for (int j = 0; j < k; j++)
                all[m, j] = ((m >> j) & 1);
        var p = theta.sigmoid();
        var weight = (all * p.log() + (1 - all) * (1 - p).log()).sum(1).exp();
        var expectation = (weight * F(which, all, psi.expand(1 << k, k), target)).sum();
        var grads = torch.autograd.grad([expectation], [theta, psi]);
        return (grads[0].data<double>().ToArray(), grads[1].data<double>().ToArray());
    }

    private sealed class Problem(int rows = Rows) : IDisposable
    {
        public Parameter Theta { get; } = new(tensor(s_theta, ScalarType.Float64).expand(rows, s_theta.Length).contiguous());
        public Parameter Psi { get; } = new(tensor(s_psi, ScalarType.Float64).expand(rows, s_psi.Length).contiguous());
        public Tensor Target { get; } = tensor(s_target, ScalarType.Float64);

        public StochasticObjective Objective(int which) => layers => F(which, layers.Sample(Theta), Psi, Target);

        public void Dispose()
        {
            Theta.Dispose();
            Psi.Dispose();
            Target.Dispose();
        }
    }

    /// <summary>Largest |mean − exact| / standard error over the coordinates of θ and ψ, from per-row estimates.</summary>
    private static double WorstZScore(GradientEstimate estimate, (double[] Theta, double[] Psi) exact)
    {
        double worst = 0;
        for (int i = 0; i < 2; i++)
        {
            long rows = estimate.ModelGradients[i].shape[0];
            var perRow = estimate.ModelGradients[i] * rows; // the estimate is of the mean over rows; each row is one draw
            var mean = perRow.mean([0]).data<double>().ToArray();
            var se = (perRow.std([0]) / Math.Sqrt(rows)).data<double>().ToArray();
            var target = i == 0 ? exact.Theta : exact.Psi;
            for (int j = 0; j < mean.Length; j++)
                worst = Math.Max(worst, Math.Abs(mean[j] - target[j]) / Math.Max(se[j], 1e-12));
        }
        return worst;
    }

    private static GradientEstimate Run(GradientEstimatorKind kind, Problem problem, int which, GradientEstimatorOptions? options, int seed,
        Action<BernoulliGradientEstimator>? setup = null)
    {
        if (options is not null)
            options.BaselineHidden = 8;
        using var estimator = new BernoulliGradientEstimator(kind, [problem.Theta, problem.Psi], options,
            latentWidth: kind == GradientEstimatorKind.Relax ? s_theta.Length : 0, initialization: new Generator(7), dtype: ScalarType.Float64);
        setup?.Invoke(estimator);
        return estimator.Estimate(problem.Objective(which), new Generator((ulong)seed), controlVariateGradients: false);
    }

    public static TheoryData<GradientEstimatorKind, int, double, double?> UnbiasedCases() => new()
    {
        { GradientEstimatorKind.Reinforce, 1, 0.5, null },
        { GradientEstimatorKind.Nvil, 1, 0.5, null },
        { GradientEstimatorKind.MuProp, 1, 0.5, null },
        { GradientEstimatorKind.Rebar, 0, 0.5, null },
        { GradientEstimatorKind.Rebar, 1, 2.0, 0.3 },
        { GradientEstimatorKind.DynamicRebar, 1, 0.1, 1.7 },
        { GradientEstimatorKind.Relax, 0, 0.5, null },
        { GradientEstimatorKind.Relax, 1, 1.0, 1.3 },
    };

    [Theory]
    [MemberData(nameof(UnbiasedCases))]
    public void RebarFamilyAndScoreFunctionEstimatorsAreUnbiasedAgainstExactEnumeration(GradientEstimatorKind kind, int which, double temperature, double? eta)
    {
        using var scope = NewDisposeScope();
        using var problem = new Problem();
        var exact = Exact(which);
        var estimate = Run(kind, problem, which, new GradientEstimatorOptions { Temperature = temperature, FixedEta = eta }, seed: 11 + which, setup: e =>
        {
            // Give RELAX's network (zero output at initialisation) a non-trivial function of z, so its terms are exercised.
            if (kind == GradientEstimatorKind.Relax)
            {
                using var _ = no_grad();
                var last = e.ControlVariateParameters[^2];
                last.copy_(torch.linspace(-2, 2, last.numel(), ScalarType.Float64).reshape(last.shape));
            }
        });
        Assert.Equal(2, estimate.ModelGradients.Count);
        double z = WorstZScore(estimate, exact);
        Assert.True(z < 4.5, $"{kind} (f{which}, λ {temperature}, η {eta}): worst |mean − exact| is {z:F2} standard errors over 10 coordinates.");
    }

    /// <summary>Two stochastic layers: the second layer's logits W·(2b₁ − 1) depend on the first layer's sample.</summary>
    [Theory]
    [InlineData(GradientEstimatorKind.Rebar)]
    [InlineData(GradientEstimatorKind.MuProp)]
    [InlineData(GradientEstimatorKind.Relax)]
    public void RebarEstimatorsAreUnbiasedForTwoStochasticLayers(GradientEstimatorKind kind)
    {
        using var scope = NewDisposeScope();
        const int rows = 10_000;
        double[] theta1 = [0.4, -0.9], w = [1.1, -0.6, 0.3, 0.8];
        var target = tensor(new[] { 0.45, 0.2, 0.7, 0.1 }, ScalarType.Float64);
        static Tensor Second(Tensor weights, Tensor b1) => (weights * (2 * b1 - 1).unsqueeze(-2)).sum(-1); // [.., 2, 2] · [.., 2]
        Tensor F(Tensor b1, Tensor b2) => (cat([b1, b2], -1) - target).pow(2).sum(-1) + (b1.narrow(-1, 0, 1) * b2.narrow(-1, 1, 1)).squeeze(-1);
        // Exact gradient by enumerating the 16 outcomes.
        var t1 = tensor(theta1, ScalarType.Float64).requires_grad_();
        var wt = tensor(w, ScalarType.Float64).reshape(2, 2).requires_grad_();
        var expectation = zeros([], ScalarType.Float64);
        for (int m = 0; m < 16; m++)
        {
            var b1 = tensor(new double[] { m & 1, (m >> 1) & 1 });
            var b2 = tensor(new double[] { (m >> 2) & 1, (m >> 3) & 1 });
            var logp = BernoulliRelaxation.LogLikelihood(b1, t1) + BernoulliRelaxation.LogLikelihood(b2, Second(wt, b1));
            expectation = expectation + logp.exp() * F(b1, b2);
        }
        var exact = torch.autograd.grad([expectation], [t1, wt]);
        var theta = new Parameter(tensor(theta1, ScalarType.Float64).expand(rows, 2).contiguous());
        var weights = new Parameter(tensor(w, ScalarType.Float64).reshape(2, 2).expand(rows, 2, 2).contiguous());
        using var estimator = new BernoulliGradientEstimator(kind, [theta, weights], new GradientEstimatorOptions { BaselineHidden = 8 },
            latentWidth: 4, initialization: new Generator(3), dtype: ScalarType.Float64);
        if (kind == GradientEstimatorKind.Relax)
        {
            using var _ = no_grad();
            var last = estimator.ControlVariateParameters[^2];
            last.copy_(torch.linspace(-1, 1, last.numel(), ScalarType.Float64).reshape(last.shape));
        }
        var estimate = estimator.Estimate(layers =>
        {
            var b1 = layers.Sample(theta);
            var b2 = layers.Sample(Second(weights, b1));
            return F(b1, b2);
        }, new Generator(21), controlVariateGradients: false);
        for (int i = 0; i < 2; i++)
        {
            var perRow = (estimate.ModelGradients[i] * rows).reshape(rows, -1);
            var mean = perRow.mean([0]).data<double>().ToArray();
            var se = (perRow.std([0]) / Math.Sqrt(rows)).data<double>().ToArray();
            var target2 = exact[i].reshape(-1).data<double>().ToArray();
            for (int j = 0; j < mean.Length; j++)
                Assert.True(Math.Abs(mean[j] - target2[j]) < 4.5 * se[j], $"{kind}, parameter {i}[{j}]: {mean[j]:F4} vs exact {target2[j]:F4} (se {se[j]:F4})");
        }
    }

    [Fact]
    public void RebarConcreteRelaxationIsBiased()
    {
        using var scope = NewDisposeScope();
        using var problem = new Problem(rows: 20_000);
        var exact = Exact(0);
        var estimate = Run(GradientEstimatorKind.Concrete, problem, 0, new GradientEstimatorOptions { Temperature = 0.5 }, seed: 3);
        double z = WorstZScore(estimate, exact);
        Assert.True(z > 10, $"Concrete at λ 0.5 should be visibly biased; worst deviation only {z:F2} standard errors.");
    }

    [Fact]
    public void RebarConditionalSampleHasTheHardSampleAndTheMarginalOfZ()
    {
        using var scope = NewDisposeScope();
        const int n = 20_000;
        var g = new Generator(5);
        var logits = full(n, 0.7, ScalarType.Float64);
        var z = BernoulliRelaxation.Logistic(logits, rand(n, ScalarType.Float64, generator: g));
        var b = BernoulliRelaxation.Hard(z);
        var zt = BernoulliRelaxation.Conditional(logits, b, rand(n, ScalarType.Float64, generator: g));
        Assert.True(BernoulliRelaxation.Hard(zt).eq(b).all().item<bool>(), "H(z̃) must equal b for every draw.");
        // KS test of z̃ against the logistic CDF σ(x − θ) (z's marginal): D < 1.63/√n at α = 0.01.
        var sorted = zt.sort().Values;
        var cdf = (sorted - 0.7).sigmoid();
        var i = arange(1, n + 1, ScalarType.Float64) / n;
        double d = Math.Max((i - cdf).max().ToDouble(), (cdf - (i - 1.0 / n)).max().ToDouble());
        Assert.True(d < 1.63 / Math.Sqrt(n), $"KS statistic {d:F4} exceeds {1.63 / Math.Sqrt(n):F4}.");
        // The tied conditional sample (the reference's) equals z in value, and H of it is b.
        var u = rand(n, ScalarType.Float64, generator: g);
        var z2 = BernoulliRelaxation.Logistic(logits, u);
        var tied = BernoulliRelaxation.ConditionalTied(logits, u);
        Assert.True((tied - z2).abs().max().ToDouble() < 1e-6);
        Assert.True(BernoulliRelaxation.Hard(tied).eq(BernoulliRelaxation.Hard(z2)).all().item<bool>());
        // λ → 0: σ_λ(z) → H(z) away from the threshold.
        var relaxed = BernoulliRelaxation.Relax(z2, logits, tensor(1e-3, ScalarType.Float64), true);
        var far = z2.abs().gt(0.05);
        Assert.True((relaxed - BernoulliRelaxation.Hard(z2)).abs().masked_select(far).max().ToDouble() < 1e-6);
    }

    [Fact]
    public void RebarWithEtaZeroIsReinforceWithTheSameBaseline()
    {
        using var scope = NewDisposeScope();
        using var problem = new Problem(rows: 64);
        using var rebar = new BernoulliGradientEstimator(GradientEstimatorKind.Rebar, [problem.Theta, problem.Psi],
            new GradientEstimatorOptions { FixedEta = 0 }, dtype: ScalarType.Float64);
        using var reinforce = new BernoulliGradientEstimator(GradientEstimatorKind.Reinforce, [problem.Theta, problem.Psi], dtype: ScalarType.Float64);
        for (int step = 0; step < 3; step++) // the second and third steps use the moving-average baseline of the earlier ones
        {
            var a = rebar.Estimate(problem.Objective(1), new Generator((ulong)(100 + step)), controlVariateGradients: false);
            var b = reinforce.Estimate(problem.Objective(1), new Generator((ulong)(100 + step)), controlVariateGradients: false);
            Assert.Equal(3, a.ObjectiveEvaluations);
            Assert.Equal(1, b.ObjectiveEvaluations);
            for (int i = 0; i < 2; i++)
                Assert.True(a.ModelGradients[i].allclose(b.ModelGradients[i], rtol: 1e-10, atol: 1e-14), $"step {step}, parameter {i}");
        }
    }

    /// <summary>A small problem for the variance objective, rebuilt with given control-variate values and the same noise.</summary>
    private static (double Value, double[] Gradient) VarianceObjective(GradientEstimatorKind kind, double[] cvValues)
    {
        using var scope = NewDisposeScope();
        var theta = new Parameter(tensor(new[] { -0.4, 0.6, 1.1 }, ScalarType.Float64).expand(6, 3).contiguous());
        var psi = new Parameter(tensor(new[] { 0.9, -0.5, 1.3 }, ScalarType.Float64).expand(6, 3).contiguous());
        var target = tensor(new[] { 0.45, 0.3, 0.8 }, ScalarType.Float64);
        using var e = new BernoulliGradientEstimator(kind, [theta, psi], new GradientEstimatorOptions { Temperature = 0.7 }, dtype: ScalarType.Float64);
        using (no_grad())
        {
            int j = 0;
            foreach (var p in e.ControlVariateParameters)
                p.copy_(tensor(cvValues[j++], ScalarType.Float64));
        }
        var est = e.Estimate(layers => { var b = layers.Sample(theta); return (psi * (b - target).pow(2)).sum(-1) + (b * psi).sum(-1).sin(); }, new Generator(9));
        return (est.VarianceObjective, [.. est.ControlVariateGradients.Select(t => t.ToDouble())]);
    }

    [Theory]
    [InlineData(GradientEstimatorKind.Rebar)]
    [InlineData(GradientEstimatorKind.DynamicRebar)]
    public void RebarVarianceObjectiveGradientInEtaAndTemperatureMatchesFiniteDifferences(GradientEstimatorKind kind)
    {
        // Control variates: η logits of θ and ψ, (dynamic) log-temperature, the scalar baseline.
        double[] at = kind == GradientEstimatorKind.Rebar ? [0.3, -0.2, 0.4] : [0.3, -0.2, Math.Log(0.7), 0.4];
        var (_, gradient) = VarianceObjective(kind, at);
        Assert.Equal(at.Length, gradient.Length);
        const double h = 1e-5;
        for (int i = 0; i < at.Length; i++)
        {
            var plus = (double[])at.Clone(); plus[i] += h;
            var minus = (double[])at.Clone(); minus[i] -= h;
            double fd = (VarianceObjective(kind, plus).Value - VarianceObjective(kind, minus).Value) / (2 * h);
            Assert.True(Math.Abs(fd - gradient[i]) <= 1e-6 + 1e-5 * Math.Abs(fd), $"{kind}: control variate {i}: autograd {gradient[i]:G8}, finite difference {fd:G8}.");
            // η of ψ (index 1) multiplies ∇ψ[f(σ_λ(z)) − f(σ_λ(z̃))], which is 0 with the tied z̃ (= z in value); the others must act.
            if (i != 1)
                Assert.True(Math.Abs(fd) > 1e-6, $"control variate {i} has no effect on the variance objective");
        }
    }

    [Fact]
    public void RebarEstimatorRejectsBadInputs()
    {
        using var scope = NewDisposeScope();
        var theta = new Parameter(zeros(4, 3));
        using var e = new BernoulliGradientEstimator(GradientEstimatorKind.Rebar, [theta]);
        var nan = Assert.Throws<ArgumentException>(() => e.Estimate(l => l.Sample(theta * float.NaN).sum(1), new Generator(1)));
        Assert.Contains("NaN", nan.Message);
        Assert.Contains("one loss per row", Assert.Throws<ArgumentException>(() => e.Estimate(l => l.Sample(theta).sum(), new Generator(1))).Message);
        Assert.Contains("NaN or infinite", Assert.Throws<ArgumentException>(() => e.Estimate(l => l.Sample(theta).sum(1) / 0, new Generator(1))).Message);
        Assert.Contains("no Bernoulli layer", Assert.Throws<ArgumentException>(() => e.Estimate(_ => theta.sum(1), new Generator(1))).Message);
        int calls = 0;
        Assert.Contains("same layers", Assert.Throws<InvalidOperationException>(() => e.Estimate(l =>
        {
            var b = l.Sample(theta);
            if (calls++ > 0)
                b = b + l.Sample(theta);
            return b.sum(1);
        }, new Generator(1))).Message);
        Assert.Throws<ArgumentException>(() => e.Estimate(l => l.Sample(theta).sum(1), new Generator(1), context: ones(4, 2)));
        using var nvil = new BernoulliGradientEstimator(GradientEstimatorKind.Nvil, [theta], contextWidth: 2);
        Assert.Contains("[4, 2]", Assert.Throws<ArgumentException>(() => nvil.Estimate(l => l.Sample(theta).sum(1), null, ones(4, 3))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BernoulliGradientEstimator(GradientEstimatorKind.Rebar, [theta], new GradientEstimatorOptions { Temperature = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BernoulliGradientEstimator(GradientEstimatorKind.Relax, [theta]));
        Assert.Throws<ArgumentException>(() => new BernoulliGradientEstimator(GradientEstimatorKind.Rebar, []));
    }
}
