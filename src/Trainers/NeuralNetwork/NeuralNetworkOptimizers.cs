using Components.Trainers.LearnedOptimizer;
using TorchSharp;
using TorchSharp.Modules;

namespace Components.Trainers.NeuralNetwork;

/// <summary>Builds the optimizer of a fit: the user's <see cref="NeuralNetworkOptions.OptimizerFactory"/> or a built-in one.</summary>
internal static class NeuralNetworkOptimizers
{
    /// <summary>
    /// The learned optimizer's meta-parameters when the options choose it (from <see cref="NeuralNetworkOptions.LearnedOptimizerWeightsPath"/>,
    /// or the shipped weights), else null. Called at the start of <c>Fit</c>, before any data is read; the caller owns the result.
    /// </summary>
    /// <exception cref="FileNotFoundException">The weights file does not exist.</exception>
    /// <exception cref="FormatException">The weights file is corrupt, truncated or not a weights file.</exception>
    /// <exception cref="InvalidOperationException">The weights file holds weights of another architecture.</exception>
    public static HierarchicalRnnMetaParameters? LoadLearnedWeights(NeuralNetworkOptions options)
    {
        if (options.OptimizerFactory is not null || options.Optimizer != NeuralNetworkOptimizerKind.LearnedHierarchicalRnn)
            return null;
        return options.LearnedOptimizerWeightsPath is { } path
            ? HierarchicalRnnMetaParameters.Load(path)
            : HierarchicalRnnMetaParameters.LoadShipped();
    }

    /// <summary>How the log names the optimizer of these options.</summary>
    public static string Describe(NeuralNetworkOptions options) => options switch
    {
        { OptimizerFactory: not null } => "custom optimizer",
        { Optimizer: NeuralNetworkOptimizerKind.LearnedHierarchicalRnn, LearnedOptimizerWeightsPath: { } path } => $"learned optimizer (weights '{path}')",
        { Optimizer: NeuralNetworkOptimizerKind.LearnedHierarchicalRnn } => "learned optimizer (shipped weights)",
        _ => options.Optimizer.ToString(),
    };

    /// <summary>
    /// Creates the optimizer over <paramref name="parameters"/> (already on the training device). The learned optimizer
    /// steps with <paramref name="learnedWeights"/> (from <see cref="LoadLearnedWeights"/>; not owned) and draws its
    /// initial learning rates from the stream <c>learned-optimizer.initial-learning-rate</c> of <paramref name="seed"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The factory returned null.</exception>
    public static torch.optim.Optimizer Create(NeuralNetworkOptions options, IReadOnlyList<Parameter> parameters, HierarchicalRnnMetaParameters? learnedWeights, int seed)
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
            NeuralNetworkOptimizerKind.LearnedHierarchicalRnn => new HierarchicalRnnOptimizer(parameters,
                learnedWeights ?? throw new InvalidOperationException("The learned optimizer's weights were not loaded."),
                new HierarchicalRnnOptimizer.Options
                {
                    MinInitialLearningRate = options.LearnedOptimizerMinInitialLearningRate,
                    MaxInitialLearningRate = options.LearnedOptimizerMaxInitialLearningRate,
                    MaxLearningRate = options.LearnedOptimizerMaxLearningRate,
                    Seed = seed,
                }),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "Unknown optimizer."),
        };
    }
}
