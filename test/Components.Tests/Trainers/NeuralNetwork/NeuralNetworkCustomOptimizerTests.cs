using Components.Tests.Core.Training;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>Custom optimizers through <see cref="NeuralNetworkOptions.OptimizerFactory"/>, and gradient clipping, on the training engine.</summary>
public sealed class NeuralNetworkCustomOptimizerTests
{
    private sealed class LinearRow
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>Label = 2·x₀ − x₁ + 0.5·x₂ + 1 exactly.</summary>
    private static IDataView Linear(MLContext ml, int rows)
    {
        var rng = new Random(4);
        return ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(_ =>
        {
            float a = (float)(rng.NextDouble() * 2 - 1), b = (float)(rng.NextDouble() * 2 - 1), c = (float)(rng.NextDouble() * 2 - 1);
            return new LinearRow { Features = [a, b, c], Label = 2 * a - b + 0.5f * c + 1 };
        }).ToList());
    }

    [Fact]
    public void AHandWrittenOptimizerSubclassTrainsExactlyLikeTheBuiltInSgd()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 90, dim: 4, classes: 3);
        TrainingEngineHandWrittenSgd? handWritten = null;
        var custom = new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [16],
            NumberOfEpochs = 4,
            BatchSize = 16,
            Seed = 1,
            OptimizerFactory = parameters => handWritten = new TrainingEngineHandWrittenSgd(parameters, 0.05),
        };
        var builtIn = new NeuralNetworkMulticlassTrainer.Options { HiddenLayerWidths = [16], NumberOfEpochs = 4, BatchSize = 16, Seed = 1, Optimizer = NeuralNetworkOptimizerKind.Sgd, LearningRate = 0.05 };
        using var a = ml.MulticlassClassification.Trainers.NeuralNetwork(custom).Fit(data);
        using var b = ml.MulticlassClassification.Trainers.NeuralNetwork(builtIn).Fit(data);

        Assert.Equal(4 * 6, handWritten!.Steps); // 90 rows in batches of 16: 6 steps per epoch
        Assert.Equal(EstimatorHarness.ReadColumn(b.Transform(data), "Score"), EstimatorHarness.ReadColumn(a.Transform(data), "Score"));
        Assert.Equal(b.TrainingHistory, a.TrainingHistory);
        Assert.True(a.TrainingHistory[^1].TrainingLoss < a.TrainingHistory[0].TrainingLoss);
    }

    [Fact]
    public void LbfgsThroughTheFactoryFitsAnExactlyLinearTarget()
    {
        // L-BFGS needs step(closure): with a linear network and full batches it solves the least-squares problem, so the
        // training RMSE of an exactly linear target falls to (near) zero; Adam with the same epochs stays far from it.
        var ml = new MLContext(seed: 0);
        var data = Linear(ml, 64);
        NeuralNetworkRegressionTrainer.Options Options(Func<IEnumerable<TorchSharp.Modules.Parameter>, torch.optim.Optimizer>? factory) => new()
        {
            HiddenLayerWidths = [],
            BatchSize = 64,
            NumberOfEpochs = 3,
            Seed = 1,
            OptimizerFactory = factory,
        };
        using var lbfgs = ml.Regression.Trainers.NeuralNetwork(Options(p => torch.optim.LBFGS(p, lr: 1, max_iter: 50))).Fit(data);
        using var adam = ml.Regression.Trainers.NeuralNetwork(Options(null)).Fit(data);
        var m = ml.Regression.Evaluate(lbfgs.Transform(data));
        Assert.True(m.RootMeanSquaredError < 1e-3, $"L-BFGS RMSE {m.RootMeanSquaredError}");
        Assert.True(ml.Regression.Evaluate(adam.Transform(data)).RootMeanSquaredError > 100 * m.RootMeanSquaredError);
    }

    [Fact]
    public void MaxGradientNormClipsEveryStep()
    {
        // A hand-written SGD records the gradients it steps on. The logged pre-clipping norms exceed the bound 0.01 (the
        // cross-entropy gradient of a fresh network is of order 1), and the gradient the optimizer received was clipped to it.
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 64, dim: 4, classes: 3);
        var norms = new List<double>();
        TrainingEngineHandWrittenSgd? sgd = null;
        var options = new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [64],
            NumberOfEpochs = 2,
            BatchSize = 16,
            Seed = 1,
            MaxGradientNorm = 0.01,
            OptimizerFactory = p => sgd = new TrainingEngineHandWrittenSgd(p, 0.1),
        };
        var messages = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Source.StartsWith("NeuralNetworkMulticlassTrainer", StringComparison.Ordinal) && e.RawMessage.StartsWith("Epoch ", StringComparison.Ordinal))
                messages.Add(e.RawMessage);
        };
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(data);
        Assert.Equal(8, sgd!.Steps);
        Assert.All(messages, m => Assert.Contains("loss gradient norm", m));
        Assert.Contains(messages, m => double.Parse(m.Split("loss gradient norm ")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture) > 0.01);

        // The last step's gradients were clipped to the bound.
        double last = Math.Sqrt(sgd.LastGradients.SelectMany(g => g).Sum(v => v * v));
        Assert.True(last <= 0.01 * (1 + 1e-6), $"gradient norm after clipping {last}");

        var bad = new NeuralNetworkMulticlassTrainer.Options { MaxGradientNorm = -1 };
        Assert.Contains("MaxGradientNorm", Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.NeuralNetwork(bad)).Message);
    }
}
