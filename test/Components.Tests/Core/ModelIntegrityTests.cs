using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using Components.Core;
using Components.Core.Data;
using Components.Core.Persistence;
using Components.Samplers;
using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Components.Tests.Harness;
using Components.Tests.Samplers.Hmc;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Tests.Core;

/// <summary>
/// Integrity blocks (checksum and length) on the streams the suite writes, load errors that name the damaged entry,
/// and loading with and without <c>RegisterComponents</c>. The per-component corruption checks run in
/// <see cref="EstimatorHarness.AssertDamagedModelIsRejected"/>.
/// </summary>
public sealed class ModelIntegrityTests
{
    [Fact]
    public void Crc32CMatchesTheStandardCheckValueAndCanBeComputedInPieces()
    {
        var data = "123456789"u8.ToArray();
        Assert.Equal(0xE3069283u, StreamIntegrity.Crc32C(0, data)); // the CRC-32C check value (RFC 3720, B.4)
        Assert.Equal(StreamIntegrity.Crc32C(0, data), StreamIntegrity.Crc32C(StreamIntegrity.Crc32C(0, data.AsSpan(0, 5)), data.AsSpan(5)));
        Assert.Equal(0u, StreamIntegrity.Crc32C(0, []));
    }

    private static (MLContext Ml, IDataView Data, ITransformer Pipeline, byte[] Zip) SavedPipeline()
    {
        var ml = new MLContext(seed: 1);
        var data = SyntheticData.GaussianBlobs(ml, 40, 4, 2);
        var pipeline = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.Regression.Trainers.NeuralNetwork(new NeuralNetworkRegressionOptions { LabelColumnName = "Target", HiddenLayerWidths = [4], NumberOfEpochs = 1, Seed = 1 }))
            .Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(pipeline, data.Schema, stream);
        return (ml, data, pipeline, stream.ToArray());
    }

    private static byte[] Damage(byte[] zipBytes, string entry, Func<byte[], byte[]> change)
    {
        using var ms = new MemoryStream();
        ms.Write(zipBytes);
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Update, leaveOpen: true))
        {
            var e = zip.GetEntry(entry)!;
            using var copy = new MemoryStream();
            using (var s = e.Open())
                s.CopyTo(copy);
            e.Delete();
            using var w = zip.CreateEntry(entry).Open();
            w.Write(change(copy.ToArray()));
        }
        return ms.ToArray();
    }

    private static string EntryEndingWith(byte[] zipBytes, string suffix)
    {
        using var zip = new ZipArchive(new MemoryStream(zipBytes), ZipArchiveMode.Read);
        return Assert.Single(zip.Entries, e => e.FullName.EndsWith(suffix, StringComparison.Ordinal)).FullName;
    }

    [Fact]
    public void DamageInsideAPipelineIsReportedAsAFormatExceptionNamingTheNestedEntry()
    {
        var (ml, data, pipeline, zip) = SavedPipeline();
        var tsModel = EntryEndingWith(zip, "/TSModel");
        Assert.StartsWith("TransformerChain/Transform_", tsModel);

        // One flipped byte in the middle of the weights.
        var flipped = Damage(zip, tsModel, b => { var c = (byte[])b.Clone(); c[c.Length / 2] ^= 0x10; return c; });
        var ex = Assert.Throws<FormatException>(() => new MLContext().Model.LoadWithComponents(new MemoryStream(flipped), out _));
        Assert.Contains($"'{tsModel}'", ex.Message);
        Assert.Contains("checksum", ex.Message);

        // ML.NET's own Model.Load calls each loader by reflection: the same error arrives inside one
        // TargetInvocationException per nesting level (here the chain and the transformer).
        var wrapped = Record.Exception(() => new MLContext().RegisterComponents().Model.Load(new MemoryStream(flipped), out _));
        Assert.IsType<TargetInvocationException>(wrapped);
        var inner = Assert.IsType<FormatException>(wrapped.GetBaseException());
        Assert.Contains($"'{tsModel}'", inner.Message);

        // A truncated ML.NET model header (Model.key of the trainer) is traced to its entry too.
        var key = tsModel[..tsModel.LastIndexOf('/')] + "/Model.key";
        var cut = Damage(zip, key, b => b[..(b.Length - 3)]);
        var cutEx = Assert.Throws<FormatException>(() => new MLContext().Model.LoadWithComponents(new MemoryStream(cut), out _));
        Assert.Contains($"'{key}'", cutEx.Message);
        Assert.Contains("truncated", cutEx.Message);

        // The undamaged model loads and predicts as before.
        var loaded = new MLContext().Model.LoadWithComponents(new MemoryStream(zip), out var schema);
        Assert.NotNull(schema);
        Assert.Equal(EstimatorHarness.ReadColumn(pipeline.Transform(data), "Score"), EstimatorHarness.ReadColumn(loaded.Transform(data), "Score"));
        (loaded as IDisposable)?.Dispose();
        (pipeline as IDisposable)?.Dispose();
        _ = ml;
    }

    [Fact]
    public void WithoutRegistrationMlNetsLoadFailsAndLoadWithComponentsWorks()
    {
        var dir = LegacyModelFixtureTests.FixtureDirectory;
        // ML.NET finds loaders only in its component catalog, which third-party assemblies cannot fill without
        // running code first (the attribute it scans for is internal), so plain Model.Load needs RegisterComponents.
        using (var file = File.OpenRead(Path.Combine(dir, "NeuralNetworkRegression.zip")))
        {
            var ex = Assert.Throws<FormatException>(() => new MLContext().Model.Load(file, out _));
            Assert.Contains("Couldn't load model", ex.Message);
        }

        // LoadWithComponents registers by itself; a legacy model gives its recorded outputs.
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "NeuralNetworkRegression.json")));
        var ml = new MLContext();
        var model = ml.Model.LoadWithComponents(Path.Combine(dir, "NeuralNetworkRegression.zip"), out _);
        var scores = EstimatorHarness.ReadColumn(model.Transform(LegacyModelFixtureTests.InputView(ml, json.RootElement.GetProperty("inputs"))), "Score");
        var recorded = json.RootElement.GetProperty("outputs")[0].GetProperty("rows").EnumerateArray().Select(r => r[0].GetDouble()).ToArray();
        Assert.Equal(recorded.Length, scores.Count);
        for (int i = 0; i < recorded.Length; i++)
            Assert.Equal(recorded[i], scores[i][0], 1e-5);
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void SamplerLoadErrorsArriveAsTheirOwnExceptionType()
    {
        var ml = new MLContext(seed: 1);
        const string name = "ModelIntegrityTests.Redefined";
        var energy = EnergyFunction.FromFunction(name, 2, x => 0.5f * x.square().sum(1));
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(4, 2, seed: 1));
        var model = ml.Samplers.Hmc(new HmcOptions { Energy = energy, AdaptationSteps = 5, Chains = 4, Transitions = 1, LeapfrogSteps = 2, Seed = 1 }).Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);

        // The user energy is redefined with another dimension before loading: the sampler's loader rejects it.
        EnergyFunction.FromFunction(name, 3, x => 0.5f * x.square().sum(1));
        stream.Position = 0;
        var ex = Assert.Throws<InvalidOperationException>(() => new MLContext().Model.LoadWithComponents(stream, out _));
        Assert.Contains($"'{name}' of dimension 2", ex.Message);

        var damaged = Damage(stream.ToArray(), "TransformerChain/Model.key", b => { var c = (byte[])b.Clone(); c[256 + 20] ^= 1; return c; });
        var fex = Assert.Throws<FormatException>(() => new MLContext().Model.LoadWithComponents(new MemoryStream(damaged), out _));
        Assert.Contains("'TransformerChain/Model.key'", fex.Message);
    }

    [Fact]
    public void FormatVersionsMustLeaveTheIntegrityBitFree()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelVersion("ABCDEFGH", ModelVersion.IntegrityFlag, 1, "Sig"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelVersion("ABCDEFGH", 1, 2, "Sig"));
        Assert.Equal(7u, new ModelVersion("ABCDEFGH", 7, 3, "Sig").VersionWritten);
    }
}
