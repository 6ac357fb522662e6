using Components.Core.Runtime;
using TorchSharp;

namespace Components.Trainers.Gan;

public sealed partial class GanEstimator
{
    /// <summary>Default values, in one place.</summary>
    internal static class Defaults
    {
        public const string FeatureColumnName = "Features";
        public const string NoiseColumnName = "Noise";
        public const string OutputColumnName = "Generated";
        public const GanNetworkKind Network = GanNetworkKind.Mlp;
        public const int LatentSize = 16;
        public const int HiddenUnits = 128;
        public const int HiddenLayers = 2;
        public const int Channels = 32;
        public const GanObjective Objective = GanObjective.NonSaturating;
        public const double Alpha = 0.5;
        public const int Steps = 2000;
        public const int DiscriminatorSteps = 1;
        public const int BatchSize = 64;
        public const double LearningRate = 1e-3;
        public const double Beta1 = 0.5;
        public const int LogInterval = 100;
        public const int InferenceBatchSize = 256;
    }

    /// <summary>
    /// Options of <see cref="GanEstimator"/> (<c>ml.Generative.Gan(options)</c>). From
    /// <see cref="ComponentOptions"/>: the seed of the initial weights, the shuffling, the training noise and
    /// <c>Sample</c> (each its own stream), the device, and the cancellation token (checked every training step).
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>Training data column: a known-size Single vector (for <see cref="GanNetworkKind.Dcgan"/> 784 values, a 28×28 image in [0, 1]). Default <c>Features</c>.</summary>
        public string FeatureColumnName = Defaults.FeatureColumnName;

        /// <summary>The model's input column of noise rows (Single vectors of <see cref="LatentSize"/>, drawn from N(0, I)). Default <c>Noise</c>.</summary>
        public string NoiseColumnName = Defaults.NoiseColumnName;

        /// <summary>The model's output column of generated rows (Single vectors of the data's size). Default <c>Generated</c>.</summary>
        public string OutputColumnName = Defaults.OutputColumnName;

        /// <summary>The network pair: MLPs for vectors, or the DCGAN-style pair for 28×28 images. Default MLP.</summary>
        public GanNetworkKind Network = Defaults.Network;

        /// <summary>Dimension of the generator's Gaussian noise (1 or more). Default 16.</summary>
        public int LatentSize = Defaults.LatentSize;

        /// <summary>MLP hidden widths of both networks (each 1 or more; one or more layers). Null: two layers of 128. Default null.</summary>
        public int[]? HiddenUnits;

        /// <summary>DCGAN base channel count c (generator 2c → c → 1 channels, discriminator 1 → c → 2c; 1 to 512). Default 32.</summary>
        public int Channels = Defaults.Channels;

        /// <summary>The generator objective (see <see cref="GanObjective"/>). Default <see cref="GanObjective.NonSaturating"/> (−log D).</summary>
        public GanObjective Objective = Defaults.Objective;

        /// <summary>α of the <see cref="GanObjective.Alpha"/> objective (finite, |α| ≤ 20). Default 0.5.</summary>
        public double Alpha = Defaults.Alpha;

        /// <summary>
        /// f of the <see cref="GanObjective.Custom"/> objective: elementwise on a tensor of u = p/q &gt; 0, differentiable
        /// with autograd, convex, f(1) = 0 (checked numerically when the estimator is created). The generator loss
        /// g(u) = f(u) − u f′(u) is derived by autograd. Not saved with the model (it only shapes training). Default null.
        /// </summary>
        public Func<torch.Tensor, torch.Tensor>? CustomF;

        /// <summary>
        /// Mixing of objectives over training: when set, the generator loss moves linearly from
        /// <see cref="Objective"/> at the first generator step to this objective at the last,
        /// (1 − t)·L_first + t·L_final. Null: no mixing. Default null.
        /// </summary>
        public GanObjective? FinalObjective;

        /// <summary>Generator updates (0 or more; 0 keeps the random initial networks). Default 2000.</summary>
        public int Steps = Defaults.Steps;

        /// <summary>Discriminator updates per generator update (1 or more). Default 1.</summary>
        public int DiscriminatorSteps = Defaults.DiscriminatorSteps;

        /// <summary>Rows per batch of data and of noise (1 or more; capped at the number of data rows). Default 64.</summary>
        public int BatchSize = Defaults.BatchSize;

        /// <summary>Adam learning rate of the generator (positive). Default 1e-3.</summary>
        public double GeneratorLearningRate = Defaults.LearningRate;

        /// <summary>Adam learning rate of the discriminator (positive). Default 1e-3.</summary>
        public double DiscriminatorLearningRate = Defaults.LearningRate;

        /// <summary>Adam β₁ of both optimizers, in [0, 1). Default 0.5 (as DCGAN).</summary>
        public double Beta1 = Defaults.Beta1;

        /// <summary>Log both losses every this many generator steps (1 or more). Default 100.</summary>
        public int LogInterval = Defaults.LogInterval;

        /// <summary>Rows per forward pass when the model maps rows (1 or more). Default 256.</summary>
        public int InferenceBatchSize = Defaults.InferenceBatchSize;
    }
}
