using Components.Core.Runtime;

namespace Components.Transforms.MetaLearnedFeaturizer;

public sealed partial class MetaLearnedFeaturizerEstimator
{
    /// <summary>Default values, in one place.</summary>
    public static class Defaults
    {
        /// <summary>Input column: known-size Single vector (e.g. pixels).</summary>
        public const string InputColumnName = "Features";

        /// <summary>Appended column with the learned representation.</summary>
        public const string OutputColumnName = "MetaLearnedFeatures";

        /// <summary>Width of the hidden layer below the embedding (inside the meta-training distribution's hidden widths 32, 64).</summary>
        public const int HiddenWidth = 64;

        /// <summary>Width of the top layer, the output embedding (the reference's 32; inside the meta-training distribution's 16, 32).</summary>
        public const int EmbeddingWidth = 32;

        /// <summary>Hidden nonlinearity.</summary>
        public const BaseActivation Activation = BaseActivation.Relu;

        /// <summary>Unsupervised inner steps of the rule: 10, inside the shipped rule's meta-training horizons (5–25 steps);
        /// chosen by the 10-shot probe in docs/transforms/meta-learned-featurizer.md (more steps lose the gain).</summary>
        public const int InnerSteps = 10;

        /// <summary>Rows per inner step (the meta-training batch size).</summary>
        public const int BatchSize = 64;

        /// <summary>Inner learning rate (W ← W + lr·ΔW), the meta-training one.</summary>
        public const double LearningRate = InnerLoop.DefaultLearningRate;

        /// <summary>Rows per batch at transform time.</summary>
        public const int TransformBatchSize = 1024;
    }

    /// <summary>
    /// Options of <see cref="MetaLearnedFeaturizerEstimator"/>. <see cref="ComponentOptions.Seed"/> draws the base network's
    /// initial weights and the order of the unlabelled batches; <see cref="ComponentOptions.Device"/> runs the inner loop
    /// (the fitted model computes on the CPU); <see cref="ComponentOptions.CancellationToken"/> is checked before every inner step.
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>Known-size Single vector column to featurize (rows need no label). Default <c>Features</c>.</summary>
        public string InputColumnName = Defaults.InputColumnName;

        /// <summary>Name of the appended Single vector column (width = the last entry of <see cref="HiddenWidths"/>). Default <c>MetaLearnedFeatures</c>.</summary>
        public string OutputColumnName = Defaults.OutputColumnName;

        /// <summary>Widths of the base network's layers above the input, bottom to top, each ≥ 1; the last one is the
        /// embedding that is appended. Default [64, 32].</summary>
        public int[] HiddenWidths = [Defaults.HiddenWidth, Defaults.EmbeddingWidth];

        /// <summary>Hidden nonlinearity of the base network (also on the embedding). Default ReLU.</summary>
        public BaseActivation Activation = Defaults.Activation;

        /// <summary>Unsupervised steps of the update rule, ≥ 0 (0 keeps the random initialisation). The shipped rule was meta-trained on horizons of 5–25 steps; many more extrapolate and lose its gain. Default 10.</summary>
        public int InnerSteps = Defaults.InnerSteps;

        /// <summary>Rows per inner step, ≥ 2 (the rule's statistics pool over the batch); capped at the row count. Default 64.</summary>
        public int BatchSize = Defaults.BatchSize;

        /// <summary>Inner learning rate, positive (ΔW columns have RMS ≈ 1). Default 0.01.</summary>
        public double LearningRate = Defaults.LearningRate;

        /// <summary>An update-rule file written by <see cref="LocalUpdateRuleFile.Save(LocalUpdateRule, string)"/>; null (default)
        /// uses the rule shipped with the library (<see cref="LocalUpdateRuleFile.LoadShipped"/>).</summary>
        public string? RulePath;

        /// <summary>Rows per batch when transforming. Default 1024.</summary>
        public int TransformBatchSize = Defaults.TransformBatchSize;
    }
}
