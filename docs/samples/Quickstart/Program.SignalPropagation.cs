using System.Globalization;
using Components.Core.Data;
using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Quickstart;

internal static partial class Program
{
    /// <summary>
    /// Signal propagation (Schoenholz et al., 2017/2018): the critical initialisation of a deep tanh MLP, which trains,
    /// against an initialisation deep in the ordered phase, which does not; and the Gaussian theory of the cross-layer
    /// covariance of ‖z^l‖²/N against a simulated wide ReLU network.
    /// </summary>
    private static bool SignalPropagation(MLContext ml, FashionMnistData data)
    {
        const int depth = 20, width = 64, rows = 2000;
        var ci = CultureInfo.InvariantCulture;
        var init = CriticalInitialization.Choose(NngpNonlinearity.Tanh, depth);
        Console.WriteLine();
        Console.WriteLine(string.Create(ci,
            $"== Signal propagation: {depth}-layer tanh MLP (width {width}), critical σ_w² = {init.WeightVariance:F3} at σ_b² = {init.BiasVariance} (trainable band [{init.MinTrainableWeightVariance:F2}, {init.MaxTrainableWeightVariance:F2}])"));
        var train = ml.Data.TakeRows(data.Train, rows);
        var test = ml.Data.TakeRows(data.Test, 1000);
        double Accuracy(bool critical, double sw)
        {
            using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
            {
                HiddenLayerWidths = Enumerable.Repeat(width, depth).ToArray(),
                Activation = NeuralNetworkActivation.Tanh,
                WeightVariance = sw,
                BiasVariance = init.BiasVariance,
                UseCriticalInitialization = critical,
                Optimizer = NeuralNetworkOptimizerKind.Sgd,
                LearningRate = 0.01,
                NumberOfEpochs = 2,
                Seed = 1,
            }).Fit(train);
            return ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        }
        double atCritical = Accuracy(true, 1.0), ordered = Accuracy(false, 0.25);
        var fp = MeanField.Analyze(NngpNonlinearity.Tanh, 0.25, init.BiasVariance);
        Console.WriteLine(string.Create(ci,
            $"   test accuracy after 2 SGD epochs on {rows:N0} images: critical init {atCritical:F3}; σ_w² = 0.25 (ordered, ξ_c = {fp.CorrelationDepthScale:F2} layers) {ordered:F3}"));

        var sim = new RandomNetworkSimulator(new RandomNetworkSimulator.Options
        {
            Nonlinearity = NngpNonlinearity.Relu, Width = 500, Depth = 10, WeightVariance = 1.5, BiasVariance = 0.5,
            Samples = 3000, InputVariance = 2.0, Seed = 1,
        }).Run();
        var theory = LatticeGaussianTheory.NormCovariance(NngpNonlinearity.Relu, 1.5, 0.5, 2.0, 10).Covariance;
        var (cov, err) = sim.NormCovariance();
        Console.WriteLine(string.Create(ci,
            $"   ReLU width 500, 3,000 random networks: N·Cov(‖z⁵‖²/N, ‖z⁶‖²/N) theory {theory[5, 6]:F3}, simulated {500 * cov[5, 6]:F3} ± {500 * err[5, 6]:F3}"));
        return atCritical > ordered + 0.2;
    }
}
