using Components.Core;
using Components.Core.Internal;
using Components.Core.Runtime;
using Components.Core.Tensors;
using Components.Tests.Harness;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Tests.Core;

public sealed class CoreTorchTests
{
    [Fact]
    public void TorchOperationRuns()
    {
        // Fails with TypeInitializationException when libLibTorchSharp.so was not patched on Debian 12.
        using var t = torch.ones(3, 3);
        using var s = t.sum();
        Assert.Equal(9f, s.item<float>());
    }

    [Fact]
    public void TensorDataRoundTripsSpans()
    {
        var values = Enumerable.Range(0, 12).Select(i => i * 0.5f).ToArray();
        using var t = TensorData.FromSpan(values, [3, 4]);
        Assert.Equal(new long[] { 3, 4 }, t.shape);
        Assert.Equal(values, TensorData.ToSingleArray(t));
        using var tt = t.t(); // non-contiguous view
        Assert.Equal(2.0f, TensorData.ToSingleArray(tt)[1]); // element (0,1) of the transpose = values[4]
        Assert.Throws<ArgumentException>(() => TensorData.FromSpan(values, [5, 4]));
    }
}

public sealed class CoreMlNetShimTests
{
    [Fact]
    public void ShimResolvesEveryInternalMemberOfThisMlNetVersion()
    {
        // If ML.NET is upgraded, this fails loudly: re-verify the shim (src/Core/Internal/MlNetShim.cs) and bump SupportedVersion.
        MlNetShim.EnsureSupported();
        Assert.StartsWith(MlNetShim.SupportedVersion, MlNetShim.LoadedVersion);
    }

    [Fact]
    public void LoaderSignaturesThatMlNetCannotStoreAreRejectedUpFront()
    {
        // ML.NET's model header stores 24 bytes; longer names fail deep inside Model.Save with a bare message.
        Assert.Throws<ArgumentException>(() => new Components.Core.Persistence.ComponentModelAttribute(new string('a', 24)));
        Assert.Throws<ArgumentException>(() => new Components.Core.Persistence.ModelVersion("ABCDEFGH", 1, 1, new string('a', 24)));
        Assert.Equal(23, new Components.Core.Persistence.ComponentModelAttribute(new string('a', 23)).LoaderSignature.Length);
    }

    [Fact]
    public void CatalogEnvironmentIsTheMlContextEnvironment()
    {
        var ml = new MLContext(seed: 7) { GpuDeviceId = 3, FallbackToCpu = false };
        var env = CatalogEnvironment.Get(ml.Transforms);
        var (seed, gpu, fallback) = CatalogEnvironment.Settings(env);
        Assert.Equal(7, seed);
        Assert.Equal(3, gpu);
        Assert.False(fallback);
    }
}

public sealed class CoreDeviceResolverTests
{
    [Fact]
    public void ExplicitCpuWins() => Assert.Equal(DeviceType.CPU, DeviceResolver.Resolve("cpu", 0, false, cudaAvailable: false).type);

    [Fact]
    public void NoGpuIdMeansCpu() => Assert.Equal(DeviceType.CPU, DeviceResolver.Resolve(null, null, false, cudaAvailable: false).type);

    [Fact]
    public void GpuIdWithoutCudaFallsBackWhenAllowed()
        => Assert.Equal(DeviceType.CPU, DeviceResolver.Resolve(null, 0, fallbackToCpu: true, cudaAvailable: false).type);

    [Fact]
    public void GpuIdWithoutCudaAndNoFallbackThrowsNamingTheId()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => DeviceResolver.Resolve(null, 2, fallbackToCpu: false, cudaAvailable: false));
        Assert.Contains("GpuDeviceId is 2", ex.Message);
    }

    [Fact]
    public void ExplicitCudaWithoutCudaThrows()
        => Assert.Throws<InvalidOperationException>(() => DeviceResolver.Resolve("cuda:0", null, true, cudaAvailable: false));

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void UnknownDeviceThrows(string device)
        => Assert.Throws<ArgumentOutOfRangeException>(() => DeviceResolver.Resolve(device, null, true, cudaAvailable: false));

    [CudaFact]
    public void CudaDeviceResolvesWhenAvailable()
        => Assert.Equal(DeviceType.CUDA, DeviceResolver.Resolve("cuda", null, false).type);
}

public sealed class CorePipelineTests
{
    private sealed class Row
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private sealed class Prediction
    {
        public string PredictedLabelValue { get; set; } = "";

        public float[] Score { get; set; } = [];
    }

    private static IDataView Blobs(MLContext ml, int n, int seed)
    {
        var rng = new Random(seed);
        var names = new[] { "red", "green", "blue" };
        var rows = Enumerable.Range(0, n).Select(i =>
        {
            int c = i % 3;
            return new Row { Label = names[c], Features = Enumerable.Range(0, 3).Select(j => (j == c ? 4f : 0f) + (float)(rng.NextDouble() - 0.5)).ToArray() };
        }).ToList();
        return ml.Data.LoadFromEnumerable(rows);
    }

    [Fact]
    public void CentroidTrainerPassesTheHarness()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Blobs(ml, 60, 1)).Transform(Blobs(ml, 60, 1));
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Features = 1f, Label = 1u } });
        EstimatorHarness.Run(ml, new CentroidTestTrainer(ml), data, invalidData: invalid);
    }

    [Fact]
    public void MulticlassContractWorksWithEvaluateMapKeyToValueAndPredictionEngine()
    {
        var ml = new MLContext(seed: 1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(new CentroidTestTrainer(ml))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
        var model = pipeline.Fit(Blobs(ml, 90, 2));
        var scored = model.Transform(Blobs(ml, 90, 3));
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.True(metrics.MacroAccuracy > 0.99, $"MacroAccuracy {metrics.MacroAccuracy}");

        var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
        Assert.Equal("green", engine.Predict(new Row { Features = [0, 4, 0] }).PredictedLabelValue);
        Assert.Equal("blue", engine.Predict(new Row { Features = [0, 0, 4] }).PredictedLabelValue);
        Assert.Equal("red", engine.Predict(new Row { Features = [4, 0, 0] }).PredictedLabelValue);

        // Saved and loaded in a fresh context, the whole chain predicts the same.
        using var stream = new MemoryStream();
        ml.Model.Save(model, null, stream);
        stream.Position = 0;
        var ml2 = new MLContext().RegisterComponents();
        var loaded = ml2.Model.Load(stream, out _);
        var engine2 = ml2.Model.CreatePredictionEngine<Row, Prediction>(loaded);
        Assert.Equal("blue", engine2.Predict(new Row { Features = [0, 0, 4] }).PredictedLabelValue);
    }

    [Fact]
    public void CrossValidateRunsWithASuiteTrainer()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Blobs(ml, 90, 4)).Transform(Blobs(ml, 90, 4));
        var results = ml.MulticlassClassification.CrossValidate(data, new CentroidTestTrainer(ml), numberOfFolds: 3);
        Assert.All(results, r => Assert.True(r.Metrics.MicroAccuracy > 0.95));
    }

    [Fact]
    public void NonFiniteFeaturesAreRejectedWithColumnAndRow()
    {
        var ml = new MLContext(seed: 1);
        var rows = new[] { new Row { Features = [1, 2, 3], Label = "a" }, new Row { Features = [1, float.NaN, 3], Label = "b" } };
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var ex = Assert.Throws<InvalidOperationException>(() => new CentroidTestTrainer(ml).Fit(data));
        Assert.Contains("'Features', row 1", ex.Message);
    }

    [Fact]
    public void EmptyDataIsRejected()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Blobs(ml, 3, 1)).Transform(ml.Data.LoadFromEnumerable(new List<Row>()));
        var ex = Assert.Throws<InvalidOperationException>(() => new CentroidTestTrainer(ml).Fit(data));
        Assert.Contains("no rows", ex.Message);
    }

    [Fact]
    public void MissingAndMistypedColumnsNameTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new { X = 1f, Label = 1u } });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new CentroidTestTrainer(ml).GetOutputSchema(Components.Core.Schema.SchemaShapes.FromSchema(data.Schema)));
        Assert.Contains("'Features'", ex.Message);
        var data2 = ml.Data.LoadFromEnumerable(new[] { new { Features = 1f, Label = 1u } });
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => new CentroidTestTrainer(ml).GetOutputSchema(Components.Core.Schema.SchemaShapes.FromSchema(data2.Schema)));
        Assert.Contains("expected known-size vector of Single, got Single", ex2.Message);
    }
}
