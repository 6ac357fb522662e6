using Components.Transforms.MetaLearnedFeaturizer;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.MetaLearnedFeaturizer;

/// <summary>The neuron-local update rule and the inner loop: permutation equivariance (unit IDs off), one rule for every
/// width, depth and nonlinearity with the per-receptive-field normalisation, seed determinism, and the meta-gradient
/// through the unroll against finite differences.</summary>
public sealed class LocalUpdateRuleTests
{
    private static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static void AssertClose(Tensor expected, Tensor actual, double tol)
    {
        Assert.Equal(expected.shape, actual.shape);
        var e = Values(expected); var a = Values(actual);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol, $"entry {i}: expected {e[i]}, got {a[i]}");
    }

    private static double MaxAbsDiff(Tensor a, Tensor b) => (a - b).abs().max().to(ScalarType.Float64).item<double>();

    private static LocalUpdateRule Rule64(bool unitIds, int seed = 1)
    {
        var rule = new LocalUpdateRule(new LocalUpdateRuleOptions { UseUnitIds = unitIds, Seed = seed });
        rule.to(ScalarType.Float64);
        return rule;
    }

    [Fact]
    public void PermutingHiddenUnitsAndInputsPermutesTheUpdate()
    {
        using var scope = NewDisposeScope();
        using var net = BaseNetworkState.Create([6, 5, 4], seed: 2, dtype: ScalarType.Float64);
        var x = randn([16, 6], dtype: ScalarType.Float64, generator: new Generator(3));
        var hidden = tensor(new long[] { 3, 0, 4, 1, 2 });
        var inputs = tensor(new long[] { 5, 2, 0, 1, 4, 3 });
        using var permuted = BaseNetworkState.FromTensors(
            [net.W[0].index_select(1, hidden).index_select(0, inputs), net.W[1].index_select(0, hidden)],
            [net.Bias[0].index_select(0, hidden), net.Bias[1].clone()],
            [net.Backward[0].index_select(1, hidden).index_select(0, inputs), net.Backward[1].index_select(0, hidden)]);
        var xp = x.index_select(1, inputs);

        using var rule = Rule64(unitIds: false);
        var u = rule.ComputeUpdate(net, x);
        var up = rule.ComputeUpdate(permuted, xp);
        AssertClose(u.DeltaW[0].index_select(1, hidden).index_select(0, inputs), up.DeltaW[0], 1e-10);
        AssertClose(u.DeltaW[1].index_select(0, hidden), up.DeltaW[1], 1e-10);
        AssertClose(u.DeltaBias[0].index_select(0, hidden), up.DeltaBias[0], 1e-10);
        AssertClose(u.DeltaBias[1], up.DeltaBias[1], 1e-10);

        // The unit-ID inputs break this on purpose (and show that the comparison can fail).
        using var withIds = Rule64(unitIds: true);
        var v = withIds.ComputeUpdate(net, x);
        var vp = withIds.ComputeUpdate(permuted, xp);
        Assert.True(MaxAbsDiff(v.DeltaW[1].index_select(0, hidden), vp.DeltaW[1]) > 1e-6);
    }

    [Theory]
    [InlineData(new[] { 6, 5, 4 }, BaseActivation.Relu)]
    [InlineData(new[] { 9, 3 }, BaseActivation.Relu)]
    [InlineData(new[] { 4, 7, 7, 6, 2 }, BaseActivation.Tanh)]
    [InlineData(new[] { 12, 1, 8 }, BaseActivation.Tanh)]
    public void OneRuleAppliesToAnyWidthDepthAndNonlinearityWithNormalisedNonShrinkingColumns(int[] widths, BaseActivation activation)
    {
        using var scope = NewDisposeScope();
        using var rule = Rule64(unitIds: true);
        long parameterCount = rule.parameters().Sum(p => p.numel());
        using var net = BaseNetworkState.Create(widths, seed: 4, activation, ScalarType.Float64);
        var x = randn([10, widths[0]], dtype: ScalarType.Float64, generator: new Generator(8));
        var u = rule.ComputeUpdate(net, x);
        int unitColumns = 0;
        Assert.Equal(widths.Length - 1, u.DeltaW.Length);
        Assert.Equal(parameterCount, rule.parameters().Sum(p => p.numel()));
        for (int l = 0; l < net.Depth; l++)
        {
            Assert.Equal(net.W[l].shape, u.DeltaW[l].shape);
            Assert.Equal(net.Bias[l].shape, u.DeltaBias[l].shape);
            Assert.True(u.DeltaW[l].isfinite().all().item<bool>() && u.DeltaBias[l].isfinite().all().item<bool>());
            // Before the w/7 decay every receptive field has RMS 1 and does not shrink w along w.
            var beforeDecay = u.DeltaW[l] + net.W[l] / LocalUpdateRuleOptions.Defaults.DecayDivisor;
            // (A column that pointed entirely against w, possible with one input, has nothing left and is zero.)
            foreach (var rms in Values(beforeDecay.pow(2).mean([0]).sqrt()))
            {
                Assert.True(Math.Abs(rms - 1) < 1e-6 || rms < 1e-6, $"layer {l}: column RMS {rms}");
                unitColumns += rms > 0.5 ? 1 : 0;
            }
            foreach (var ip in Values((beforeDecay * net.W[l]).sum([0])))
                Assert.True(ip >= -1e-12, $"layer {l}: a column shrinks w along w ({ip})");
        }
        Assert.True(unitColumns >= widths.Skip(1).Sum() / 2, $"only {unitColumns} columns have RMS 1");
    }

    private static List<Tensor> Batches(int seed, int count, int width)
    {
        var gen = new Generator((ulong)seed);
        return [.. Enumerable.Range(0, count).Select(_ => randn([12, width], generator: gen))];
    }

    [Fact]
    public void TheInnerLoopIsDeterministicForASeed()
    {
        using var scope = NewDisposeScope();
        BaseNetworkState Run(int netSeed)
        {
            using var rule = new LocalUpdateRule(new LocalUpdateRuleOptions { Seed = 7 });
            using var net = BaseNetworkState.Create([8, 6, 3], netSeed);
            using var result = InnerLoop.Unroll(rule, net, Batches(9, 4, 8));
            return result.Detach();
        }
        using var a = Run(1);
        using var b = Run(1);
        using var c = Run(2);
        for (int l = 0; l < a.Depth; l++)
        {
            Assert.Equal(Values(a.W[l]), Values(b.W[l]));
            Assert.Equal(Values(a.Bias[l]), Values(b.Bias[l]));
            Assert.Equal(Values(a.Backward[l]), Values(b.Backward[l]));
        }
        Assert.True(MaxAbsDiff(a.W[0], c.W[0]) > 1e-3);
    }

    [Fact]
    public void TheMetaGradientThroughTheUnrollMatchesFiniteDifferencesAndTruncationCutsIt()
    {
        using var scope = NewDisposeScope();
        using var rule = Rule64(unitIds: true, seed: 3);
        var merge = rule.named_parameters().Single(p => p.name == "merge").parameter;
        var batches = Batches(4, 3, 6).Select(t => t.to(ScalarType.Float64)).ToList();
        var gen = new Generator(6);
        var trainX = randn([9, 6], dtype: ScalarType.Float64, generator: gen);
        var testX = randn([6, 6], dtype: ScalarType.Float64, generator: gen);
        var trainY = tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1, 2 });
        var testY = tensor(new long[] { 2, 1, 0, 0, 1, 2 });
        using var init = BaseNetworkState.Create([6, 5, 4], seed: 5, BaseActivation.Tanh, ScalarType.Float64);

        Tensor MetaLoss()
        {
            var net = InnerLoop.Unroll(rule, init, batches, learningRate: 0.1);
            return RidgeMetaObjective.Loss(net.Embed(trainX), trainY, net.Embed(testX), testY, 3);
        }

        var grad = autograd.grad([MetaLoss()], [merge])[0];
        const double h = 1e-6;
        foreach (long k in new long[] { 0, 3, 5 })
        {
            double Shifted(double delta) { using var _ = no_grad(); merge[k] += delta; double v = MetaLoss().item<double>(); merge[k] -= delta; return v; }
            double numeric = (Shifted(h) - Shifted(-h)) / (2 * h);
            Assert.True(Math.Abs(grad[k].item<double>()) > 1e-8, $"meta-gradient of merge[{k}] is zero");
            Assert.Equal(numeric, grad[k].item<double>(), 1e-5);
        }

        // Truncation: after Detach the embedding no longer depends on the rule.
        var truncated = InnerLoop.Unroll(rule, init, batches, learningRate: 0.1).Detach();
        Assert.All(truncated.W, w => Assert.False(w.requires_grad));
        truncated.Dispose();
    }
}
