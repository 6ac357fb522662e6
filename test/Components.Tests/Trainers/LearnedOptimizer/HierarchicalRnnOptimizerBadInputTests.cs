using Components.Trainers.LearnedOptimizer;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>Bad inputs to the learned optimizer and its weights file fail with clear exceptions, and a good file round-trips.</summary>
public sealed class HierarchicalRnnOptimizerBadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hrnn-weights-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void ANonFiniteGradientIsRefusedNamingTheParameterAndNothingMoves(double bad)
    {
        using var meta = HierarchicalRnnMetaParameters.CreateReduced();
        var ok = new Parameter(ones(2), requires_grad: true);
        var w = new Parameter(ones(3), requires_grad: true);
        using var optimizer = new HierarchicalRnnOptimizer([ok, w], meta);
        (ok.sum() + (w * tensor(new[] { 1.0f, (float)bad, 1.0f })).sum()).backward();
        var ex = Assert.Throws<InvalidOperationException>(() => optimizer.step());
        Assert.Contains("parameter #1", ex.Message);
        Assert.Contains("NaN or infinite", ex.Message);
        Assert.Equal(new[] { 1f, 1f, 1f }, w.detach().data<float>().ToArray());
        Assert.Equal(new[] { 1f, 1f }, ok.detach().data<float>().ToArray());
        Assert.Equal(0, optimizer.Steps);
    }

    [Fact]
    public void AnEmptyParameterListIsRefused()
    {
        using var meta = HierarchicalRnnMetaParameters.CreateReduced();
        var ex = Assert.Throws<ArgumentException>(() => new HierarchicalRnnOptimizer([], meta));
        Assert.Contains("parameter list is empty", ex.Message);
    }

    [Fact]
    public void BadInitialLearningRatesAreRefused()
    {
        using var meta = HierarchicalRnnMetaParameters.CreateReduced();
        var w = new Parameter(ones(3), requires_grad: true);
        Assert.Throws<ArgumentOutOfRangeException>(() => new HierarchicalRnnOptimizer([w], meta, new() { MinInitialLearningRate = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HierarchicalRnnOptimizer([w], meta, new() { MinInitialLearningRate = 1e-2, MaxInitialLearningRate = 1e-3 }));
        foreach (var cap in new[] { 0, -1, double.NaN, double.PositiveInfinity, 1e15 })
            Assert.Throws<ArgumentOutOfRangeException>(() => new HierarchicalRnnOptimizer([w], meta, new() { MaxLearningRate = cap }));
    }

    [Fact]
    public void AMissingWeightsFileIsRefusedNamingThePath()
    {
        var path = Path.Combine(_dir, "absent.hrnn");
        var w = new Parameter(ones(3), requires_grad: true);
        var ex = Assert.Throws<FileNotFoundException>(() => HierarchicalRnnOptimizer.FromWeightsFile([w], path));
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void AWeightsFileRoundTripsAndStepsIdentically()
    {
        var path = Path.Combine(_dir, "w.hrnn");
        using var meta = HierarchicalRnnMetaParameters.CreateInitial(seed: 12);
        meta.Save(path);
        using var loaded = HierarchicalRnnMetaParameters.Load(path);
        // 8 349 meta-parameters at the default shape, counted by hand in docs/trainers/learned-optimizer.md.
        Assert.Equal(8349, meta.parameters().Sum(p => p.numel()));
        var a = meta.named_parameters().ToList();
        var b = loaded.named_parameters().ToList();
        Assert.Equal(a.Select(p => p.name), b.Select(p => p.name));
        for (int i = 0; i < a.Count; i++)
            Assert.Equal(a[i].parameter.data<float>().ToArray(), b[i].parameter.data<float>().ToArray());

        float[] Step(Func<Parameter[], torch.optim.Optimizer> create)
        {
            var w = new Parameter(linspace(-1, 1, 5), requires_grad: true);
            using var optimizer = create([w]);
            for (int t = 0; t < 3; t++)
            {
                optimizer.zero_grad();
                using (var scope = NewDisposeScope())
                    w.square().sum().backward();
                optimizer.step();
            }
            return w.detach().data<float>().ToArray();
        }
        Assert.Equal(Step(p => new HierarchicalRnnOptimizer(p, meta)), Step(p => HierarchicalRnnOptimizer.FromWeightsFile(p, path)));
    }

    [Fact]
    public void ACorruptTruncatedOrForeignWeightsFileIsRefused()
    {
        var path = Path.Combine(_dir, "w.hrnn");
        using (var meta = HierarchicalRnnMetaParameters.CreateReduced())
            meta.Save(path);
        var good = File.ReadAllBytes(path);

        var flipped = (byte[])good.Clone();
        flipped[^5] ^= 0x40;
        File.WriteAllBytes(path, flipped);
        Assert.Contains("checksum", Assert.Throws<FormatException>(() => HierarchicalRnnMetaParameters.Load(path)).Message);

        File.WriteAllBytes(path, good[..(good.Length / 2)]);
        Assert.Contains("truncated", Assert.Throws<FormatException>(() => HierarchicalRnnMetaParameters.Load(path)).Message);

        File.WriteAllBytes(path, "PK\u0003\u0004 not weights at all"u8.ToArray());
        Assert.Contains("not a learned-optimizer weights file", Assert.Throws<FormatException>(() => HierarchicalRnnMetaParameters.Load(path)).Message);

        var newer = (byte[])good.Clone();
        newer[8] = 99; // format version
        File.WriteAllBytes(path, newer);
        Assert.Contains("format version 99", Assert.Throws<FormatException>(() => HierarchicalRnnMetaParameters.Load(path)).Message);
    }

    [Fact]
    public void WeightsOfAnotherArchitectureAreRefusedNamingBoth()
    {
        var path = Path.Combine(_dir, "small.hrnn");
        using (var meta = HierarchicalRnnMetaParameters.CreateInitial(seed: 1, new HierarchicalRnnArchitecture(3, 8, 16, 16)))
            meta.Save(path);
        var ex = Assert.Throws<InvalidOperationException>(() => HierarchicalRnnMetaParameters.Load(path));
        Assert.Contains("3 gradient scales, GRU sizes [8, 16, 16]", ex.Message);
        Assert.Contains("4 gradient scales, GRU sizes [10, 20, 20]", ex.Message);
        // Loading it as what it is works.
        using var small = HierarchicalRnnMetaParameters.Load(path, new HierarchicalRnnArchitecture(3, 8, 16, 16));
        Assert.Equal(3, small.Architecture.GradientScales);
    }

    [Fact]
    public void AStateOfAnotherParameterListIsRefused()
    {
        using var meta = HierarchicalRnnMetaParameters.CreateReduced();
        using var a = new HierarchicalRnnOptimizer([new Parameter(ones(3), requires_grad: true)], meta);
        using var b = new HierarchicalRnnOptimizer([new Parameter(ones(4), requires_grad: true)], meta);
        using var saved = new MemoryStream();
        a.SaveState(saved);
        saved.Position = 0;
        var ex = Assert.Throws<ArgumentException>(() => b.LoadState(saved));
        Assert.Contains("tensor.0.", ex.Message);
        Assert.Contains("expected [4", ex.Message);
    }
}
