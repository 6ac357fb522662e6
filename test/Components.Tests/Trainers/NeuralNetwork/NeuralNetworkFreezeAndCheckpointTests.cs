using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>The checkpoint callback (every step's network) and freeze training (<see cref="NeuralNetworkOptions.FreezeSchedule"/>).</summary>
public sealed class NeuralNetworkFreezeAndCheckpointTests
{
    // 96 rows in batches of 16: 6 steps per epoch, 4 epochs, 24 steps.
    private const int Rows = 96, StepsPerEpoch = 6, Epochs = 4;

    private static NeuralNetworkMulticlassTrainer.Options Options(int[] hidden) => new()
    {
        HiddenLayerWidths = hidden,
        NumberOfEpochs = Epochs,
        BatchSize = 16,
        LearningRate = 1e-2,
        Seed = 3,
    };

    /// <summary>Copies of every layer's weight matrix at every checkpoint (index = steps taken).</summary>
    private static List<float[][]> RecordWeights(NeuralNetworkMulticlassTrainer.Options o, List<NeuralNetworkCheckpoint>? seen = null)
    {
        var weights = new List<float[][]>();
        o.CheckpointCallback = c =>
        {
            seen?.Add(c);
            Assert.Equal(weights.Count, c.Step);
            weights.Add(c.Module.parameters().Where(p => p.dim() == 2).Select(p => p.data<float>().ToArray()).ToArray());
        };
        return weights;
    }

    [Fact]
    public void TheCallbackSeesTheNetworkBeforeTrainingAndAfterEveryStepAndTheLastOneIsTheModel()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: Rows, dim: 4, classes: 3);
        var o = Options([8]);
        var seen = new List<NeuralNetworkCheckpoint>();
        var epochs = new List<(int Epoch, bool End, double Done)>();
        var weights = RecordWeights(o, seen);
        var record = o.CheckpointCallback!;
        o.CheckpointCallback = c =>
        {
            epochs.Add((c.Epoch, c.IsEpochEnd, c.EpochsDone));
            record(c);
        };
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(o).Fit(data);

        Assert.Equal(1 + Epochs * StepsPerEpoch, weights.Count);
        Assert.All(seen, c => Assert.Equal(StepsPerEpoch, c.StepsPerEpoch));
        Assert.Equal((0, false, 0.0), epochs[0]);
        Assert.Equal((1, false, 1.0 / 6), epochs[1]);
        Assert.Equal((1, true, 1.0), epochs[6]);
        Assert.Equal((2, false, 7.0 / 6), epochs[7]);
        Assert.Equal([6, 12, 18, 24], epochs.Select((e, i) => (e, i)).Where(t => t.e.End).Select(t => t.i));
        // The last checkpoint holds exactly the returned model's weights (no early stopping); every step moved them.
        var final = model.Module.parameters().Where(p => p.dim() == 2).Select(p => p.data<float>().ToArray()).ToArray();
        Assert.Equal(final, weights[^1]);
        for (int s = 1; s < weights.Count; s++)
            Assert.NotEqual(weights[s - 1][0], weights[s][0]);
    }

    [Fact]
    public void FrozenLayersStopAtTheirStepBottomUpWhileTheLayersAboveKeepTraining()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: Rows, dim: 4, classes: 3);
        var o = Options([8, 8]);
        o.FreezeSchedule = [0.25, 0.5]; // layer 1 after 6 of 24 steps, layer 2 after 12
        var gradients = new List<(long Step, bool Layer1, bool Layer2, bool Output)>();
        var weights = RecordWeights(o);
        var record = o.CheckpointCallback!;
        o.CheckpointCallback = c =>
        {
            record(c);
            var w = c.Module.parameters().Where(p => p.dim() == 2).ToArray();
            gradients.Add((c.Step, w[0].grad is not null, w[1].grad is not null, w[2].grad is not null));
        };
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(o).Fit(data);

        for (int s = 1; s <= 24; s++)
        {
            // Layer 1 moves in steps 1..6 and never after (Adam's momentum included); layer 2 in steps 1..12; the output always.
            Assert.Equal(s <= 6, !weights[s][0].SequenceEqual(weights[s - 1][0]));
            Assert.Equal(s <= 12, !weights[s][1].SequenceEqual(weights[s - 1][1]));
            Assert.False(weights[s][2].SequenceEqual(weights[s - 1][2]));
        }
        // A frozen layer gets no gradient at all: the backward pass stops above it.
        Assert.Equal((6L, true, true, true), gradients[6]);
        Assert.Equal((7L, false, true, true), gradients[7]);
        Assert.Equal((13L, false, false, true), gradients[13]);
        var final = model.Module.parameters().Where(p => p.dim() == 2).ToArray();
        Assert.Equal(weights[6][0], final[0].data<float>().ToArray());
        Assert.All(model.Module.parameters(), p => Assert.True(p.requires_grad)); // trainable again after the fit
    }

    [Fact]
    public void AFractionOfZeroKeepsTheLayerAtItsInitialWeightsAndFreezingChangesNothingBeforeItsStep()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: Rows, dim: 4, classes: 3);
        var atZero = Options([8]);
        atZero.FreezeSchedule = [0];
        var frozen = RecordWeights(atZero);
        using (ml.MulticlassClassification.Trainers.NeuralNetwork(atZero).Fit(data))
            Assert.All(frozen, w => Assert.Equal(frozen[0][0], w[0]));

        // Until its freeze step a schedule is invisible: the same seed trains bit for bit like a run without one.
        var late = Options([8]);
        late.FreezeSchedule = [0.5];
        var plain = Options([8]);
        var a = RecordWeights(late);
        var b = RecordWeights(plain);
        using (ml.MulticlassClassification.Trainers.NeuralNetwork(late).Fit(data))
        using (ml.MulticlassClassification.Trainers.NeuralNetwork(plain).Fit(data))
        {
            for (int s = 0; s <= 12; s++)
                Assert.Equal(b[s], a[s]);
            Assert.NotEqual(b[24][0], a[24][0]);
        }
    }

    [Theory]
    [InlineData(new[] { 1.5 }, "must be in [0, 1], got 1.5")]
    [InlineData(new[] { -0.1 }, "must be in [0, 1], got -0.1")]
    [InlineData(new[] { double.NaN }, "must be in [0, 1], got NaN")]
    [InlineData(new[] { 0.5, 0.2 }, "bottom-up")]
    [InlineData(new[] { 0.1, 0.2, 0.3 }, "3 fractions for 2 hidden layers")]
    public void BadSchedulesAreRejectedNamingTheOption(double[] schedule, string message)
    {
        var o = Options([8, 8]);
        o.FreezeSchedule = schedule;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(0).MulticlassClassification.Trainers.NeuralNetwork(o));
        Assert.Contains("FreezeSchedule", ex.Message);
        Assert.Contains(message, ex.Message);
        o.FreezeSchedule = null!;
        Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(0).MulticlassClassification.Trainers.NeuralNetwork(o));
    }

    [Fact]
    public void AnExceptionInTheCallbackEndsTheFit()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: Rows, dim: 4, classes: 3);
        var o = Options([8]);
        o.CheckpointCallback = c =>
        {
            if (c.Step == 3)
                throw new InvalidOperationException("stop here");
        };
        var ex = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.NeuralNetwork(o).Fit(data));
        Assert.Equal("stop here", ex.Message);
    }
}
