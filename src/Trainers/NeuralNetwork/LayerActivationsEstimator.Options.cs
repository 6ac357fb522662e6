using Components.Core.Runtime;

namespace Components.Trainers.NeuralNetwork;

public sealed partial class LayerActivationsEstimator
{
    /// <summary>Default values of every option.</summary>
    internal static class Defaults
    {
        public const string OutputColumnPrefix = "Layer";
        public const int BatchSize = 512;
    }

    /// <summary>
    /// Options of <see cref="LayerActivationsEstimator"/> (<c>ml.Transforms.LayerActivations</c>). Deterministic: the
    /// <see cref="ComponentOptions.Seed"/> and <see cref="ComponentOptions.CancellationToken"/> are not used (Fit copies
    /// the network); <see cref="ComponentOptions.Device"/> places the copy (null keeps the model's device).
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>
        /// The layers to expose, numbered from 1 (see <see cref="NeuralNetworkArchitecture.LayerSizes"/>; the last one is the
        /// output layer's raw output, i.e. the logits of a classifier), distinct and non-empty. Required.
        /// </summary>
        public int[] Layers = [];

        /// <summary>
        /// Output column of each entry of <see cref="Layers"/>, distinct; null names them <c>Layer1</c>, <c>Layer2</c>, … after
        /// the layer numbers. Default null.
        /// </summary>
        public string[]? OutputColumnNames;

        /// <summary>Input column (a Single vector of the network's input size); null uses the model's feature column. Default null.</summary>
        public string? InputColumnName;

        /// <summary>Rows per forward pass, positive. Default 512.</summary>
        public int BatchSize = Defaults.BatchSize;
    }
}
