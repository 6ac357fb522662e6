using Components.Core.Runtime;

namespace Components.Transforms.Sensitivity;

public sealed partial class InputSensitivityEstimator
{
    /// <summary>Default values of every option.</summary>
    internal static class Defaults
    {
        public const string OutputColumnName = "JacobianNorm";
        public const int BatchSize = 256;
    }

    /// <summary>
    /// Options of <see cref="InputSensitivityEstimator"/> (<c>ml.Transforms.InputSensitivity</c>). Deterministic (exact
    /// Jacobians): <see cref="ComponentOptions.Seed"/> and <see cref="ComponentOptions.CancellationToken"/> are not used;
    /// <see cref="ComponentOptions.Device"/> places the transformer's copy of the network (null keeps the model's device).
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>Output column: ‖∂softmax(f(x))/∂x‖_F per row (Single). Default "JacobianNorm".</summary>
        public string OutputColumnName = Defaults.OutputColumnName;

        /// <summary>Optional second output column: ‖∂f(x)/∂x‖_F of the logits (Single); null adds none. Default null.</summary>
        public string? LogitsOutputColumnName;

        /// <summary>Input column (a Single vector of the network's input size); null uses the model's feature column. Default null.</summary>
        public string? InputColumnName;

        /// <summary>Rows per batch, positive (each batch costs one forward and one backward pass per block of classes). Default 256.</summary>
        public int BatchSize = Defaults.BatchSize;
    }
}
