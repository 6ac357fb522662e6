using Components.Transforms.MetaLearnedFeaturizer;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.MetaLearnedFeaturizer;

/// <summary>The few-shot ridge meta-objective: the closed form against an independent (centred) solution, the unpenalised
/// bias, and the gradient with respect to the features against central finite differences in float64.</summary>
public sealed class RidgeMetaObjectiveTests
{
    private static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).contiguous().data<double>().ToArray();

    [Fact]
    public void TheRidgeSolutionSatisfiesTheNormalEquationsWithTheBiasUnpenalised()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(11);
        const double lambda = 0.7;
        var f = randn([20, 5], dtype: ScalarType.Float64, generator: gen) + 3.0; // far from centred, so a penalised bias would show
        var y = randn([20, 3], dtype: ScalarType.Float64, generator: gen) + 2.0;
        var beta = RidgeMetaObjective.Solve(f, y, lambda);
        Assert.Equal(new long[] { 6, 3 }, beta.shape);

        // Independent solution: with an unpenalised bias, ridge on centred data, bias = ȳ − x̄ᵀw.
        var fm = f.mean([0], keepdim: true); var ym = y.mean([0], keepdim: true);
        var fc = f - fm; var yc = y - ym;
        var w = linalg.inv(fc.t().matmul(fc) + lambda * eye(5, dtype: ScalarType.Float64)).matmul(fc.t().matmul(yc));
        var bias = ym - fm.matmul(w);
        var expected = Values(cat([w, bias], 0));
        var actual = Values(beta);
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], actual[i], 1e-9);

        // Normal equations with D = diag(1, …, 1, 0): AᵀAβ + λDβ = AᵀY.
        var a = cat([f, ones(20, 1, dtype: ScalarType.Float64)], 1);
        var d = eye(6, dtype: ScalarType.Float64); d[5, 5] = 0;
        foreach (var r in Values(a.t().matmul(a).matmul(beta) + lambda * d.matmul(beta) - a.t().matmul(y)))
            Assert.Equal(0, r, 1e-8);

        // Shifting every target by c moves only the bias, by exactly c.
        var shifted = Values(RidgeMetaObjective.Solve(f, y + 5.0, lambda) - beta);
        for (int i = 0; i < shifted.Length; i++)
            Assert.Equal(i >= 15 ? 5.0 : 0.0, shifted[i], 1e-8);
    }

    [Fact]
    public void CentredOneHotTargetsHaveZeroRowMeanAndUnitNorm()
    {
        using var scope = NewDisposeScope();
        var y = RidgeMetaObjective.Targets(tensor(new long[] { 0, 2, 1, 2 }), 3);
        Assert.Equal(new long[] { 4, 3 }, y.shape);
        foreach (var m in Values(y.sum(1))) Assert.Equal(0, m, 1e-12);
        foreach (var n in Values(y.pow(2).sum(1))) Assert.Equal(1, n, 1e-12);
        Assert.True(y[1, 2].item<double>() > 0 && y[1, 0].item<double>() < 0);
    }

    [Fact]
    public void TheMetaLossGradientWithRespectToFeaturesMatchesFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(5);
        var trainLabels = tensor(new long[] { 0, 0, 1, 1, 2, 2, 0, 1, 2 });
        var testLabels = tensor(new long[] { 2, 1, 0, 0, 1, 2, 2 });
        var train = randn([9, 4], dtype: ScalarType.Float64, generator: gen).requires_grad_(true);
        var test = randn([7, 4], dtype: ScalarType.Float64, generator: gen).requires_grad_(true);
        var loss = RidgeMetaObjective.Loss(train, trainLabels, test, testLabels, 3);
        var grads = autograd.grad([loss], [train, test]);

        double Eval(Tensor tr, Tensor te) { using var _ = no_grad(); return RidgeMetaObjective.Loss(tr, trainLabels, te, testLabels, 3).item<double>(); }
        const double h = 1e-6;
        foreach (var (which, index) in new[] { (0, 0L), (0, 13L), (0, 35L), (1, 2L), (1, 17L), (1, 27L) })
        {
            var plusTr = train.detach().clone(); var minusTr = train.detach().clone();
            var plusTe = test.detach().clone(); var minusTe = test.detach().clone();
            var (p, m) = which == 0 ? (plusTr, minusTr) : (plusTe, minusTe);
            p.view(-1)[index] += h; m.view(-1)[index] -= h;
            double numeric = (Eval(plusTr, plusTe) - Eval(minusTr, minusTe)) / (2 * h);
            double analytic = grads[which].reshape(-1)[index].item<double>();
            Assert.True(Math.Abs(analytic) > 1e-6, $"gradient entry ({which}, {index}) is zero; the check would be vacuous");
            Assert.Equal(numeric, analytic, 1e-6);
        }
    }
}
