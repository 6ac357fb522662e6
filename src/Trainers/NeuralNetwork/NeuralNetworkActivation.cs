namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// The nonlinearity φ applied after every hidden layer of a <see cref="NeuralNetworkModule"/> (never after the output
/// layer). The names follow the NNGP paper (Lee et al., 2018), whose kernels exist in closed form for ReLU and erf.
/// </summary>
public enum NeuralNetworkActivation
{
    /// <summary>φ(x) = max(0, x).</summary>
    Relu,

    /// <summary>φ(x) = tanh(x).</summary>
    Tanh,

    /// <summary>φ(x) = erf(x), the error function (a smooth sigmoid with a closed-form NNGP kernel).</summary>
    Erf,

    /// <summary>φ(x) = x: a deep linear network.</summary>
    Linear,
}
