using Components.Samplers.Sampling;
using Components.Core;
using Components.Samplers;
using Components.Samplers.Energies;
using Components.Samplers.L2hmc;
using Components.Tests.Harness;
using Components.Tests.Samplers.Hmc;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Samplers.L2hmc;

/// <summary>ml.Samplers.L2hmc: the ML.NET contract, training, persistence, errors.</summary>
public sealed class L2hmcEstimatorTests
{
    private static L2hmcEstimator.Options SmallOptions(EnergyFunction energy, int trainingSteps = 8) => new()
    {
        Energy = energy,
        TrainingSteps = trainingSteps,
        Chains = 16,
        LeapfrogSteps = 3,
        HiddenUnits = 6,
        Transitions = 2,
        Seed = 1,
        LogInterval = 4,
    };

    [Fact]
    public void L2hmcHarness()
    {
        var ml = new MLContext(seed: 1);
        var energy = HmcTestUtil.CorrelatedGaussian(2);
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(20, 2, seed: 3));
        var invalid = ml.Data.LoadFromEnumerable(new[] { new HmcTestUtil.ScalarRow { Features = 1 } });
        using var model = EstimatorHarness.Run(ml, ml.Samplers.L2hmc(SmallOptions(energy)), data, invalidData: invalid, tolerance: 1e-4);
        var out1 = EstimatorHarness.ReadColumn(model.Transform(data), "Sample");
        var acc = EstimatorHarness.ReadColumn(model.Transform(data), "AcceptanceRate");
        Assert.Equal(20, out1.Count);
        Assert.All(acc, a => Assert.InRange(a[0], 0, 1));
        // Rows with equal initial states still get independent chains (noise keyed by row position).
        var same = HmcTestUtil.States(ml, Enumerable.Repeat(new float[] { 0.5f, -0.5f }, 6).ToArray());
        var outs = EstimatorHarness.ReadColumn(model.Transform(same), "Sample");
        Assert.True(outs.Select(o => o[0]).Distinct().Count() > 2, "Identical initial states should diverge.");
    }

    [Fact]
    public void L2hmcSimpleOverloadUsesDefaultsAndColumns()
    {
        var ml = new MLContext(seed: 1);
        var est = ml.Samplers.L2hmc(EnergyFunction.MixtureOfGaussians(), initialStateColumnName: "Start", outputColumnName: "End", transitions: 3);
        var shape = est.GetOutputSchema(Components.Core.Schema.SchemaShapes.FromSchema(
            ml.Data.LoadFromEnumerable(new[] { new StartRow() }).Schema));
        Assert.Contains(shape, c => c.Name == "End");
        Assert.Contains(shape, c => c.Name == "AcceptanceRate");

        // The simple overload passes its arguments through and fills the rest from the defaults (no training here,
        // to stay fast): the fitted model shows them.
        var data = ml.Data.LoadFromEnumerable(new[] { new StartRow(), new StartRow { Start = [1, -1] } });
        using var model = ml.Samplers.L2hmc(EnergyFunction.MixtureOfGaussians(), initialStateColumnName: "Start", outputColumnName: "End",
            transitions: 3, leapfrogSteps: 4, trainingSteps: 0).Fit(data);
        Assert.Equal(3, model.Transitions);
        Assert.Equal(4, model.LeapfrogSteps);
        Assert.Equal(SamplerDefaults.Chains, model.Chains);
        Assert.Equal(L2hmcEstimator.Defaults.HiddenUnits, model.Sampler.HiddenUnits);
        Assert.Equal(SamplerDefaults.StepSize, model.StepSize, 6);   // untrained: the initial ε
        var end = EstimatorHarness.ReadColumn(model.Transform(data), "End");
        Assert.Equal(2, end.Count);
        Assert.All(end, e => Assert.Equal(2, e.Length));
        Assert.All(EstimatorHarness.ReadColumn(model.Transform(data), "AcceptanceRate"), a => Assert.InRange(a[0], 0, 1));
    }

    private sealed class StartRow
    {
        [VectorType(2)]
        public float[] Start { get; set; } = [0, 0];
    }

    [Fact]
    public void L2hmcTrainingIncreasesJumpDistanceAndLogsProgress()
    {
        // A 2-d Gaussian with variances 25 and 0.25 rotated by π/4 (a milder SCG): training must increase the expected
        // squared jump distance of fresh exact samples over the untrained sampler.
        var ml = new MLContext(seed: 2);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.StartsWith(nameof(L2hmcEstimator), StringComparison.Ordinal)) lock (messages) messages.Add(e.RawMessage); };
        var energy = EnergyFunction.Gaussian([0, 0], new double[,] { { 12.625, -12.375 }, { -12.375, 12.625 } });
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(40, 2, seed: 5));
        var options = SmallOptions(energy, trainingSteps: 120);
        options.Chains = 40;
        options.LeapfrogSteps = 5;
        options.HiddenUnits = 10;
        options.LearningRate = 3e-3;
        options.LogInterval = 40;
        using var trained = ml.Samplers.L2hmc(options).Fit(data);
        options.TrainingSteps = 0;
        using var untrained = ml.Samplers.L2hmc(options).Fit(data);

        double Esjd(L2hmcModel m)
        {
            using var scope = torch.NewDisposeScope();
            using var gen = new torch.Generator(77, torch.CPU);
            var trace = m.Sampler.Sample(energy.SampleExact(400, gen), 2, gen);
            double s = 0;
            for (int c = 0; c < trace.Chains; c++)
            {
                for (int j = 0; j < 2; j++)
                    s += Math.Pow(trace[1, c, j] - trace[0, c, j], 2);
            }
            return s / trace.Chains;
        }
        double before = Esjd(untrained), after = Esjd(trained);
        Assert.True(after > 1.5 * before, $"ESJD before {before:G3}, after {after:G3}.");
        Assert.Equal(4, trained.TrainingHistory.Count);   // steps 0, 40, 80 and the last
        Assert.All(trained.TrainingHistory, p => Assert.InRange(p.Acceptance, 0, 1));
        Assert.Contains(messages, m => m.Contains("loss") && m.Contains("acceptance") && m.Contains("ε"));
        Assert.NotEqual(untrained.StepSize, trained.StepSize);
    }

    [Fact]
    public void L2hmcSampleReturnsRequestedRowsAsDataView()
    {
        var ml = new MLContext(seed: 3);
        var energy = HmcTestUtil.CorrelatedGaussian(3);
        using var model = ml.Samplers.L2hmc(SmallOptions(energy)).Fit(HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(10, 3, 1)));
        var view = model.Sample(37, burnIn: 2, thin: 2);
        Assert.Equal(37, view.GetRowCount());
        var rows = ml.Data.CreateEnumerable<SampleRow>(view, reuseRowObject: false).ToList();
        Assert.Equal(37, rows.Count);
        Assert.All(rows, r => Assert.Equal(3, r.Sample.Length));
        Assert.Equal(Enumerable.Range(0, 37).Select(i => i % 16), rows.Select(r => r.Chain));
        Assert.Equal(2, rows.Max(r => r.Step));
        // Deterministic for the same arguments, different for another seed.
        var again = ml.Data.CreateEnumerable<SampleRow>(model.Sample(37, burnIn: 2, thin: 2), false).ToList();
        Assert.Equal(rows.SelectMany(r => r.Sample), again.SelectMany(r => r.Sample));
        var other = ml.Data.CreateEnumerable<SampleRow>(model.Sample(37, burnIn: 2, thin: 2, seed: 99), false).ToList();
        Assert.NotEqual(rows.SelectMany(r => r.Sample), other.SelectMany(r => r.Sample));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Sample(0));
    }

    private sealed class SampleRow
    {
        [VectorType(3)]
        public float[] Sample { get; set; } = [];

        public int Chain { get; set; }

        public int Step { get; set; }
    }

    [Fact]
    public void L2hmcRejectsBadEnergies()
    {
        var ml = new MLContext(seed: 4);
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(8, 2, 2));
        var wrongShape = EnergyFunction.FromFunction("L2hmcTests.WrongShape", 2, x => x.square());
        var ex = Assert.Throws<InvalidOperationException>(() => ml.Samplers.L2hmc(SmallOptions(wrongShape)).Fit(data));
        Assert.Contains("one value per state", ex.Message);
        Assert.Contains("L2hmcTests.WrongShape", ex.Message);

        var nanGradient = EnergyFunction.FromFunction("L2hmcTests.NanGradient", 2, x => x.abs().sqrt().sum(1));
        var zeros = HmcTestUtil.States(ml, [[1, 1], [2, 2], [0, 0]]);
        var ex2 = Assert.Throws<InvalidOperationException>(() => ml.Samplers.L2hmc(SmallOptions(nanGradient)).Fit(zeros));
        Assert.Contains("non-finite gradient", ex2.Message);
        Assert.Contains("column 'Features', row 2", ex2.Message);

        // Fitted on good states, the model names the row of a bad initial state at mapping time.
        using var model = ml.Samplers.L2hmc(SmallOptions(nanGradient)).Fit(HmcTestUtil.States(ml, [[1, 1], [2, -1]]));
        var ex3 = Assert.Throws<InvalidOperationException>(() => EstimatorHarness.ReadColumn(model.Transform(zeros), "Sample"));
        Assert.Contains("row 2", ex3.Message);

        var wrongSize = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(8, 3, 2));
        var ex4 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.L2hmc(SmallOptions(HmcTestUtil.CorrelatedGaussian(2))).Fit(wrongSize));
        Assert.Contains("length 2", ex4.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(wrongSize));

        var nan = HmcTestUtil.States(ml, [[1, float.NaN]]);
        Assert.Throws<InvalidOperationException>(() => ml.Samplers.L2hmc(SmallOptions(HmcTestUtil.CorrelatedGaussian(2))).Fit(nan));
    }

    [Fact]
    public void L2hmcRejectsMissingColumnAndEmptyData()
    {
        var ml = new MLContext(seed: 8);
        var energy = HmcTestUtil.CorrelatedGaussian(2);
        var est = ml.Samplers.L2hmc(SmallOptions(energy));
        var other = ml.Data.LoadFromEnumerable(new[] { new OtherRow() });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => est.Fit(other));
        Assert.Contains("Could not find initial state column 'Features'", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => est.GetOutputSchema(Components.Core.Schema.SchemaShapes.FromSchema(other.Schema)));
        var empty = HmcTestUtil.States(ml, [], dimension: 2);
        Assert.Throws<InvalidOperationException>(() => est.Fit(empty));
    }

    private sealed class OtherRow
    {
        [VectorType(2)]
        public float[] Other { get; set; } = [0, 0];
    }

    [Fact]
    public void L2hmcAnnealingScheduleEndsAtTemperatureOne()
    {
        Assert.Equal(10, L2hmcTrainer.Temperature(10, 100, 0), 12);
        Assert.Equal(Math.Sqrt(10), L2hmcTrainer.Temperature(10, 100, 50), 12);
        Assert.Equal(1, L2hmcTrainer.Temperature(10, 100, 100));
        Assert.Equal(1, L2hmcTrainer.Temperature(1, 100, 0));
        Assert.Equal(1e-3 * 0.96 * 0.96, L2hmcTrainer.CurrentLearningRate(1e-3, 0.96, 1000, 2500), 15);
        var ml = new MLContext(seed: 9);
        var o = SmallOptions(HmcTestUtil.CorrelatedGaussian(2), trainingSteps: 6);
        o.InitialTemperature = 4;
        o.AnnealingSteps = 4;
        o.LogInterval = 1;
        var temps = new List<string>();
        ml.Log += (_, e) => { if (e.RawMessage.StartsWith("Step ", StringComparison.Ordinal)) temps.Add(e.RawMessage); };
        using var model = ml.Samplers.L2hmc(o).Fit(HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(8, 2, 3)));
        Assert.Contains("temperature 4", temps[0]);
        Assert.DoesNotContain("temperature", temps[^1]);
        Assert.Equal([4.0, 2.83, 2.0, 1.41, 1.0, 1.0], model.TrainingHistory.Select(p => Math.Round(p.Temperature, 2)));
        o.InitialTemperature = 0.5;
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.L2hmc(o));
    }

    [CudaFact]
    public void L2hmcTrainsAndMapsOnCuda()
    {
        var ml = new MLContext(seed: 10);
        var o = SmallOptions(HmcTestUtil.CorrelatedGaussian(2), trainingSteps: 5);
        o.Device = "cuda";
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(12, 2, 7));
        using var model = ml.Samplers.L2hmc(o).Fit(data);
        var outs = EstimatorHarness.ReadColumn(model.Transform(data), "Sample");
        Assert.Equal(12, outs.Count);
        Assert.All(outs.SelectMany(r => r), v => Assert.True(double.IsFinite(v)));
        Assert.Equal(16, model.SampleChains(3).Chains);
    }

    [Fact]
    public void L2hmcValidatesOptions()
    {
        var ml = new MLContext(seed: 5);
        var e = HmcTestUtil.CorrelatedGaussian(2);
        void Bad(Action<L2hmcEstimator.Options> change)
        {
            var o = SmallOptions(e);
            change(o);
            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.L2hmc(o));
        }
        Bad(o => o.Energy = null);
        Bad(o => o.Transitions = 0);
        Bad(o => o.LeapfrogSteps = 0);
        Bad(o => o.HiddenUnits = 0);
        Bad(o => o.HiddenLayerWidths = []);
        Bad(o => o.HiddenLayerWidths = [6]);
        Bad(o => o.HiddenLayerWidths = [6, 0, 4]);
        Bad(o => o.HiddenLayerWidths = Enumerable.Repeat(2, 65).ToArray());
        Bad(o => o.StepSize = -1);
        Bad(o => o.TrainingSteps = -1);
        Bad(o => o.Chains = 0);
        Bad(o => o.LearningRate = 0);
        Bad(o => o.LearningRateDecay = 1.5);
        Bad(o => o.Scale = double.NaN);
        Bad(o => o.BurnInWeight = -1);
        Bad(o => o.OutputColumnName = "AcceptanceRate");
        Bad(o => o.Device = "tpu");
    }

    [Fact]
    public void L2hmcFitHonoursCancellation()
    {
        var ml = new MLContext(seed: 6);
        using var cts = new CancellationTokenSource();
        cts.CancelAfter(TimeSpan.FromSeconds(60));   // safety net: the assertion below fails if only this fires
        var o = SmallOptions(HmcTestUtil.CorrelatedGaussian(2), trainingSteps: 1_000_000);
        o.CancellationToken = cts.Token;
        o.LogInterval = 1;
        int lastStep = 0;
        ml.Log += (_, e) =>
        {
            if (e.RawMessage.StartsWith("Step ", StringComparison.Ordinal))
            {
                lastStep = int.Parse(e.RawMessage[5..e.RawMessage.IndexOf('/')]);
                if (lastStep == 5)
                    cts.Cancel();
            }
        };
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(8, 2, 2));
        EstimatorHarness.AssertNoTensorLeak(() => Assert.ThrowsAny<OperationCanceledException>(() => ml.Samplers.L2hmc(o).Fit(data)));
        Assert.Equal(5, lastStep);
    }

    [Fact]
    public void L2hmcUserEnergyModelLoadsAfterRedefinition()
    {
        var ml = new MLContext(seed: 7);
        var energy = EnergyFunction.FromFunction("L2hmcTests.Quartic", 2, x => 0.25f * x.pow(4).sum(1) + 0.5f * x.square().sum(1));
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(6, 2, 4));
        using var model = ml.Samplers.L2hmc(SmallOptions(energy)).Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var ml2 = new MLContext().RegisterComponents();
        var loaded = (L2hmcModel)ml2.Model.Load(stream, out _);
        Assert.Same(energy, loaded.Energy);
        Assert.Equal(model.StepSize, loaded.StepSize);
        Assert.Equal(EstimatorHarness.ReadColumn(model.Transform(data), "Sample").SelectMany(r => r),
            EstimatorHarness.ReadColumn(loaded.Transform(data), "Sample").SelectMany(r => r));
        loaded.Dispose();
    }

    [Fact]
    public void L2hmcExplicitTwoLayerWidthsEqualHiddenUnits()
    {
        // [h, h] is the default architecture: the same seed must give the same networks and the same samples.
        var ml = new MLContext(seed: 8);
        var energy = HmcTestUtil.CorrelatedGaussian(2);
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(8, 2, 6));
        using var plain = ml.Samplers.L2hmc(SmallOptions(energy)).Fit(data);
        var o = SmallOptions(energy);
        o.HiddenLayerWidths = [6, 6];
        using var explicitWidths = ml.Samplers.L2hmc(o).Fit(data);
        Assert.Equal([6, 6], plain.Sampler.HiddenWidths);
        Assert.Equal(plain.StepSize, explicitWidths.StepSize);
        Assert.Equal(EstimatorHarness.ReadColumn(plain.Transform(data), "Sample").SelectMany(r => r),
            EstimatorHarness.ReadColumn(explicitWidths.Transform(data), "Sample").SelectMany(r => r));
    }

    [Fact]
    public void L2hmcThreeLayerNetworksTrainSaveAndLoad()
    {
        // The reference eval_toy.py architecture (embeddings 50, then 100, then 50), scaled down: 6-9-5.
        var ml = new MLContext(seed: 9);
        var energy = HmcTestUtil.CorrelatedGaussian(2);
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(8, 2, 7));
        var o = SmallOptions(energy);
        o.HiddenLayerWidths = [6, 9, 5];
        using var model = ml.Samplers.L2hmc(o).Fit(data);
        Assert.Equal([6, 9, 5], model.Sampler.HiddenWidths);
        Assert.Equal(6, model.Sampler.HiddenUnits);
        // Each network has the extra 9 → 5 layer, and its heads read 5 units.
        var shapes = model.Sampler.Dynamics.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        long[] Shape(string name) => shapes.TryGetValue(name, out var s) ? s : throw new KeyNotFoundException($"{name} not in [{string.Join(", ", shapes.Keys)}]");
        Assert.Equal([9L, 6L], Shape("vnet.hidden.weight"));
        Assert.Equal([5L, 9L], Shape("xnet.deeper.0.weight"));
        Assert.Equal([2L, 5L], Shape("xnet.headS.weight"));
        Assert.DoesNotContain(shapes.Keys, k => k.Contains("deeper.1", StringComparison.Ordinal));
        Assert.NotEqual(o.StepSize, model.StepSize, 6);   // trained

        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        using var loaded = (L2hmcModel)new MLContext().RegisterComponents().Model.Load(stream, out _);
        Assert.Equal([6, 9, 5], loaded.Sampler.HiddenWidths);
        Assert.Equal(model.StepSize, loaded.StepSize);
        Assert.Equal(EstimatorHarness.ReadColumn(model.Transform(data), "Sample").SelectMany(r => r),
            EstimatorHarness.ReadColumn(loaded.Transform(data), "Sample").SelectMany(r => r));
    }
}
