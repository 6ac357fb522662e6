using Components.Tests.Trainers.NeuralNetwork;
using Components.Trainers.LearnedOptimizer;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>The learned optimizer plugs into the NeuralNetwork trainers through the optimizer factory.</summary>
public sealed class HierarchicalRnnOptimizerNeuralNetworkTests
{
    [Fact]
    public void TheNeuralNetworkTrainerTrainsWithTheLearnedOptimizerThroughTheFactory()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 90, dim: 4, classes: 3);
        using var meta = HierarchicalRnnMetaParameters.CreateReduced();
        HierarchicalRnnOptimizer? used = null;
        var options = new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [16],
            NumberOfEpochs = 6,
            BatchSize = 16,
            Seed = 1,
            OptimizerFactory = p => used = new HierarchicalRnnOptimizer(p, meta, new() { MinInitialLearningRate = 1e-2, MaxInitialLearningRate = 1e-2 }),
        };
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(data);
        Assert.Equal(6 * 6, used!.Steps); // 90 rows in batches of 16: 6 steps per epoch
        Assert.All(model.TrainingHistory, e => Assert.True(double.IsFinite(e.TrainingLoss)));
        Assert.True(model.TrainingHistory[^1].TrainingLoss < 0.8 * model.TrainingHistory[0].TrainingLoss,
            $"loss {model.TrainingHistory[0].TrainingLoss} → {model.TrainingHistory[^1].TrainingLoss}");
    }
}
