using Components.Core.Runtime;

namespace Components.Trainers.Rebar;

public sealed partial class SigmoidBeliefNetworkEstimator
{
    /// <summary>Default values, in one place (the reference's settings where it has one).</summary>
    public static class Defaults
    {
        /// <summary>Input column: known-size Single vector of binary values.</summary>
        public const string InputColumnName = "Features";

        /// <summary>Appended column: q(b₁ = 1 | x), the posterior probabilities of the first latent layer's bits.</summary>
        public const string LatentColumnName = "LatentProbabilities";

        /// <summary>Appended column: the per-row ELBO estimate (nats).</summary>
        public const string ElboColumnName = "Elbo";

        /// <summary>Bernoulli variables per latent layer (the reference's 200).</summary>
        public const int LatentWidth = 200;

        /// <summary>Stochastic layers.</summary>
        public const int LatentLayers = 1;

        /// <summary>Gradient estimator.</summary>
        public const GradientEstimatorKind GradientEstimator = GradientEstimatorKind.DynamicRebar;

        /// <summary>Training steps.</summary>
        public const int Steps = 2000;

        /// <summary>Rows per step (the reference's 24).</summary>
        public const int BatchSize = 24;

        /// <summary>Adam learning rate of the model (the reference README's 3e-4; β₂ = 0.99999).</summary>
        public const double LearningRate = 3e-4;

        /// <summary>The control variates' learning rate as a multiple of the model's (the reference's 10).</summary>
        public const double ControlVariateLearningRateFactor = 10;

        /// <summary>Samples per row of the appended ELBO estimate.</summary>
        public const int ElboSamples = 10;

        /// <summary>Rows per batch at transform time.</summary>
        public const int TransformBatchSize = 256;
    }

    /// <summary>
    /// Options of <see cref="SigmoidBeliefNetworkEstimator"/>. <see cref="ComponentOptions.Seed"/> draws the initial weights,
    /// the batch order, the training noise and (through <c>CounterNoise</c>) the samples of the appended ELBO;
    /// <see cref="ComponentOptions.CancellationToken"/> is checked before every step.
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>Known-size Single vector column of binary (0/1) values. Default <c>Features</c>.</summary>
        public string InputColumnName = Defaults.InputColumnName;

        /// <summary>Appended vector column q(b₁ = 1 | x) (width <see cref="LatentWidth"/>). Default <c>LatentProbabilities</c>.</summary>
        public string LatentColumnName = Defaults.LatentColumnName;

        /// <summary>Appended Single column: the ELBO of the row, averaged over <see cref="ElboSamples"/> samples. Default <c>Elbo</c>.</summary>
        public string ElboColumnName = Defaults.ElboColumnName;

        /// <summary>Bernoulli variables per latent layer, ≥ 1. Default 200.</summary>
        public int LatentWidth = Defaults.LatentWidth;

        /// <summary>Stochastic layers, 1 or 2. Default 1.</summary>
        public int LatentLayers = Defaults.LatentLayers;

        /// <summary>Two tanh layers (of the latent width) before every logit layer, as the paper's "nonlinear" models; false: linear. Default false.</summary>
        public bool Nonlinear;

        /// <summary>The gradient estimator. Default <see cref="GradientEstimatorKind.DynamicRebar"/>.</summary>
        public GradientEstimatorKind GradientEstimator = Defaults.GradientEstimator;

        /// <summary>Settings of the estimator (temperature, relaxation, fixed η, baselines); null for its defaults.</summary>
        public GradientEstimatorOptions? EstimatorOptions;

        /// <summary>Training steps, ≥ 1. Default 2000.</summary>
        public int Steps = Defaults.Steps;

        /// <summary>Rows per step, ≥ 1 (capped at the row count). Default 24.</summary>
        public int BatchSize = Defaults.BatchSize;

        /// <summary>Adam learning rate of the network, positive. Default 3e-4.</summary>
        public double LearningRate = Defaults.LearningRate;

        /// <summary>Learning rate of the control variates (η, temperature, baselines) as a multiple of <see cref="LearningRate"/>, positive. Default 10.</summary>
        public double ControlVariateLearningRateFactor = Defaults.ControlVariateLearningRateFactor;

        /// <summary>Null (default): the input must be binary, anything else is an error. A value t in (0, 1): inputs are binarized as x &gt; t, in Fit and in Transform.</summary>
        public float? BinarizationThreshold;

        /// <summary>Samples per row of the appended ELBO, ≥ 1. Default 10.</summary>
        public int ElboSamples = Defaults.ElboSamples;

        /// <summary>Rows per batch when transforming, ≥ 1. Default 256.</summary>
        public int TransformBatchSize = Defaults.TransformBatchSize;
    }
}
