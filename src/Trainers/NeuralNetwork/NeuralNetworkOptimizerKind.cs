namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// The built-in optimizers of the neural-network trainers. Any other <c>torch.optim.Optimizer</c> plugs in through
/// <see cref="NeuralNetworkOptions.OptimizerFactory"/>.
/// </summary>
public enum NeuralNetworkOptimizerKind
{
    /// <summary>Plain stochastic gradient descent: θ ← θ − η·g.</summary>
    Sgd,

    /// <summary>SGD with heavy-ball momentum <see cref="NeuralNetworkOptions.Momentum"/>: v ← μ·v + g, θ ← θ − η·v.</summary>
    Momentum,

    /// <summary>Adam (Kingma and Ba, 2015) with β₁ = 0.9, β₂ = 0.999, ε = 1e-8.</summary>
    Adam,

    /// <summary>RMSProp with smoothing α = 0.99, ε = 1e-8 (and momentum 0).</summary>
    RmsProp,

    /// <summary>
    /// The learned hierarchical RNN optimizer of Wichrowska et al. (2017),
    /// <see cref="Components.Trainers.LearnedOptimizer.HierarchicalRnnOptimizer"/>: meta-learned weights (the shipped
    /// ones, or <see cref="NeuralNetworkOptions.LearnedOptimizerWeightsPath"/>) choose a direction and a per-parameter
    /// learning rate that starts in [<see cref="NeuralNetworkOptions.LearnedOptimizerMinInitialLearningRate"/>,
    /// <see cref="NeuralNetworkOptions.LearnedOptimizerMaxInitialLearningRate"/>] and then adapts.
    /// <see cref="NeuralNetworkOptions.LearningRate"/> and <see cref="NeuralNetworkOptions.Momentum"/> are not used;
    /// <see cref="NeuralNetworkOptions.WeightDecay"/> must be 0.
    /// </summary>
    LearnedHierarchicalRnn,
}
