using Components.Samplers.Sampling;

namespace Components.Samplers.L2hmc;

public sealed partial class L2hmcEstimator
{
    /// <summary>Default values, in one place.</summary>
    internal static class Defaults
    {
        public const int HiddenUnits = 10;
        public const bool TrainStepSize = true;
        public const int TrainingSteps = 5000;
        public const double LearningRate = 1e-3;
        public const double LearningRateDecay = 0.96;
        public const int LearningRateDecaySteps = 1000;
        public const double Scale = 0.1;
        public const double BurnInWeight = 1.0;
        public const double InitialTemperature = 1.0;
        public const int AnnealingSteps = 0;
    }

    /// <summary>
    /// Options of <see cref="L2hmcEstimator"/> (<c>ml.Samplers.L2hmc(options)</c>). Defaults are the reference
    /// SCGExperiment.ipynb settings: T = 10 leapfrog steps, ε₀ = 0.1 (trained), networks with 10 hidden units,
    /// 5000 Adam steps on 200 parallel chains with learning rate 1e-3 × 0.96^⌊step/1000⌋, loss scale λ = 0.1 and
    /// burn-in weight 1.
    /// Shared fields (energy, columns, transitions, leapfrog steps, step size, chains) are on <see cref="SamplerOptions"/>; from <see cref="Core.Runtime.ComponentOptions"/>: the seed of the masks and initial weights, the training noise, the row
    /// mapping and <c>Sample</c> (each its own stream), the device, and the cancellation token (checked every training
    /// step and every sampling transition).
    /// </summary>
    public sealed class Options : SamplerOptions
    {
        /// <summary>Width of the two hidden layers of each network (one or more), unless <see cref="HiddenLayerWidths"/> is set. Default 10.</summary>
        public int HiddenUnits = Defaults.HiddenUnits;

        /// <summary>
        /// Layer widths of each network, overriding <see cref="HiddenUnits"/>: the width of the embedding layer (the
        /// summed linear maps of the two inputs and the time), then that of each further hidden layer; 2 to 64 entries,
        /// each in [1, 65536]. The reference toy-task script eval_toy.py uses <c>[50, 100, 50]</c>. Default null:
        /// <c>[HiddenUnits, HiddenUnits]</c> (the SCG notebook's networks).
        /// </summary>
        public int[]? HiddenLayerWidths;

        /// <summary>Whether ε = exp(α) is trained with the networks. Default true.</summary>
        public bool TrainStepSize = Defaults.TrainStepSize;

        /// <summary>Adam steps (0 keeps the random initial networks). Default 5000.</summary>
        public int TrainingSteps = Defaults.TrainingSteps;

        /// <summary>Adam learning rate (positive). Default 1e-3.</summary>
        public double LearningRate = Defaults.LearningRate;

        /// <summary>Staircase exponential decay factor of the learning rate, in (0, 1]. Default 0.96.</summary>
        public double LearningRateDecay = Defaults.LearningRateDecay;

        /// <summary>Steps between learning-rate decays (one or more). Default 1000.</summary>
        public int LearningRateDecaySteps = Defaults.LearningRateDecaySteps;

        /// <summary>
        /// Loss scale λ (positive): per sample <c>λ/δ − δ/λ</c> with δ the expected squared jump
        /// <c>‖x − x'‖² A(ξ'|ξ) + 1e-4</c> (the reference code's form; the paper writes λ² for this λ). Default 0.1.
        /// </summary>
        public double Scale = Defaults.Scale;

        /// <summary>Weight λ_b of the burn-in term (the same loss on proposals from fresh N(0, I) draws; 0 or more). Default 1.</summary>
        public double BurnInWeight = Defaults.BurnInWeight;

        /// <summary>
        /// Temperature annealing during training (not in the SCG notebook; the reference dynamics support a temperature):
        /// the energy is divided by τ, decaying geometrically from this value (1 or more) to 1 over
        /// <see cref="AnnealingSteps"/> steps. Helps the networks discover jumps between separated modes. Default 1 (off).
        /// </summary>
        public double InitialTemperature = Defaults.InitialTemperature;

        /// <summary>Training steps of the annealing phase (0 or more). Default 0.</summary>
        public int AnnealingSteps = Defaults.AnnealingSteps;
    }
}
