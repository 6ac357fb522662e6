using System.Buffers.Binary;
using Components.Core.Persistence;
using Components.Transforms.MetaLearnedFeaturizer;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.MetaLearnedFeaturizer;

/// <summary>The update-rule file: a round trip restores every weight and the rule's sizes (the reloaded rule proposes the
/// same update), and missing, foreign, newer, truncated, altered, other-size and non-finite files fail naming the file.</summary>
public sealed class LocalUpdateRuleFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rule-file-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static float[] Flat(LocalUpdateRule rule) =>
        [.. rule.parameters().SelectMany(p => p.detach().contiguous().data<float>().ToArray())];

    [Fact]
    public void ARoundTripRestoresSizesWeightsAndTheUpdate()
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(_dir, "r.bin");
        var options = new LocalUpdateRuleOptions { DeltaDim = 3, HiddenDim = 5, ReadoutChannels = 2, DecayDivisor = 5, UseUnitIds = false, Seed = 7 };
        using var rule = new LocalUpdateRule(options);
        LocalUpdateRuleFile.Save(rule, path);
        using var back = LocalUpdateRuleFile.Load(path);
        Assert.Equal((3, 5, 2, 5.0, false), (back.Options.DeltaDim, back.Options.HiddenDim, back.Options.ReadoutChannels, back.Options.DecayDivisor, back.Options.UseUnitIds));
        Assert.Equal(Flat(rule), Flat(back));
        // A rule of the same sizes from another seed differs, so the equality above is the file's doing.
        using var other = new LocalUpdateRule(new LocalUpdateRuleOptions { DeltaDim = 3, HiddenDim = 5, ReadoutChannels = 2, DecayDivisor = 5, UseUnitIds = false, Seed = 8 });
        Assert.NotEqual(Flat(rule), Flat(other));

        using var net = BaseNetworkState.Create([6, 4, 3], seed: 2);
        var x = randn(9, 6, generator: new TorchSharp.torch.Generator(3));
        var a = rule.ComputeUpdate(net, x); var b = back.ComputeUpdate(net, x);
        for (int l = 0; l < net.Depth; l++)
        {
            Assert.Equal(a.DeltaW[l].data<float>().ToArray(), b.DeltaW[l].data<float>().ToArray());
            Assert.Equal(a.DeltaBias[l].data<float>().ToArray(), b.DeltaBias[l].data<float>().ToArray());
        }
    }

    [Fact]
    public void TheShippedRuleLoadsWithFiniteWeightsAndTrains()
    {
        using var scope = NewDisposeScope();
        using var rule = LocalUpdateRuleFile.LoadShipped();
        Assert.All(rule.parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
        using var net = BaseNetworkState.Create([5, 4], seed: 0);
        using var next = InnerLoop.Step(rule, net, randn(8, 5, generator: new TorchSharp.torch.Generator(1)));
        Assert.True(next.W[0].isfinite().all().item<bool>());
        Assert.NotEqual(net.W[0].data<float>().ToArray(), next.W[0].data<float>().ToArray());
    }

    [Fact]
    public void BadFilesAreRefusedNamingTheFile()
    {
        var path = Path.Combine(_dir, "bad.bin");
        Assert.Contains("does not exist", Assert.Throws<FileNotFoundException>(() => LocalUpdateRuleFile.Load(path)).Message);
        using (var rule = new LocalUpdateRule())
            LocalUpdateRuleFile.Save(rule, path);
        var good = File.ReadAllBytes(path);

        void Expect(byte[] bytes, string fragment)
        {
            File.WriteAllBytes(path, bytes);
            var ex = Assert.Throws<FormatException>(() => LocalUpdateRuleFile.Load(path));
            Assert.Contains(fragment, ex.Message);
            Assert.Contains(path, ex.Message);
        }

        var flipped = (byte[])good.Clone();
        flipped[^5] ^= 0x40;
        Expect(flipped, "checksum");
        Expect(good[..(good.Length / 2)], "truncated");
        Expect(good[..10], "truncated");
        Expect("PK\u0003\u0004 not a rule at all"u8.ToArray(), "unknown rule file");
        Expect([], "unknown rule file");
        var newer = (byte[])good.Clone();
        newer[8] = 99; // format version
        Expect(newer, "format version 99");
        var longer = good.Concat(new byte[] { 1, 2, 3 }).ToArray();
        Expect(longer, "damaged");

        // A consistent file (valid checksum) whose sizes say DeltaDim 9 while its weights are for DeltaDim 8.
        var resized = (byte[])good.Clone();
        const int payloadAt = 12 + 16;
        BinaryPrimitives.WriteInt32LittleEndian(resized.AsSpan(payloadAt), 9);
        BinaryPrimitives.WriteUInt32LittleEndian(resized.AsSpan(12 + 4), StreamIntegrity.Crc32C(0, resized.AsSpan(payloadAt)));
        Expect(resized, "needs [");
    }

    [Fact]
    public void NonFiniteWeightsAreRefusedNamingTheEntry()
    {
        var path = Path.Combine(_dir, "nan.bin");
        using (var rule = new LocalUpdateRule())
        {
            using (no_grad())
                rule.named_parameters().Single(p => p.name == "merge").parameter[2] = float.NaN;
            LocalUpdateRuleFile.Save(rule, path);
        }
        var ex = Assert.Throws<FormatException>(() => LocalUpdateRuleFile.Load(path));
        Assert.Contains("'merge'", ex.Message);
        Assert.Contains("NaN", ex.Message);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void ARuleOfOtherSizesIsRefusedNamingBoth()
    {
        var path = Path.Combine(_dir, "small.bin");
        using (var rule = new LocalUpdateRule(new LocalUpdateRuleOptions { DeltaDim = 2 }))
            LocalUpdateRuleFile.Save(rule, path);
        var ex = Assert.Throws<InvalidOperationException>(() => LocalUpdateRuleFile.Load(path, new LocalUpdateRuleOptions()));
        Assert.Contains("DeltaDim 2", ex.Message);
        Assert.Contains($"DeltaDim {LocalUpdateRuleOptions.Defaults.DeltaDim}", ex.Message);
        Assert.Contains(path, ex.Message);
        using var small = LocalUpdateRuleFile.Load(path);
        Assert.Equal(2, small.Options.DeltaDim);
    }
}
