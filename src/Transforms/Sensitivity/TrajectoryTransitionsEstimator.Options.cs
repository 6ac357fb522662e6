using Components.Core.Runtime;

namespace Components.Transforms.Sensitivity;

public sealed partial class TrajectoryTransitionsEstimator
{
    /// <summary>Default values of every option.</summary>
    internal static class Defaults
    {
        public const string OutputColumnName = "Transitions";
        public const int AnchorCount = 3;
        public const int Points = 256;
        public const int BatchSize = 16;
    }

    /// <summary>
    /// Options of <see cref="TrajectoryTransitionsEstimator"/> (<c>ml.Transforms.TrajectoryTransitions</c>). Deterministic:
    /// <see cref="ComponentOptions.Seed"/> and <see cref="ComponentOptions.CancellationToken"/> are not used;
    /// <see cref="ComponentOptions.Device"/> places the transformer's copy of the network (null keeps the model's device).
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>
        /// Input column: a Single vector of <see cref="AnchorCount"/> × the network's input size values, the anchor points
        /// one after the other. Required.
        /// </summary>
        public string InputColumnName = "";

        /// <summary>Output column (Single): the number of transitions along the closed trajectory. Default "Transitions".</summary>
        public string OutputColumnName = Defaults.OutputColumnName;

        /// <summary>Anchor points per row, at least 2 (3 gives the ellipse through them). Default 3.</summary>
        public int AnchorCount = Defaults.AnchorCount;

        /// <summary>Points sampled on each trajectory, at least 2. Default 256.</summary>
        public int Points = Defaults.Points;

        /// <summary>Rows per batch, positive (each costs a forward pass over BatchSize × Points points). Default 16.</summary>
        public int BatchSize = Defaults.BatchSize;
    }
}
