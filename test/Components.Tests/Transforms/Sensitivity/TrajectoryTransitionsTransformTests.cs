using Components.Tests.Harness;
using Components.Tests.Trainers.NeuralNetwork;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Sensitivity;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.Sensitivity;

/// <summary><c>ml.Transforms.TrajectoryTransitions</c>: harness, agreement with the tensor API row by row, bad input.</summary>
public sealed class TrajectoryTransitionsTransformTests
{
    private sealed class AnchorRow
    {
        [VectorType(15)]
        public float[] Anchors { get; set; } = [];
    }

    private static (MLContext Ml, IDataView Anchors, NeuralNetworkMulticlassModel Model) Setup(NeuralNetworkActivation activation = NeuralNetworkActivation.Relu)
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 30, dim: 5, classes: 3);
        var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [6, 5],
            Activation = activation,
            BiasVariance = 0.1,
            NumberOfEpochs = 2,
            Seed = 1,
        }).Fit(data);
        var rng = new Random(4);
        var rows = Enumerable.Range(0, 6).Select(_ => new AnchorRow { Anchors = Enumerable.Range(0, 15).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray() }).ToArray();
        return (ml, ml.Data.LoadFromEnumerable(rows), model);
    }

    [Fact]
    public void TrajectoryTransitionsPassesTheHarnessAndAgreesWithTheTensorApi()
    {
        var (ml, anchors, model) = Setup();
        using (model)
        {
            var invalid = ml.Data.LoadFromEnumerable(new[] { new { Anchors = 2f } });
            var options = new TrajectoryTransitionsEstimator.Options { InputColumnName = "Anchors", Points = 64, BatchSize = 4 };
            using var transformer = EstimatorHarness.Run(ml, ml.Transforms.TrajectoryTransitions(model, options), anchors, invalidData: invalid);
            var counts = EstimatorHarness.ReadColumn(transformer.Transform(anchors), "Transitions");
            var rows = ml.Data.CreateEnumerable<AnchorRow>(anchors, reuseRowObject: false).ToArray();
            using var scope = NewDisposeScope();
            for (int i = 0; i < rows.Length; i++)
            {
                long expected = TrajectoryTransitions.CountOnClosedTrajectory(model.Module, tensor(rows[i].Anchors, [3, 5]), 64);
                Assert.Equal(expected, counts[i][0]);
            }
            Assert.Contains(counts, c => c[0] > 0);
        }
    }

    [Fact]
    public void BadInputsFailClearly()
    {
        var (ml, anchors, model) = Setup(NeuralNetworkActivation.Tanh);
        using (model)
        {
            Assert.Contains("ReLU", Assert.Throws<ArgumentException>(() => ml.Transforms.TrajectoryTransitions(model, "Anchors")).Message);
        }
        var (ml2, anchors2, relu) = Setup();
        using (relu)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => ml2.Transforms.TrajectoryTransitions(relu, new TrajectoryTransitionsEstimator.Options { InputColumnName = "Anchors", AnchorCount = 1 }));
            // 15 values are 3 anchors of 5: asking for 2 anchors is a size mismatch naming the column.
            var ex = Assert.ThrowsAny<ArgumentOutOfRangeException>(() => ml2.Transforms.TrajectoryTransitions(relu, new TrajectoryTransitionsEstimator.Options { InputColumnName = "Anchors", AnchorCount = 2 }).Fit(anchors2));
            Assert.Contains("Anchors", ex.Message);
        }
    }
}
