using System.Globalization;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Core.Training;
using Components.Kernels.Nngp;
using Components.Trainers.LearnedOptimizer;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>Result of <see cref="NeuralNetworkFitting.Train"/>.</summary>
/// <param name="History">One entry per epoch run.</param>
/// <param name="BestEpoch">The epoch whose weights the module holds at the end.</param>
internal sealed record NeuralNetworkTrainingResult(IReadOnlyList<NeuralNetworkEpoch> History, int BestEpoch);

/// <summary>What both neural-network trainers share: option validation, feature loading, the validation split and the fit itself.</summary>
internal static class NeuralNetworkFitting
{
    private const int EvaluationBatchSize = 1024;

    /// <summary>Validates every option; throws <see cref="ArgumentOutOfRangeException"/> naming the option.</summary>
    public static void Validate(NeuralNetworkOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(o.FeatureColumnName), nameof(o.FeatureColumnName), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(o.LabelColumnName), nameof(o.LabelColumnName), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(o.ScoreColumnName), nameof(o.ScoreColumnName), "Must be a column name.");
        Guard.CheckUserArg(Enum.IsDefined(o.Architecture), nameof(o.Architecture), $"Unknown architecture {o.Architecture}.");
        Guard.CheckUserArg(o.HiddenLayerWidths is not null, nameof(o.HiddenLayerWidths), "Must not be null (use an empty array for no hidden layer).");
        Guard.CheckUserArg(o.HiddenLayerWidths!.All(w => w > 0), nameof(o.HiddenLayerWidths), $"Every width must be positive, got [{string.Join(", ", o.HiddenLayerWidths!)}].");
        if (o.Architecture == NeuralNetworkArchitectureKind.Cnn)
        {
            Guard.CheckUserArg(o.ConvolutionChannels is { Length: > 0 }, nameof(o.ConvolutionChannels), "A CNN needs at least one convolution block.");
            Guard.CheckUserArg(o.ConvolutionChannels!.All(c => c > 0), nameof(o.ConvolutionChannels), $"Every channel count must be positive, got [{string.Join(", ", o.ConvolutionChannels!)}].");
            Guard.CheckUserArg(o.ImageHeight > 0, nameof(o.ImageHeight), $"Must be positive, got {o.ImageHeight}.");
            Guard.CheckUserArg(o.ImageWidth > 0, nameof(o.ImageWidth), $"Must be positive, got {o.ImageWidth}.");
            Guard.CheckUserArg(o.ImageHeight >> o.ConvolutionChannels!.Length > 0 && o.ImageWidth >> o.ConvolutionChannels.Length > 0,
                nameof(o.ConvolutionChannels), $"A {o.ImageHeight}×{o.ImageWidth} image is too small for {o.ConvolutionChannels.Length} convolution blocks (each halves the side).");
        }
        Guard.CheckUserArg(o.Retina is null || o.Architecture == NeuralNetworkArchitectureKind.Cnn, nameof(o.Retina),
            $"A retina layer needs the CNN (Architecture = Cnn), got {o.Architecture}.");
        Guard.CheckUserArg(Enum.IsDefined(o.Activation), nameof(o.Activation), $"Unknown activation {o.Activation}.");
        Guard.CheckUserArg(o.WeightVariance > 0 && double.IsFinite(o.WeightVariance), nameof(o.WeightVariance), $"Must be positive and finite, got {F(o.WeightVariance)}.");
        Guard.CheckUserArg(o.BiasVariance >= 0 && double.IsFinite(o.BiasVariance), nameof(o.BiasVariance), $"Must be non-negative and finite, got {F(o.BiasVariance)}.");
        Guard.CheckUserArg(Enum.IsDefined(o.Optimizer), nameof(o.Optimizer), $"Unknown optimizer {o.Optimizer}.");
        Guard.CheckUserArg(o.LearningRate > 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), $"Must be positive and finite, got {F(o.LearningRate)}.");
        Guard.CheckUserArg(o.Momentum >= 0 && o.Momentum < 1, nameof(o.Momentum), $"Must be in [0, 1), got {F(o.Momentum)}.");
        Guard.CheckUserArg(o.WeightDecay >= 0 && double.IsFinite(o.WeightDecay), nameof(o.WeightDecay), $"Must be non-negative and finite, got {F(o.WeightDecay)}.");
        if (o.OptimizerFactory is null && o.Optimizer == NeuralNetworkOptimizerKind.LearnedHierarchicalRnn)
        {
            Guard.CheckUserArg(o.WeightDecay == 0, nameof(o.WeightDecay), $"The learned optimizer ({nameof(NeuralNetworkOptimizerKind.LearnedHierarchicalRnn)}) takes no weight decay; got {F(o.WeightDecay)}, must be 0.");
            Guard.CheckUserArg(o.LearnedOptimizerWeightsPath is null || !string.IsNullOrWhiteSpace(o.LearnedOptimizerWeightsPath), nameof(o.LearnedOptimizerWeightsPath),
                "Must be a file path, or null for the shipped weights.");
            double min = o.LearnedOptimizerMinInitialLearningRate, max = o.LearnedOptimizerMaxInitialLearningRate;
            Guard.CheckUserArg(min > 0 && double.IsFinite(min), nameof(o.LearnedOptimizerMinInitialLearningRate), $"Must be positive and finite, got {F(min)}.");
            Guard.CheckUserArg(max >= min && double.IsFinite(max), nameof(o.LearnedOptimizerMaxInitialLearningRate),
                $"Must be finite and at least {nameof(o.LearnedOptimizerMinInitialLearningRate)} ({F(min)}), got {F(max)}.");
            double cap = o.LearnedOptimizerMaxLearningRate;
            Guard.CheckUserArg(cap > 0 && cap <= HierarchicalRnnOptimizer.Options.Defaults.MaxLearningRate, nameof(o.LearnedOptimizerMaxLearningRate),
                $"Must be positive and at most e^33, got {F(cap)}.");
        }
        Guard.CheckUserArg(o.BatchSize > 0, nameof(o.BatchSize), $"Must be positive, got {o.BatchSize}.");
        Guard.CheckUserArg(o.NumberOfEpochs > 0, nameof(o.NumberOfEpochs), $"Must be positive, got {o.NumberOfEpochs}.");
        Guard.CheckUserArg(o.ValidationFraction >= 0 && o.ValidationFraction < 1, nameof(o.ValidationFraction), $"Must be in [0, 1), got {F(o.ValidationFraction)}.");
        Guard.CheckUserArg(o.ValidationSet is null || o.ValidationFraction == 0, nameof(o.ValidationFraction), $"Give either {nameof(o.ValidationSet)} or {nameof(o.ValidationFraction)}, not both.");
        Guard.CheckUserArg(o.EarlyStoppingPatience >= 0, nameof(o.EarlyStoppingPatience), $"Must be non-negative, got {o.EarlyStoppingPatience}.");
        Guard.CheckUserArg(o.MaxGradientNorm >= 0 && double.IsFinite(o.MaxGradientNorm), nameof(o.MaxGradientNorm), $"Must be non-negative and finite, got {F(o.MaxGradientNorm)}.");
        Guard.CheckUserArg(o.InferenceBatchSize > 0, nameof(o.InferenceBatchSize), $"Must be positive, got {o.InferenceBatchSize}.");
        ValidateFreezeSchedule(o);
        if (o.Device is not null)
            DeviceResolver.Parse(o.Device); // unknown device names fail here, before any data is read
    }

    private static void ValidateFreezeSchedule(NeuralNetworkOptions o)
    {
        var schedule = o.FreezeSchedule;
        Guard.CheckUserArg(schedule is not null, nameof(o.FreezeSchedule), "Must not be null (use an empty array to freeze nothing).");
        int hidden = o.HiddenLayerWidths.Length + (o.Architecture == NeuralNetworkArchitectureKind.Cnn ? o.ConvolutionChannels?.Length ?? 0 : 0);
        Guard.CheckUserArg(schedule!.Length <= hidden, nameof(o.FreezeSchedule),
            $"Gives {schedule.Length} fractions for {hidden} hidden layers; the output layer always trains, so give at most {hidden}.");
        for (int i = 0; i < schedule.Length; i++)
        {
            Guard.CheckUserArg(schedule[i] >= 0 && schedule[i] <= 1, nameof(o.FreezeSchedule), $"Entry {i} (layer {i + 1}) must be in [0, 1], got {F(schedule[i])}.");
            if (i > 0)
            {
                Guard.CheckUserArg(schedule[i] >= schedule[i - 1], nameof(o.FreezeSchedule),
                    $"Layers freeze bottom-up: entry {i} (layer {i + 1}, {F(schedule[i])}) is below entry {i - 1} ({F(schedule[i - 1])}).");
            }
        }
    }

    /// <summary>
    /// Checks the feature column; for a CNN, that it holds ImageHeight × ImageWidth pixels and, when the column
    /// carries an <see cref="ImageShape"/>, that it is 1 × ImageHeight × ImageWidth. Returns its size.
    /// </summary>
    public static int CheckFeatures(IDataView data, NeuralNetworkOptions o, string role, int? expectedSize)
    {
        int size = ColumnRules.CheckVector(data.Schema, role, o.FeatureColumnName, expectedSize);
        if (o.Architecture == NeuralNetworkArchitectureKind.Cnn && size != o.ImageHeight * o.ImageWidth)
        {
            throw Guard.ExceptSchemaMismatch(role, o.FeatureColumnName,
                $"{ColumnRules.VectorText(o.ImageHeight * o.ImageWidth)} (a {o.ImageHeight}×{o.ImageWidth} image for the CNN)",
                data.Schema[o.FeatureColumnName].Type.ToString() ?? "?");
        }
        if (o.Architecture == NeuralNetworkArchitectureKind.Cnn && ImageShape.Of(data.Schema[o.FeatureColumnName]) is { } shape
            && (shape.Channels != 1 || shape.Height != o.ImageHeight || shape.Width != o.ImageWidth))
        {
            // The column says what its images are: a CNN set up for other images would read them wrongly.
            throw Guard.ExceptSchemaMismatch(role, o.FeatureColumnName,
                $"1×{o.ImageHeight}×{o.ImageWidth} images (the CNN's ImageHeight × ImageWidth, one channel)", $"images of {shape}");
        }
        return size;
    }

    /// <summary>
    /// Splits a random <see cref="NeuralNetworkOptions.ValidationFraction"/> of (x, y) off as validation data, using
    /// <paramref name="generator"/>. Disposes the inputs and returns four new tensors.
    /// </summary>
    public static (Tensor X, Tensor Y, Tensor XValidation, Tensor YValidation) Split(Tensor x, Tensor y, double fraction, Generator generator)
    {
        long n = x.shape[0];
        long held = (long)Math.Round(n * fraction);
        if (held < 1 || held >= n)
        {
            throw new InvalidOperationException(
                $"ValidationFraction {F(fraction)} of {n} rows leaves {held} validation and {n - held} training rows; both must be at least 1.");
        }
        using var scope = NewDisposeScope();
        var order = randperm(n, generator: generator);
        var train = order.narrow(0, 0, n - held);
        var valid = order.narrow(0, n - held, held);
        var result = (x.index_select(0, train), y.index_select(0, train), x.index_select(0, valid), y.index_select(0, valid));
        result.Item1.MoveToOuterDisposeScope();
        result.Item2.MoveToOuterDisposeScope();
        result.Item3.MoveToOuterDisposeScope();
        result.Item4.MoveToOuterDisposeScope();
        x.Dispose();
        y.Dispose();
        return result;
    }

    /// <summary>σ_w² on the order-to-chaos critical line for an activation and σ_b² (the signal-propagation component's choice).</summary>
    public static double CriticalWeightVariance(NeuralNetworkActivation activation, double biasVariance)
        => Components.Kernels.SignalPropagation.CriticalInitialization.CriticalWeightVariance(SignalPropagationNonlinearity(activation), biasVariance);

    /// <summary>The mean-field nonlinearity of an activation (linear = ABReLU(1, 1)).</summary>
    public static NngpNonlinearity SignalPropagationNonlinearity(NeuralNetworkActivation activation) => activation switch
    {
        NeuralNetworkActivation.Relu => NngpNonlinearity.Relu,
        NeuralNetworkActivation.Tanh => NngpNonlinearity.Tanh,
        NeuralNetworkActivation.Erf => NngpNonlinearity.Erf(),
        NeuralNetworkActivation.Linear => NngpNonlinearity.ABRelu(1, 1),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, $"Unknown activation {activation}."),
    };

    /// <summary>Builds the architecture for these options and data sizes.</summary>
    public static NeuralNetworkArchitecture Architecture(NeuralNetworkOptions o, int inputSize, int outputSize)
        => new(o.Architecture, inputSize, outputSize, o.HiddenLayerWidths, o.Activation,
            o.UseCriticalInitialization ? CriticalWeightVariance(o.Activation, o.BiasVariance) : o.WeightVariance, o.BiasVariance,
            o.Architecture == NeuralNetworkArchitectureKind.Cnn ? o.ConvolutionChannels : null,
            o.Architecture == NeuralNetworkArchitectureKind.Cnn ? o.ImageHeight : 0,
            o.Architecture == NeuralNetworkArchitectureKind.Cnn ? o.ImageWidth : 0,
            o.Architecture == NeuralNetworkArchitectureKind.Cnn ? o.Retina : null);

    /// <summary>
    /// Builds, initialises and trains the network on the context's device with the Core training engine, logging every
    /// epoch (Info) and reporting progress. Returns the trained module (owned by the caller) and the training result.
    /// <paramref name="learnedWeights"/> are the learned optimizer's meta-parameters when the options choose it
    /// (<see cref="NeuralNetworkOptimizers.LoadLearnedWeights"/>; not owned), else null.
    /// </summary>
    public static (NeuralNetworkModule Module, NeuralNetworkTrainingResult Result) Train(ComponentContext ctx, NeuralNetworkOptions o,
        NeuralNetworkArchitecture architecture, bool classification, Tensor x, Tensor y, Tensor? xValidation, Tensor? yValidation, double targetScale,
        HierarchicalRnnMetaParameters? learnedWeights)
    {
        string metric = classification ? "accuracy" : "RMSE";
        ctx.Info($"Training {architecture} on {x.shape[0]} rows" +
            (xValidation is null ? "" : $", validating on {xValidation.shape[0]}") +
            $", device {ctx.Device}, seed {ctx.Seed}, {NeuralNetworkOptimizers.Describe(o)}, " +
            $"batch {o.BatchSize}, up to {o.NumberOfEpochs} epochs.");
        var module = NeuralNetworkModule.Create(architecture, ctx.CreateGenerator("initialization", CPU));
        var owned = new List<IDisposable>();
        try
        {
            module.to(ctx.Device);
            bool onCpu = ctx.Device.type == DeviceType.CPU;
            Tensor OnDevice(Tensor t)
            {
                if (onCpu)
                    return t;
                var moved = t.to(ctx.Device).DetachFromDisposeScope();
                owned.Add(moved);
                return moved;
            }
            var xd = OnDevice(x);
            var yd = OnDevice(y);
            bool validate = xValidation is not null && yValidation is not null;
            var xv = validate ? OnDevice(xValidation!) : null;
            var yv = validate ? OnDevice(yValidation!) : null;
            var parameters = module.parameters().ToList();
            var optimizer = NeuralNetworkOptimizers.Create(o, parameters, learnedWeights, ctx.Seed);
            owned.Add(optimizer);

            long stepsPerEpoch = (x.shape[0] + o.BatchSize - 1) / o.BatchSize;
            var freezeSteps = o.FreezeSchedule.Select(f => (long)Math.Round(f * o.NumberOfEpochs * stepsPerEpoch)).ToArray();
            int frozenLayers = 0;
            void FreezeDue(long stepsTaken)
            {
                for (; frozenLayers < freezeSteps.Length && stepsTaken >= freezeSteps[frozenLayers]; frozenLayers++)
                {
                    foreach (var p in module.LayerParameters(frozenLayers + 1))
                    {
                        p.requires_grad = false;
                        p.grad = null; // the optimizer skips it from now on
                    }
                    ctx.Info($"Froze layer {frozenLayers + 1} before step {stepsTaken + 1} ({F(o.FreezeSchedule[frozenLayers])} of {o.NumberOfEpochs * stepsPerEpoch} steps).");
                }
            }

            string trainMetric = $"train {metric}", validationLoss = "validation loss", validationMetric = $"validation {metric}";
            var engine = new TrainingEngine<TensorBatch>(new TensorBatches([xd, yd], o.BatchSize, o.Shuffle ? ctx.CreateGenerator("shuffle", CPU) : null),
                new TrainingEngineOptions
                {
                    MaxEpochs = o.NumberOfEpochs,
                    Context = ctx,
                    EarlyStopping = validate && o.EarlyStoppingPatience > 0 ? new EarlyStopping(validationLoss, o.EarlyStoppingPatience, parameters) : null,
                    ProgressMetrics = ["loss", trainMetric],
                    DivergenceHint = $"Lower {nameof(NeuralNetworkOptions.LearningRate)} (now {F(o.LearningRate)}) or " +
                        $"{nameof(NeuralNetworkOptions.WeightVariance)}, or standardise the features.",
                });
            engine.Add(new TrainingObjective<TensorBatch>("loss", optimizer, step =>
            {
                FreezeDue(step.Step);
                var output = module.forward(step.Batch[0]);
                var loss = Loss(output, step.Batch[1], classification);
                if (classification)
                {
                    using var noGrad = no_grad();
                    step.Record(trainMetric, output.argmax(1).eq(step.Batch[1]).to(ScalarType.Float64).mean());
                }
                return loss;
            }, parameters)
            { MaxGradientNorm = o.MaxGradientNorm > 0 ? o.MaxGradientNorm : null });
            if (!classification)
                engine.AddEpochMetrics(e => [(trainMetric, Math.Sqrt(e.Metrics["loss"]) * targetScale)]);
            if (validate)
            {
                engine.AddEpochMetrics(_ =>
                {
                    var (loss, value) = Evaluate(module, xv!, yv!, classification, targetScale);
                    return [(validationLoss, loss), (validationMetric, value)];
                });
            }

            if (o.CheckpointCallback is { } checkpoint)
            {
                checkpoint(new NeuralNetworkCheckpoint(module, 0, 0, stepsPerEpoch));
                engine.OnStep(step => checkpoint(new NeuralNetworkCheckpoint(module, step.Epoch, step.Step + 1, stepsPerEpoch)));
            }

            module.train();
            TrainingResult result;
            try
            {
                result = engine.Run();
            }
            finally
            {
                foreach (var p in parameters)
                    p.requires_grad = true; // the frozen layers are trainable again in the returned network
            }
            module.eval();
            var history = result.Epochs.Select(e => new NeuralNetworkEpoch(e.Epoch, e.Metrics["loss"], e.Metrics[trainMetric],
                e.Metrics.Get(validationLoss), e.Metrics.Get(validationMetric))).ToList();
            if (learnedWeights is not null && o.OptimizerFactory is null && DivergenceWarning(history, o.LearnedOptimizerMaxLearningRate) is { } warning)
                ctx.Warning(warning);
            return (module, new NeuralNetworkTrainingResult(history, result.BestEpoch));
        }
        catch
        {
            module.Dispose();
            throw;
        }
        finally
        {
            foreach (var d in owned)
                d.Dispose();
        }
    }

    /// <summary>A learned optimizer's final epoch loss above this multiple of its best epoch loss is reported as divergence.</summary>
    internal const double LearnedDivergenceRatio = 1.25;

    /// <summary>
    /// The learned optimizer's divergence warning, or null: when the last epoch's training loss is above
    /// <see cref="LearnedDivergenceRatio"/> × the lowest epoch loss (a learned rule whose step sizes grew too far), so a
    /// diverged fit is never silent.
    /// </summary>
    internal static string? DivergenceWarning(IReadOnlyList<NeuralNetworkEpoch> history, double maxLearningRate)
    {
        if (history.Count < 2)
            return null;
        var best = history.MinBy(e => e.TrainingLoss)!;
        var last = history[^1];
        if (double.IsFinite(last.TrainingLoss) && last.TrainingLoss <= LearnedDivergenceRatio * best.TrainingLoss)
            return null;
        return $"The learned optimizer diverged: the training loss rose from {F(best.TrainingLoss)} (epoch {best.Epoch}) to {F(last.TrainingLoss)} " +
            $"(epoch {last.Epoch}). Lower {nameof(NeuralNetworkOptions.LearnedOptimizerMaxLearningRate)} (now {F(maxLearningRate)}), train fewer epochs, or use Adam.";
    }

    /// <summary>Mean loss and accuracy (classification) or RMSE in label units (regression) of <paramref name="module"/> on (x, y).</summary>
    public static (double Loss, double Metric) Evaluate(NeuralNetworkModule module, Tensor x, Tensor y, bool classification, double targetScale)
    {
        long n = x.shape[0];
        bool wasTraining = module.training;
        module.eval();
        try
        {
            using var noGrad = no_grad();
            double lossSum = 0;
            long correct = 0;
            for (long start = 0; start < n; start += EvaluationBatchSize)
            {
                using var scope = NewDisposeScope();
                long rows = Math.Min(EvaluationBatchSize, n - start);
                var xb = x.narrow(0, start, rows);
                var yb = y.narrow(0, start, rows);
                var output = module.forward(xb);
                lossSum += Loss(output, yb, classification).item<float>() * (double)rows;
                if (classification)
                    correct += output.argmax(1).eq(yb).sum().item<long>();
            }
            double loss = lossSum / n;
            return (loss, classification ? (double)correct / n : Math.Sqrt(loss) * targetScale);
        }
        finally
        {
            module.train(wasTraining);
        }
    }

    private static Tensor Loss(Tensor output, Tensor target, bool classification)
        => classification ? nn.functional.cross_entropy(output, target) : nn.functional.mse_loss(output.view(-1), target);

    private static string F(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}
