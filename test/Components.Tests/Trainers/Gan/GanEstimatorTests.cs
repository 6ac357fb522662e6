using Components.Core.Schema;
using Components.Tests.Harness;
using Components.Trainers;
using Components.Trainers.Gan;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Gan;

/// <summary>ml.Generative.Gan: the ML.NET contract, training on the 8-Gaussian ring, sampling, the log-ratio transform, errors.</summary>
public sealed class GanEstimatorTests
{
    private const int Latent = 4;

    private sealed class Row
    {
        [VectorType(2)]
        public float[] Features { get; set; } = [];

        [VectorType(Latent)]
        public float[] Noise { get; set; } = [];
    }

    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];
    }

    private sealed class ScalarRow
    {
        public float Features { get; set; }

        public float Noise { get; set; }
    }

    private static IDataView RingRows(MLContext ml, int n, int seed)
    {
        var rows = GanToyData.Sample(GanToyData.RingCenters(), 0.02, n, seed);
        var rng = new Random(seed + 1);
        return ml.Data.LoadFromEnumerable(rows.Select(r => new Row
        {
            Features = r,
            Noise = [.. Enumerable.Range(0, Latent).Select(_ => (float)Components.Core.Data.SyntheticData.Normal(rng))],
        }).ToList());
    }

    private static IDataView Features(MLContext ml, float[][] rows, int d)
    {
        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
        return ml.Data.LoadFromEnumerable(rows.Select(r => new FeatureRow { Features = r }).ToList(), schema);
    }

    private static GanEstimator.Options Small(int steps = 20) => new()
    {
        LatentSize = Latent, HiddenUnits = [16, 16], Steps = steps, BatchSize = 32, Seed = 1, LogInterval = 5,
    };

    [Fact]
    public void GanHarness()
    {
        var ml = new MLContext(seed: 1);
        var data = RingRows(ml, 64, seed: 2);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new ScalarRow { Features = 1, Noise = 1 } });
        using var model = EstimatorHarness.Run(ml, ml.Generative.Gan(Small()), data, invalidData: invalid, tolerance: 1e-5);
        Assert.Equal(2, model.Architecture.DataSize);
        Assert.Equal("−log D", model.Objective);
        Assert.Equal(4, model.TrainingHistory.Count); // steps 5, 10, 15, 20
        using var ratio = EstimatorHarness.Run(ml, ml.Generative.GanLogDensityRatio(model), data, invalidData: invalid, tolerance: 1e-5);
        Assert.Equal("LogDensityRatio", ratio.OutputColumnName);
        Assert.Same(ml, Components.Core.Runtime.CatalogEnvironment.Get(ml.Generative));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Generative.GanLogDensityRatio(model, new GanLogDensityRatioEstimator.Options { BatchSize = 0 }));
    }

    [Fact]
    public void GanMovesTowardsTheRingAndItsDiscriminatorScoresRealism()
    {
        // The 8-Gaussian ring (σ = 0.1, radius 2) with −log D, 500 generator steps: the samples' mean distance from the
        // ring falls below 0.6 × that of the untrained generator, and the discriminator rates ring points above the
        // centre of the ring. (Mode coverage needs thousands of steps: see the gan-repro runner.)
        var ml = new MLContext(seed: 3);
        var centers = GanToyData.RingCenters();
        var data = Features(ml, GanToyData.Sample(centers, 0.1, 4000, seed: 4), 2);
        GanEstimator.Options Options(int steps) => new() { LatentSize = 8, HiddenUnits = [64, 64], Steps = steps, BatchSize = 128, Seed = 5 };
        using var untrained = ml.Generative.Gan(Options(0)).Fit(data);
        using var model = ml.Generative.Gan(Options(500)).Fit(data);
        using var scope = NewDisposeScope();
        double RingError(GanModel m) => (tensor(m.SampleArrays(2000).Generated, [2000, 2]).square().sum(1).sqrt() - 2).abs().mean().item<float>();
        double before = RingError(untrained), after = RingError(model);
        Assert.True(after < 0.6 * before, $"mean |‖x‖ − 2|: untrained {before:F3}, trained {after:F3}");
        var ringScore = model.LogDensityRatio(GanToyData.ToTensor(centers)).mean().item<float>();
        var centreScore = model.LogDensityRatio(zeros(1, 2)).item<float>();
        Assert.True(ringScore > centreScore, $"r on the ring {ringScore}, at the centre {centreScore}");
    }

    [Fact]
    public void GanIsReproducibleForASeedAndSamplesAgreeWithTransform()
    {
        var ml = new MLContext(seed: 7);
        var data = RingRows(ml, 64, seed: 8);
        using var a = ml.Generative.Gan(Small(10)).Fit(data);
        using var b = ml.Generative.Gan(Small(10)).Fit(data);
        Assert.Equal(a.SampleArrays(50).Generated, b.SampleArrays(50).Generated);
        var sample = a.Sample(30);
        var viaTransform = EstimatorHarness.ReadColumn(a.Transform(sample), "Generated");
        var drawn = EstimatorHarness.ReadColumn(sample, "Generated");
        for (int i = 0; i < drawn.Count; i++)
            Assert.Equal(drawn[i], viaTransform[i]);
        Assert.NotEqual(a.SampleArrays(5, seed: 1).Generated, a.SampleArrays(5, seed: 2).Generated);
    }

    [Fact]
    public void GanLogsBothLossesAndHonoursCancellation()
    {
        var ml = new MLContext(seed: 9);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.StartsWith(nameof(GanEstimator), StringComparison.Ordinal)) lock (messages) messages.Add(e.RawMessage); };
        var data = RingRows(ml, 64, seed: 10);
        using (ml.Generative.Gan(Small(10)).Fit(data))
        {
        }
        Assert.Contains(messages, m => m.StartsWith("Generator step 5/10: discriminator loss", StringComparison.Ordinal) && m.Contains("generator loss"));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var o = Small();
        o.CancellationToken = cts.Token;
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Generative.Gan(o).Fit(data));
    }

    [Fact]
    public void DcganGeneratesImagesWithTheirShape()
    {
        var ml = new MLContext(seed: 11);
        var rng = new Random(12);
        var images = Enumerable.Range(0, 16).Select(_ => Enumerable.Range(0, 784).Select(_ => (float)rng.NextDouble()).ToArray()).ToArray();
        var o = new GanEstimator.Options { Network = GanNetworkKind.Dcgan, Channels = 4, LatentSize = 8, Steps = 3, BatchSize = 8, Seed = 13 };
        using var model = ml.Generative.Gan(o).Fit(Features(ml, images, 784));
        var sample = model.Sample(5);
        Assert.Equal(new ImageShape(1, 28, 28), ImageShape.Of(model.Transform(sample).Schema["Generated"]));
        var values = EstimatorHarness.ReadColumn(sample, "Generated");
        Assert.All(values, row => Assert.All(row, v => Assert.InRange(v, 0, 1))); // sigmoid output
        using var scope = NewDisposeScope();
        Assert.Equal([5], model.LogDensityRatio(tensor(images.Take(5).SelectMany(r => r).ToArray(), [5, 784])).shape);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Generative.Gan(o).Fit(Features(ml, [[1, 2]], 2)));
        Assert.Contains("length 784", ex.Message);
    }

    [Fact]
    public void GanRejectsBadData()
    {
        var ml = new MLContext(seed: 14);
        var est = ml.Generative.Gan(Small());
        var nan = Assert.Throws<InvalidOperationException>(() => est.Fit(Features(ml, [[0, 1], [float.NaN, 0]], 2)));
        Assert.Contains("Features", nan.Message);
        Assert.Throws<InvalidOperationException>(() => est.Fit(Features(ml, [[0, 1], [float.PositiveInfinity, 0]], 2)));
        var empty = Assert.Throws<InvalidOperationException>(() => est.Fit(Features(ml, [], 2)));
        Assert.Contains("no rows", empty.Message);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Generative.Gan(featureColumnName: "Pixels").Fit(Features(ml, [[0, 1]], 2)));
        Assert.Contains("Pixels", missing.Message);

        var data = RingRows(ml, 32, seed: 15);
        using var model = est.Fit(data);
        var wrongNoise = Features(ml, [[0, 1]], 2); // no Noise column
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(wrongNoise));
        var renamed = ml.Transforms.CopyColumns("Noise", "Features").Fit(wrongNoise).Transform(wrongNoise); // Noise of size 2, not 4
        var size = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(renamed));
        Assert.Contains("length 4", size.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Sample(0));
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => model.Generate(zeros(3, 2)));
        Assert.Throws<ArgumentException>(() => model.LogDensityRatio(full(1, 2, float.NaN)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Generative.GanLogDensityRatio(model).Fit(Features(ml, [[1, 2, 3]], 3)));
    }

    [Fact]
    public void GanValidatesOptions()
    {
        var ml = new MLContext();
        void Bad(Action<GanEstimator.Options> set, string name)
        {
            var o = new GanEstimator.Options();
            set(o);
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Generative.Gan(o));
            Assert.Equal(name, ex.ParamName);
        }
        Bad(o => o.Steps = -1, "Steps");
        Bad(o => o.LatentSize = 0, "LatentSize");
        Bad(o => o.HiddenUnits = [], "HiddenUnits");
        Bad(o => o.BatchSize = 0, "BatchSize");
        Bad(o => o.DiscriminatorSteps = 0, "DiscriminatorSteps");
        Bad(o => o.GeneratorLearningRate = double.NaN, "GeneratorLearningRate");
        Bad(o => o.Beta1 = 1, "Beta1");
        Bad(o => o.OutputColumnName = "Noise", "OutputColumnName");
        Bad(o => { o.Objective = GanObjective.Alpha; o.Alpha = double.PositiveInfinity; }, "Alpha");
        Bad(o => o.Objective = (GanObjective)42, "Objective");
    }

    [Fact]
    public void GanRejectsBadCustomF()
    {
        var ml = new MLContext();
        var convex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Generative.Gan(new GanEstimator.Options { Objective = GanObjective.Custom, CustomF = u => -(u - 1).square() }));
        Assert.Equal("CustomF", convex.ParamName);
        Assert.Contains("convex", convex.Message);
        var one = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Generative.Gan(new GanEstimator.Options { Objective = GanObjective.Custom, CustomF = u => (u - 2).square() }));
        Assert.Contains("f(1) = 0", one.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Generative.Gan(new GanEstimator.Options { Objective = GanObjective.Custom }));
        // A valid custom f trains.
        var data = RingRows(ml, 32, seed: 16);
        var o = Small(4);
        o.Objective = GanObjective.Custom;
        o.CustomF = u => (u - 1).square() / (u + 1);
        o.FinalObjective = GanObjective.ReverseKl;
        using var model = ml.Generative.Gan(o).Fit(data);
        Assert.Equal("custom f → reverse KL", model.Objective);
    }

    [CudaFact]
    public void GanTrainsAndSamplesOnCuda()
    {
        var ml = new MLContext(seed: 17);
        var data = RingRows(ml, 64, seed: 18);
        var o = Small(5);
        o.Device = "cuda";
        using var model = ml.Generative.Gan(o).Fit(data);
        Assert.Equal(DeviceType.CUDA, model.Device.type);
        var rows = EstimatorHarness.ReadColumn(model.Transform(data), "Generated");
        Assert.Equal(64, rows.Count);
        Assert.All(rows.SelectMany(r => r), v => Assert.True(double.IsFinite(v)));
        using var ratio = ml.Generative.GanLogDensityRatio(model).Fit(data);
        Assert.All(EstimatorHarness.ReadColumn(ratio.Transform(data), "LogDensityRatio"), r => Assert.True(double.IsFinite(r[0])));
    }
}
