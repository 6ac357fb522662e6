using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using Components.Tests.Trainers.NeuralNetwork;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Tests.Kernels.SignalPropagation;

public sealed class SignalPropagationTrainerInitializationTests
{
    [Theory]
    [InlineData(NeuralNetworkActivation.Tanh, 0.05)]
    [InlineData(NeuralNetworkActivation.Relu, 0.0)]
    [InlineData(NeuralNetworkActivation.Linear, 0.1)]
    public void CriticalInitializationPutsTheTrainerOnTheCriticalLine(NeuralNetworkActivation activation, double sb)
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 60, dim: 5, classes: 3);
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [16, 16, 16],
            Activation = activation,
            WeightVariance = 0.3,
            BiasVariance = sb,
            UseCriticalInitialization = true,
            NumberOfEpochs = 1,
            Seed = 1,
        }).Fit(data);
        var arch = model.Model.Architecture;
        Assert.Equal(sb, arch.BiasVariance);
        var phi = NeuralNetworkFitting.SignalPropagationNonlinearity(activation);
        Assert.Equal(1.0, MeanField.Chi1(phi, arch.WeightVariance, sb), 8);
        Assert.Equal(CriticalInitialization.Choose(phi, 3, sb).WeightVariance, arch.WeightVariance);
    }

    [Fact]
    public void WithoutTheOptionTheWeightVarianceIsKept()
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 30, dim: 4, classes: 2);
        using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [8],
            Activation = NeuralNetworkActivation.Tanh,
            WeightVariance = 0.3,
            NumberOfEpochs = 1,
            Seed = 1,
        }).Fit(data);
        Assert.Equal(0.3, model.Model.Architecture.WeightVariance);
    }

    [Fact]
    public void AnUnknownActivationIsAClearError()
    {
        var ml = new MLContext(seed: 0);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            Activation = (NeuralNetworkActivation)42,
            UseCriticalInitialization = true,
        }));
        Assert.Contains("Activation", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => NeuralNetworkFitting.SignalPropagationNonlinearity((NeuralNetworkActivation)42));
    }
}
