namespace Components.Trainers.NeuralNetwork;

/// <summary>The family of network a <see cref="NeuralNetworkArchitecture"/> describes.</summary>
public enum NeuralNetworkArchitectureKind
{
    /// <summary>
    /// Multilayer perceptron: fully connected hidden layers of the widths in
    /// <see cref="NeuralNetworkOptions.HiddenLayerWidths"/>, each followed by the activation, then a linear output layer.
    /// </summary>
    Mlp,

    /// <summary>
    /// Small convolutional network for single-channel images (28×28 by default): for each entry of
    /// <see cref="NeuralNetworkOptions.ConvolutionChannels"/> a 5×5 convolution (padding 2), the activation and a 2×2
    /// max-pool; then the fully connected hidden layers of <see cref="NeuralNetworkOptions.HiddenLayerWidths"/> and a
    /// linear output layer.
    /// </summary>
    Cnn,
}
