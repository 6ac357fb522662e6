using Components.Core.Runtime;
using Components.Core.Schema;

namespace Components.Transforms.Adversarial;

public sealed partial class AdversarialPerturbationEstimator
{
    /// <summary>Default values of every option.</summary>
    internal static class Defaults
    {
        public const string OutputColumnName = "Adversarial";
        public const string PerturbationColumnName = "Perturbation";
        public const string TargetColumnName = "Target";
        public const double Epsilon = 32.0 / 255;
        public const double StepSize = 4.0 / 255;
        public const int Iterations = 20;
        public const int TransformationSamples = 2;
        public const int MaxShift = 2;
        public const double NoiseStandardDeviation = 0.02;
        public const int BatchSize = 64;
    }

    /// <summary>
    /// Options of <see cref="AdversarialPerturbationEstimator"/> (<c>ml.Transforms.AdversarialPerturbation</c>).
    /// <see cref="ComponentOptions.Seed"/> seeds the random transformations (null: from the MLContext);
    /// <see cref="ComponentOptions.Device"/> places the transformer's copies of the networks (null: the first model's
    /// device); <see cref="ComponentOptions.CancellationToken"/> is checked before every attack step while data is
    /// transformed.
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>Output column: the adversarial image x + δ (Single vector, the input's size and image shape). Default "Adversarial".</summary>
        public string OutputColumnName = Defaults.OutputColumnName;

        /// <summary>Output column: the perturbation δ = adversarial − x (Single vector with the image shape). Default "Perturbation".</summary>
        public string PerturbationColumnName = Defaults.PerturbationColumnName;

        /// <summary>Input column: images as Single vectors with pixels in [0, 1]; null uses the first model's feature column. Default null.</summary>
        public string? InputColumnName;

        /// <summary>
        /// Targeted mode without <see cref="TargetMapping"/>: the key column of the target class of every row, a key over
        /// the models' classes (e.g. <c>MapValueToKey</c> with the training label's key values; when the column carries
        /// key values they must be the models' class names, in order). A missing key value fails naming the row. Default "Target".
        /// </summary>
        public string TargetColumnName = Defaults.TargetColumnName;

        /// <summary>
        /// Targeted mode: a fixed mapping from the class the ensemble predicts for the clean image to the target class, by
        /// class name (e.g. { "Sandal": "Sneaker" }); rows whose predicted class is not a key are passed through unchanged
        /// (δ = 0). Replaces <see cref="TargetColumnName"/>. Every name must be one of the models' classes. Default null.
        /// </summary>
        public IReadOnlyDictionary<string, string>? TargetMapping;

        /// <summary>
        /// Untargeted mode: ascend the loss of the row's class (from <see cref="LabelColumnName"/>, or the ensemble's
        /// prediction on the clean image) instead of descending the loss of a target class. Default false.
        /// </summary>
        public bool Untargeted;

        /// <summary>Untargeted mode: key column of each row's true class (as <see cref="TargetColumnName"/>); null uses the ensemble's prediction. Default null.</summary>
        public string? LabelColumnName;

        /// <summary>L∞ budget ε in pixel units of [0, 1], in [0, 1]. Default 32/255 (the paper's budget on 0–255 pixels).</summary>
        public double Epsilon = Defaults.Epsilon;

        /// <summary>Step α of each sign-gradient step, in (0, 1]. Default 4/255 (ε/8: ε is reachable in 8 of the 20 steps).</summary>
        public double StepSize = Defaults.StepSize;

        /// <summary>Number of attack steps, positive. Cost is proportional to it. Default 20.</summary>
        public int Iterations = Defaults.Iterations;

        /// <summary>Random transformations averaged per step (expectation over transformations), positive. Cost is proportional to it. Default 2.</summary>
        public int TransformationSamples = Defaults.TransformationSamples;

        /// <summary>Largest random shift in pixels (dy, dx uniform integers in [−MaxShift, MaxShift], edges replicated), non-negative. Default 2.</summary>
        public int MaxShift = Defaults.MaxShift;

        /// <summary>Standard deviation of the Gaussian pixel noise of each random transformation, non-negative. Default 0.02.</summary>
        public double NoiseStandardDeviation = Defaults.NoiseStandardDeviation;

        /// <summary>
        /// How a row is an image (for the shifts). Null: the input column's <see cref="ImageShape"/> annotation, else
        /// the CNN members' 1 × ImageHeight × ImageWidth. Default null.
        /// </summary>
        public ImageShape? ImageShape;

        /// <summary>Rows attacked together (one forward and backward pass per member, sample and step), positive. Default 64.</summary>
        public int BatchSize = Defaults.BatchSize;
    }
}
