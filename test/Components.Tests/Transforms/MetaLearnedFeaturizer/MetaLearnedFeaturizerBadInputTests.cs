using Components.Transforms.MetaLearnedFeaturizer;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.MetaLearnedFeaturizer;

/// <summary>Bad inputs to the rule, the inner loop and the meta-objective fail with exceptions that say what is wrong.</summary>
public sealed class MetaLearnedFeaturizerBadInputTests
{
    [Fact]
    public void BadBatchesAreRejectedByName()
    {
        using var scope = NewDisposeScope();
        using var rule = new LocalUpdateRule();
        using var net = BaseNetworkState.Create([4, 3], seed: 0);
        var nan = randn(5, 4); nan[2, 1] = tensor(double.NaN);
        var inf = randn(5, 4); inf[0, 0] = tensor(double.PositiveInfinity);
        Assert.Contains("NaN or infinite", Assert.Throws<ArgumentException>(() => rule.ComputeUpdate(net, nan)).Message);
        Assert.Contains("NaN or infinite", Assert.Throws<ArgumentException>(() => InnerLoop.Step(rule, net, inf)).Message);
        Assert.Contains("empty batch", Assert.Throws<ArgumentException>(() => rule.ComputeUpdate(net, zeros(0, 4))).Message);
        Assert.Contains("expected 4", Assert.Throws<ArgumentException>(() => rule.ComputeUpdate(net, zeros(5, 7))).Message);
        Assert.Contains("batch × features", Assert.Throws<ArgumentException>(() => rule.ComputeUpdate(net, zeros(4))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => InnerLoop.Step(rule, net, randn(5, 4), learningRate: double.NaN));
    }

    [Fact]
    public void BadShapesAndOptionsAreRejected()
    {
        using var scope = NewDisposeScope();
        Assert.Contains("at least two widths", Assert.Throws<ArgumentException>(() => BaseNetworkState.Create([4], 0)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => BaseNetworkState.Create([4, 0, 2], 0));
        Assert.Throws<ArgumentException>(() => BaseNetworkState.FromTensors([zeros(3, 2)], [zeros(3)], [zeros(3, 2)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalUpdateRule(new LocalUpdateRuleOptions { DeltaDim = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalUpdateRule(new LocalUpdateRuleOptions { DecayDivisor = 0 }));
    }

    [Fact]
    public void BadMetaObjectiveInputsAreRejected()
    {
        using var scope = NewDisposeScope();
        var f = randn(6, 3);
        var labels = tensor(new long[] { 0, 1, 2, 0, 1, 2 });
        Assert.Contains("[0, 2]", Assert.Throws<ArgumentException>(() => RidgeMetaObjective.Loss(f, tensor(new long[] { 0, 1, 3, 0, 1, 2 }), f, labels, 3)).Message);
        Assert.Contains("trainLabels", Assert.Throws<ArgumentException>(() => RidgeMetaObjective.Loss(f, labels[..4], f, labels, 3)).Message);
        Assert.Contains("expected 3", Assert.Throws<ArgumentException>(() => RidgeMetaObjective.Loss(f, labels, randn(6, 2), labels, 3)).Message);
        var nan = f.clone(); nan[1, 1] = tensor(float.NaN);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => RidgeMetaObjective.Loss(nan, labels, f, labels, 3)).Message);
        Assert.Contains("empty batch", Assert.Throws<ArgumentException>(() => RidgeMetaObjective.Solve(zeros(0, 3), zeros(0, 2))).Message);
        Assert.Contains("targets", Assert.Throws<ArgumentException>(() => RidgeMetaObjective.Solve(f, zeros(5, 2))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => RidgeMetaObjective.Solve(f, zeros(6, 2), ridge: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => RidgeMetaObjective.Targets(labels, 1));
    }
}
