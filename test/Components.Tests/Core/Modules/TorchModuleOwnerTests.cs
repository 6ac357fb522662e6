using Components.Core.Modules;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Components.Tests.Core.Modules;

public sealed class TorchModuleOwnerTests
{
    private static nn.Module<Tensor, Tensor> Linear(int seed)
    {
        using var scope = NewDisposeScope();
        var m = nn.Linear(5, 3);
        using var g = new Generator((ulong)seed, CPU);
        using (no_grad())
        {
            foreach (var p in m.parameters())
                p.copy_(randn(p.shape, generator: g));
        }
        foreach (var p in m.parameters())
            p.DetachFromDisposeScope();
        return m;
    }

    private static TorchModuleOwner<nn.Module<Tensor, Tensor>> Owner(ModuleSharing sharing)
        => new(Linear(3), CPU, () => nn.Linear(5, 3), sharing, maxCopies: 4); // explicit: the nested-Run tests need two slots on any machine

    private static float[] Forward(TorchModuleOwner<nn.Module<Tensor, Tensor>> owner, int row)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = arange(5, ScalarType.Float32).add(row).unsqueeze(0);
        return owner.Run(m => m.forward(x)).data<float>().ToArray();
    }

    [Fact]
    public void ACallerThatFindsTheModuleBusyGetsACopyWithTheSameWeights()
    {
        using var owner = Owner(ModuleSharing.Pool);
        var direct = Forward(owner, 1);
        float[]? nested = null;
        using (no_grad())
        {
            owner.Run(outer =>
            {
                nested = Forward(owner, 1); // the trained module is taken: the pool makes a copy
                return 0;
            });
        }
        Assert.Equal(1, owner.CopyCount);
        Assert.Equal(direct, nested);
        Assert.Equal(direct, Forward(owner, 1)); // both back in the pool; no new copy
        Assert.Equal(1, owner.CopyCount);
    }

    [Theory]
    [InlineData(ModuleSharing.Pool)]
    [InlineData(ModuleSharing.Lock)]
    [InlineData(ModuleSharing.PerThreadClone)]
    [InlineData(ModuleSharing.Unsynchronized)]
    public void FourThreadsGiveTheSequentialOutputs(ModuleSharing sharing)
    {
        using var owner = Owner(sharing);
        var expected = Enumerable.Range(0, 200).Select(i => Forward(owner, i)).ToArray();
        var actual = new float[200][];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (int i = t; i < 200; i += 4)
                actual[i] = Forward(owner, i);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (int i = 0; i < 200; i++)
            Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void DisposeFreesTheModuleAndItsCopies()
    {
        var owner = Owner(ModuleSharing.Pool);
        nn.Module<Tensor, Tensor>? copy = null;
        using (no_grad())
            owner.Run(_ => owner.Run(m => copy = m));
        var weights = owner.Module.parameters().Concat(copy!.parameters()).ToList();
        Assert.All(weights, p => Assert.False(p.IsInvalid));
        owner.Dispose();
        Assert.True(owner.IsDisposed);
        Assert.All(weights, p => Assert.True(p.IsInvalid));
        Assert.Throws<ObjectDisposedException>(() => Forward(owner, 0));
    }

    [Fact]
    public void TheModuleIsPlacedInEvaluationModeAndOutlivesTheScopeItWasBuiltIn()
    {
        TorchModuleOwner<nn.Module<Tensor, Tensor>> owner;
        using (var scope = NewDisposeScope())
            owner = new(nn.Linear(5, 3), CPU, () => nn.Linear(5, 3));
        using (owner)
        {
            Assert.False(owner.Module.training);
            Assert.Equal(3, Forward(owner, 0).Length);
        }
    }
}
