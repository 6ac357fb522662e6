using TorchSharp;
using TorchSharp.Modules;

namespace Components.Trainers.NeuralNetwork;

/// <summary>Builds the optimizer of a fit: the user's <see cref="NeuralNetworkOptions.OptimizerFactory"/> or a built-in one.</summary>
internal static class NeuralNetworkOptimizers
{
    /// <summary>Creates the optimizer over <paramref name="parameters"/> (already on the training device).</summary>
    /// <exception cref="InvalidOperationException">The factory returned null.</exception>
    public static torch.optim.Optimizer Create(NeuralNetworkOptions options, IReadOnlyList<Parameter> parameters)
    {
        if (options.OptimizerFactory is { } factory)
        {
            return factory(parameters)
                ?? throw new InvalidOperationException($"{nameof(NeuralNetworkOptions.OptimizerFactory)} returned null; it must return an optimizer over the parameters it is given.");
        }
        double lr = options.LearningRate, wd = options.WeightDecay;
        return options.Optimizer switch
        {
            NeuralNetworkOptimizerKind.Sgd => torch.optim.SGD(parameters, lr, weight_decay: wd),
            NeuralNetworkOptimizerKind.Momentum => torch.optim.SGD(parameters, lr, momentum: options.Momentum, weight_decay: wd),
            NeuralNetworkOptimizerKind.Adam => torch.optim.Adam(parameters, lr, weight_decay: wd),
            NeuralNetworkOptimizerKind.RmsProp => torch.optim.RMSProp(parameters, lr, weight_decay: wd),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "Unknown optimizer."),
        };
    }
}
