using Components.Core.Runtime;
using Components.Trainers.LearnedOptimizer;
using Microsoft.ML;
using TorchSharp;
using TorchSharp.Modules;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// Options shared by <see cref="NeuralNetworkMulticlassTrainer.Options"/> and <see cref="NeuralNetworkRegressionTrainer.Options"/>:
/// columns, architecture and initialisation, optimizer, mini-batching, validation and early stopping; the seed (of the
/// initial weights, the shuffling and the validation split, each its own stream), device and cancellation (checked
/// before every mini-batch) come from <see cref="ComponentOptions"/>. Every default lives in <see cref="Defaults"/>.
/// </summary>
public abstract class NeuralNetworkOptions : ComponentOptions
{
    /// <summary>Default values of every option.</summary>
    internal static class Defaults
    {
        public const string FeatureColumnName = "Features";
        public const string LabelColumnName = "Label";
        public const string ScoreColumnName = "Score";
        public const string PredictedLabelColumnName = "PredictedLabel";
        public const NeuralNetworkArchitectureKind Architecture = NeuralNetworkArchitectureKind.Mlp;
        public const int HiddenLayerWidth = 128;
        public const int FirstConvolutionChannels = 16;
        public const int SecondConvolutionChannels = 32;
        public const int ImageSide = 28;
        public const NeuralNetworkActivation Activation = NeuralNetworkActivation.Relu;
        public const double WeightVariance = 2.0;
        public const double BiasVariance = 0.0;
        public const bool UseCriticalInitialization = false;
        public const NeuralNetworkOptimizerKind Optimizer = NeuralNetworkOptimizerKind.Adam;
        public const double LearningRate = 1e-3;
        public const double Momentum = 0.9;
        public const double WeightDecay = 0.0;
        public const int BatchSize = 64;
        public const int NumberOfEpochs = 10;
        public const bool Shuffle = true;
        public const double ValidationFraction = 0.0;
        public const int EarlyStoppingPatience = 5;
        public const int InferenceBatchSize = 512;
        public const double MaxGradientNorm = 0.0;
        public const double LearnedOptimizerMinInitialLearningRate = HierarchicalRnnOptimizer.Options.Defaults.MinInitialLearningRate;
        public const double LearnedOptimizerMaxInitialLearningRate = HierarchicalRnnOptimizer.Options.Defaults.MaxInitialLearningRate;
        public const double LearnedOptimizerMaxLearningRate = 1e-3;

        public static int[] HiddenLayerWidths() => [HiddenLayerWidth];

        public static int[] ConvolutionChannels() => [FirstConvolutionChannels, SecondConvolutionChannels];

        public static double[] FreezeSchedule() => [];
    }

    /// <summary>Feature column: a known-size vector of Single. Default <c>Features</c>.</summary>
    public string FeatureColumnName = Defaults.FeatureColumnName;

    /// <summary>Label column: a key (multiclass) or a Single (regression). Default <c>Label</c>.</summary>
    public string LabelColumnName = Defaults.LabelColumnName;

    /// <summary>Output score column. Default <c>Score</c>.</summary>
    public string ScoreColumnName = Defaults.ScoreColumnName;

    /// <summary>Network family: <see cref="NeuralNetworkArchitectureKind.Mlp"/> (default) or <see cref="NeuralNetworkArchitectureKind.Cnn"/>.</summary>
    public NeuralNetworkArchitectureKind Architecture = Defaults.Architecture;

    /// <summary>
    /// Widths of the fully connected hidden layers, each positive; may be empty (a linear or softmax-regression model for an
    /// MLP). For a CNN these follow the convolution blocks. Default <c>[128]</c>.
    /// </summary>
    public int[] HiddenLayerWidths = Defaults.HiddenLayerWidths();

    /// <summary>CNN only: output channels of each 5×5 convolution + 2×2 max-pool block, each positive. Default <c>[16, 32]</c>.</summary>
    public int[] ConvolutionChannels = Defaults.ConvolutionChannels();

    /// <summary>CNN only: image height; the feature vector is read row-major as ImageHeight × ImageWidth pixels. Default 28.</summary>
    public int ImageHeight = Defaults.ImageSide;

    /// <summary>CNN only: image width. Default 28.</summary>
    public int ImageWidth = Defaults.ImageSide;

    /// <summary>
    /// CNN only: train (and predict) with a <see cref="RetinaLayer"/> (eccentricity-dependent Gaussian blur, sharp at the
    /// fixation point) in front of the first convolution, as the models of Elsayed et al. (2018) do; null for none. The
    /// layer has no parameters; its settings are saved with the model. Default null.
    /// </summary>
    public RetinaSettings? Retina;

    /// <summary>Nonlinearity after every hidden layer. Default <see cref="NeuralNetworkActivation.Relu"/>.</summary>
    public NeuralNetworkActivation Activation = Defaults.Activation;

    /// <summary>
    /// σ_w², positive: every weight starts as N(0, σ_w²/fan_in) (the NNGP paper's convention). Default 2 (He
    /// initialisation, which keeps the pre-activation variance of a ReLU network constant with depth).
    /// </summary>
    public double WeightVariance = Defaults.WeightVariance;

    /// <summary>σ_b², non-negative: every bias starts as N(0, σ_b²). Default 0 (zero biases).</summary>
    public double BiasVariance = Defaults.BiasVariance;

    /// <summary>
    /// Initialise on the order-to-chaos critical line: <see cref="WeightVariance"/> is ignored and σ_w² is the value with
    /// χ₁ = σ_w²E[φ′(z)²] = 1 at the variance fixed point for <see cref="Activation"/> and <see cref="BiasVariance"/>
    /// (mean-field signal propagation, <c>Components.Kernels.SignalPropagation.CriticalInitialization</c>): 2 for ReLU,
    /// 1 for a linear network, 1 for tanh at σ_b² = 0. Deep networks (tens of layers) then keep
    /// their forward signals and gradients; far from the line they train only to depths of a few ξ_c. Default false.
    /// </summary>
    public bool UseCriticalInitialization = Defaults.UseCriticalInitialization;

    /// <summary>
    /// Built-in optimizer, used when <see cref="OptimizerFactory"/> is null: SGD, momentum, Adam, RMSProp, or the learned
    /// hierarchical RNN optimizer (<see cref="NeuralNetworkOptimizerKind.LearnedHierarchicalRnn"/>, configured by the
    /// <c>LearnedOptimizer*</c> options). Default <see cref="NeuralNetworkOptimizerKind.Adam"/>.
    /// </summary>
    public NeuralNetworkOptimizerKind Optimizer = Defaults.Optimizer;

    /// <summary>
    /// Builds the optimizer from the network's parameters (already on the training device), replacing
    /// <see cref="Optimizer"/>, <see cref="LearningRate"/>, <see cref="Momentum"/> and <see cref="WeightDecay"/>: any
    /// <c>torch.optim.Optimizer</c>, built-in or a subclass of your own. Called once per <c>Fit</c>; per mini-batch the
    /// trainer (the Core training engine) zeroes the gradients, evaluates the loss, calls <c>backward()</c> and then
    /// <c>step(closure)</c>, where the closure re-evaluates the same mini-batch, so optimizers that re-evaluate the loss
    /// (L-BFGS) work; the optimizer is disposed at the end. Default null.
    /// </summary>
    public Func<IEnumerable<Parameter>, torch.optim.Optimizer>? OptimizerFactory;

    /// <summary>
    /// <see cref="NeuralNetworkOptimizerKind.LearnedHierarchicalRnn"/> only: the learned optimizer's weights file (written by
    /// <see cref="HierarchicalRnnMetaParameters.Save(string)"/> or the meta-trainer), or null for the weights shipped with the
    /// library. Read at the start of <c>Fit</c>: a missing file throws <see cref="FileNotFoundException"/>, a corrupt,
    /// truncated or foreign one <see cref="FormatException"/>, weights of another architecture
    /// <see cref="InvalidOperationException"/>, each naming the file. Default null.
    /// </summary>
    public string? LearnedOptimizerWeightsPath;

    /// <summary>
    /// <see cref="NeuralNetworkOptimizerKind.LearnedHierarchicalRnn"/> only: lower end of the range the initial
    /// per-parameter learning rates are drawn from (log-uniformly, with the trainer's seed), positive and finite. The
    /// learned optimizer then adapts them. Default 1e-6 (the range the shipped weights were meta-trained with).
    /// </summary>
    public double LearnedOptimizerMinInitialLearningRate = Defaults.LearnedOptimizerMinInitialLearningRate;

    /// <summary>
    /// <see cref="NeuralNetworkOptimizerKind.LearnedHierarchicalRnn"/> only: upper end of the initial learning-rate range,
    /// finite and at least <see cref="LearnedOptimizerMinInitialLearningRate"/> (equal to it for one fixed initial learning
    /// rate). Default 0.01.
    /// </summary>
    public double LearnedOptimizerMaxInitialLearningRate = Defaults.LearnedOptimizerMaxInitialLearningRate;

    /// <summary>
    /// <see cref="NeuralNetworkOptimizerKind.LearnedHierarchicalRnn"/> only: upper bound on the learned optimizer's step
    /// size, the RMS of each tensor's update (<see cref="HierarchicalRnnOptimizer.Options.MaxLearningRate"/>), positive, at
    /// most e³³. Default 0.001 (Adam's default learning rate): without a bound the shipped weights' learning rates keep
    /// growing and the MLP diverges after about 190 steps (docs/trainers/learned-optimizer.md).
    /// </summary>
    public double LearnedOptimizerMaxLearningRate = Defaults.LearnedOptimizerMaxLearningRate;

    /// <summary>Learning rate η of the built-in optimizer, positive. Default 0.001 (suits Adam and RMSProp; SGD usually wants 0.01–0.1).</summary>
    public double LearningRate = Defaults.LearningRate;

    /// <summary>Momentum μ of <see cref="NeuralNetworkOptimizerKind.Momentum"/>, in [0, 1). Default 0.9.</summary>
    public double Momentum = Defaults.Momentum;

    /// <summary>L2 weight decay of the built-in optimizer (added to the gradient as λ·θ), non-negative; must be 0 with the learned optimizer. Default 0.</summary>
    public double WeightDecay = Defaults.WeightDecay;

    /// <summary>Examples per mini-batch, positive (the last batch of an epoch may be smaller). Default 64.</summary>
    public int BatchSize = Defaults.BatchSize;

    /// <summary>Maximum number of passes over the training data, positive. Default 10.</summary>
    public int NumberOfEpochs = Defaults.NumberOfEpochs;

    /// <summary>Reshuffle the training rows before every epoch (with the trainer's own seeded generator). Default true.</summary>
    public bool Shuffle = Defaults.Shuffle;

    /// <summary>
    /// Validation data with the same feature (and label) columns as the training data, or null. When given, the
    /// validation loss and accuracy (or RMSE) are logged every epoch and drive early stopping. Cannot be combined with
    /// <see cref="ValidationFraction"/>. Default null.
    /// </summary>
    public IDataView? ValidationSet;

    /// <summary>
    /// Fraction of the training rows held out (at random, with the trainer's seed) as the validation set, in [0, 1);
    /// 0 holds out nothing. Default 0.
    /// </summary>
    public double ValidationFraction = Defaults.ValidationFraction;

    /// <summary>
    /// With validation data: stop after this many epochs without a lower validation loss and restore the weights of the
    /// best epoch. 0 disables early stopping (the last epoch's weights are kept). Non-negative. Default 5.
    /// </summary>
    public int EarlyStoppingPatience = Defaults.EarlyStoppingPatience;

    /// <summary>Rows per forward pass when the trained model transforms data, positive. Default 512.</summary>
    public int InferenceBatchSize = Defaults.InferenceBatchSize;

    /// <summary>
    /// Clip the gradient of every mini-batch to this global L2 norm over all parameters (scaled together, so its
    /// direction is kept) before the optimizer step; 0 turns clipping off. Non-negative. Default 0.
    /// </summary>
    public double MaxGradientNorm = Defaults.MaxGradientNorm;

    /// <summary>
    /// "Freeze training" (Raghu et al., SVCCA, arXiv:1706.05806): entry i is the fraction of the training run after which
    /// layer i + 1 stops training (layers numbered from 1 as in <see cref="NeuralNetworkArchitecture"/>). The run is
    /// <see cref="NumberOfEpochs"/> × mini-batches per epoch steps; layer i + 1 is frozen before step
    /// round(fraction × run) (0 keeps it at its initial weights), and from then on its weights and biases get no gradient
    /// and no update, and backward passes stop above it. Layers freeze bottom-up: each fraction in [0, 1], non-decreasing,
    /// at most one per hidden layer (the output layer always trains). The optimizer must skip parameters without a
    /// gradient, as every built-in one does. Empty (default) freezes nothing. Example: <c>[0.2, 0.3, 0.4]</c>.
    /// </summary>
    public double[] FreezeSchedule = Defaults.FreezeSchedule();

    /// <summary>
    /// Called with the network being trained before the first step and after every optimizer step (see
    /// <see cref="NeuralNetworkCheckpoint"/>): to take activation snapshots over training (SVCCA's convergence study) or to
    /// copy weights at chosen steps. It runs on the training thread and must not train, move or dispose the network; an
    /// exception it throws ends the fit. Default null.
    /// </summary>
    public Action<NeuralNetworkCheckpoint>? CheckpointCallback;
}
