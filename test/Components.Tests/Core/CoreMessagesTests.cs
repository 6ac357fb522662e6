using Components.Core;
using Components.Core.Runtime;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Components.Tests.Core;

/// <summary>What a user reads: log sources, device errors, PredictionEngine error messages.</summary>
public sealed class CoreMessagesTests
{
    private sealed class Row
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }

    private static List<LoggingEventArgs> Capture(MLContext ml)
    {
        var events = new List<LoggingEventArgs>();
        ml.Log += (_, e) => { lock (events) events.Add(e); };
        return events;
    }

    [Fact]
    public void ComponentContextLogsWithTheComponentNameAsSource()
    {
        var ml = new MLContext(seed: 1);
        var events = Capture(ml);
        using (var ctx = ComponentContext.Create(ml, "SomeComponent", 1, null, CancellationToken.None))
            ctx.Info("hello");
        var mine = Assert.Single(events, e => e.RawMessage == "hello");
        Assert.Equal("SomeComponent", mine.Source);
        Assert.Equal(ChannelMessageKind.Info, mine.Kind);
    }

    [Fact]
    public void NeuralNetworkTrainerLogSourceNamesTheTrainerOnce()
    {
        var ml = new MLContext(seed: 1);
        var events = Capture(ml);
        var rows = Enumerable.Range(0, 30).Select(i => new Row { Features = [i % 3, (i * 7) % 5, 1], Label = (i % 3).ToString() }).ToList();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [4], numberOfEpochs: 2, seed: 1).Fit(data);
        var epochs = events.Where(e => e.RawMessage.StartsWith("Epoch ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(epochs);
        Assert.All(epochs, e => Assert.Equal("NeuralNetworkMulticlassTrainer", e.Source));
        Assert.DoesNotContain(events, e => e.Message.Contains("NeuralNetworkMulticlassTrainer; NeuralNetworkMulticlassTrainer", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("CPU")]
    [InlineData("cpu:0")]
    [InlineData(" cpu:1 ")]
    public void CpuDeviceStringsTorchAcceptsResolveToTheCpu(string device)
    {
        Assert.Equal(DeviceType.CPU, DeviceResolver.Parse(device).Type);
        Assert.Equal(DeviceType.CPU, DeviceResolver.Resolve(device, null, false, cudaAvailable: false).type);
        // torch itself accepts the same strings (the check above is not stricter than torch).
        Assert.Equal(DeviceType.CPU, torch.device(device.Trim().ToLowerInvariant()).type);
    }

    [Theory]
    [InlineData("cuda", 0)]
    [InlineData("cuda:2", 2)]
    [InlineData("GPU:1", 1)]
    public void CudaDeviceStringsParseWithTheirIndex(string device, int index)
        => Assert.Equal((DeviceType.CUDA, index), DeviceResolver.Parse(device));

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    [InlineData("cpu:")]
    [InlineData("cuda:1:2")]
    public void UnknownDeviceNamesTheDeviceOption(string device)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => DeviceResolver.Parse(device));
        Assert.Equal("Device", ex.ParamName);
        Assert.Contains($"'{device}'", ex.Message);
        Assert.DoesNotContain("'option'", ex.Message);
    }

    [Fact]
    public void ABadDeviceOptionOfATrainerNamesDevice()
    {
        var ml = new MLContext(seed: 1);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassOptions { Device = "gpu0" }));
        Assert.Contains("(Parameter 'Device')", ex.Message);
    }

    [Fact]
    public void PredictionEngineErrorsNameTheRowOfTheCallNotACountOfCalls()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 30).Select(i => new Row { Features = [i % 3 == 0 ? 4 : 0, i % 3 == 1 ? 4 : 0, i % 3 == 2 ? 4 : 0], Label = (i % 3).ToString() }).ToList();
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(new CentroidTestTrainer(ml));
        var model = pipeline.Fit(ml.Data.LoadFromEnumerable(rows));
        var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(model);
        engine.Predict(new Row { Features = [4, 0, 0] });
        engine.Predict(new Row { Features = [0, 4, 0] });
        var ex = Assert.Throws<InvalidOperationException>(() => engine.Predict(new Row { Features = [0, float.NaN, 0] }));
        Assert.Contains("Column 'Features', the row: slot 1 is NaN", ex.Message);
        Assert.DoesNotContain("row 2", ex.Message);
        // The engine still works afterwards, and the batch path keeps naming the row's position in its input.
        Assert.Equal(3, engine.Predict(new Row { Features = [0, 0, 4] }).Score.Length);
        var bad = rows.Take(3).Append(new Row { Features = [0, float.PositiveInfinity, 0], Label = "1" }).ToList();
        var ex2 = Assert.Throws<InvalidOperationException>(() =>
            Harness.EstimatorHarness.ReadColumn(model.Transform(ml.Data.LoadFromEnumerable(bad)), "Score"));
        Assert.Contains("Column 'Features', row 3: slot 1 is ∞", ex2.Message.Replace("Infinity", "∞"));
    }
}
