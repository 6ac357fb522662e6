using Components.Core.Runtime;
using Components.Kernels.Nngp;

namespace Components.Kernels.SignalPropagation;

/// <summary>How <see cref="RandomNetworkSimulator"/> draws a layer.</summary>
public enum RandomNetworkSimulationMethod
{
    /// <summary>
    /// Draw layer l + 1 from its exact conditional law given layer l: for fresh W^l and b^l, the pre-activations of the
    /// two inputs at each neuron are independent across neurons and jointly Gaussian with covariance
    /// σ_w²φ(z_a)·φ(z_b)/N + σ_b². Exact in distribution, O(N) per layer and sample. Default.
    /// </summary>
    ConditionalGaussian,

    /// <summary>Draw every weight matrix W^l (N × N, entries N(0, σ_w²/N)) and bias explicitly: O(N²) per layer and sample.</summary>
    ExplicitWeights,
}

public sealed partial class RandomNetworkSimulator
{
    /// <summary>Default values of every option.</summary>
    internal static class Defaults
    {
        public const int Width = 1000;
        public const int Depth = 20;
        public const double WeightVariance = 1.5;
        public const double BiasVariance = 0.05;
        public const int Samples = 1000;
        public const int BatchSize = 0;
        public const double InputVariance = 1.0;
        public const double InputCorrelation = 0.5;
        public const RandomNetworkSimulationMethod Method = RandomNetworkSimulationMethod.ConditionalGaussian;
        public const int Seed = 0;
    }

    /// <summary>
    /// Options of <see cref="RandomNetworkSimulator"/>: the random network (φ, width N, depth L, σ_w², σ_b²), the two
    /// inputs (by their layer-0 variance and correlation) and the Monte-Carlo budget. <see cref="ComponentOptions.Seed"/>
    /// seeds the simulation stream (null: the MLContext's seed when an environment is passed, else 0);
    /// <see cref="ComponentOptions.Device"/> chooses the device; the cancellation token is checked between batches.
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>
        /// φ after every hidden layer: any nonlinearity of the NNGP kernel (<see cref="NngpNonlinearity.Relu"/>,
        /// <see cref="NngpNonlinearity.Tanh"/>, <see cref="NngpNonlinearity.Erf"/>, linear = <c>NngpNonlinearity.ABRelu(1, 1)</c>,
        /// …); not null. Default <see cref="NngpNonlinearity.Tanh"/>.
        /// </summary>
        public NngpNonlinearity Nonlinearity = NngpNonlinearity.Tanh;

        /// <summary>Width N of every hidden layer, positive. Default 1000.</summary>
        public int Width = Defaults.Width;

        /// <summary>Depth L: nonlinear layers after layer 0 (statistics are reported for layers 0..L), positive. Default 20.</summary>
        public int Depth = Defaults.Depth;

        /// <summary>σ_w², positive and finite: W_ij ~ N(0, σ_w²/N). Default 1.5.</summary>
        public double WeightVariance = Defaults.WeightVariance;

        /// <summary>σ_b², non-negative and finite: b_i ~ N(0, σ_b²). Default 0.05.</summary>
        public double BiasVariance = Defaults.BiasVariance;

        /// <summary>Independent networks drawn (Monte-Carlo samples), at least 2. Default 1000.</summary>
        public int Samples = Defaults.Samples;

        /// <summary>Networks simulated together in one batch, non-negative; 0 picks one from the width (about 4 M values per tensor). Default 0.</summary>
        public int BatchSize = Defaults.BatchSize;

        /// <summary>
        /// q⁰, the variance of the layer-0 pre-activations of both inputs (σ_w²‖x‖²/d + σ_b² for an input x), positive and
        /// finite. Default 1.
        /// </summary>
        public double InputVariance = Defaults.InputVariance;

        /// <summary>c⁰, the correlation of the two inputs' layer-0 pre-activations, in [−1, 1]. Default 0.5.</summary>
        public double InputCorrelation = Defaults.InputCorrelation;

        /// <summary>How a layer is drawn. Default <see cref="RandomNetworkSimulationMethod.ConditionalGaussian"/>.</summary>
        public RandomNetworkSimulationMethod Method = Defaults.Method;

        internal Options Copy() => (Options)MemberwiseClone();
    }
}
