using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>Result of <see cref="NeuralNetworkTrainingLoop.Run"/>.</summary>
/// <param name="History">One entry per epoch run.</param>
/// <param name="BestEpoch">The epoch whose weights the module holds at the end.</param>
internal sealed record NeuralNetworkTrainingResult(IReadOnlyList<NeuralNetworkEpoch> History, int BestEpoch);

/// <summary>
/// The training loop on tensors, without ML.NET: mini-batch gradient descent with shuffling from a private generator,
/// per-epoch validation, early stopping that restores the best weights, cancellation between mini-batches.
/// </summary>
internal static class NeuralNetworkTrainingLoop
{
    private const int EvaluationBatchSize = 1024;

    /// <summary>Trains <paramref name="module"/> (already on <paramref name="device"/>) in place.</summary>
    /// <param name="module">The network.</param>
    /// <param name="classification">Cross-entropy on int64 class labels if true; squared error on float32 targets otherwise.</param>
    /// <param name="x">Training features [n, d], CPU.</param>
    /// <param name="y">Training labels [n], CPU.</param>
    /// <param name="xValidation">Validation features or null.</param>
    /// <param name="yValidation">Validation labels or null.</param>
    /// <param name="options">Optimizer, batch size, epochs, shuffling, patience.</param>
    /// <param name="targetScale">Regression: the label's standard deviation (RMSE is reported in label units).</param>
    /// <param name="generator">CPU generator for shuffling.</param>
    /// <param name="device">Training device.</param>
    /// <param name="onEpoch">Called after every epoch.</param>
    /// <param name="cancellation">Checked before every mini-batch.</param>
    public static NeuralNetworkTrainingResult Run(NeuralNetworkModule module, bool classification, Tensor x, Tensor y, Tensor? xValidation,
        Tensor? yValidation, NeuralNetworkOptions options, double targetScale, Generator generator, Device device,
        Action<NeuralNetworkEpoch> onEpoch, CancellationToken cancellation)
    {
        long n = x.shape[0];
        bool onCpu = device.type == DeviceType.CPU;
        bool validate = xValidation is not null && yValidation is not null;
        bool earlyStopping = validate && options.EarlyStoppingPatience > 0;
        var history = new List<NeuralNetworkEpoch>();
        var disposables = new List<IDisposable>();
        List<Tensor>? best = null;
        try
        {
            Tensor Own(Tensor t)
            {
                disposables.Add(t);
                return t.DetachFromDisposeScope();
            }
            var xd = onCpu ? x : Own(x.to(device));
            var yd = onCpu ? y : Own(y.to(device));
            var xv = !validate || onCpu ? xValidation : Own(xValidation!.to(device));
            var yv = !validate || onCpu ? yValidation : Own(yValidation!.to(device));
            var parameters = module.parameters().ToList();
            var optimizer = NeuralNetworkOptimizers.Create(options, parameters);
            disposables.Add(optimizer);
            if (earlyStopping)
            {
                using var scope = NewDisposeScope();
                best = parameters.Select(p => Own(p.detach().clone())).ToList();
            }

            // In-place TorchSharp operations return new tensor handles: every epoch runs in its own dispose scope.
            double bestLoss = double.PositiveInfinity;
            int bestEpoch = 0;
            for (int epoch = 1; epoch <= options.NumberOfEpochs; epoch++)
            {
                cancellation.ThrowIfCancellationRequested();
                using var epochScope = NewDisposeScope();
                module.train();
                var lossSum = zeros(1, ScalarType.Float64, device);
                var correct = zeros(1, ScalarType.Int64, device);
                var order = options.Shuffle ? randperm(n, generator: generator) : arange(n, ScalarType.Int64);
                for (long start = 0; start < n; start += options.BatchSize)
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    long rows = Math.Min(options.BatchSize, n - start);
                    var idx = order.narrow(0, start, rows).to(device);
                    var xb = xd.index_select(0, idx);
                    var yb = yd.index_select(0, idx);
                    var output = module.forward(xb);
                    var loss = Loss(output, yb, classification);
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    using var noGrad = no_grad();
                    lossSum.add_(loss.detach().to(ScalarType.Float64) * rows);
                    if (classification)
                        correct.add_(output.argmax(1).eq(yb).sum());
                }
                double trainLoss = lossSum.item<double>() / n;
                if (!double.IsFinite(trainLoss))
                {
                    throw new InvalidOperationException(
                        $"Training diverged in epoch {epoch}: the mean loss is {trainLoss}. Lower {nameof(NeuralNetworkOptions.LearningRate)} " +
                        $"(now {options.LearningRate}) or {nameof(NeuralNetworkOptions.WeightVariance)}, or standardise the features.");
                }
                double trainMetric = classification ? (double)correct.item<long>() / n : Math.Sqrt(trainLoss) * targetScale;
                double? validationLoss = null, validationMetric = null;
                if (validate)
                {
                    var (vl, vm) = Evaluate(module, xv!, yv!, classification, targetScale);
                    (validationLoss, validationMetric) = (vl, vm);
                }
                var record = new NeuralNetworkEpoch(epoch, trainLoss, trainMetric, validationLoss, validationMetric);
                history.Add(record);
                onEpoch(record);

                if (!earlyStopping)
                {
                    bestEpoch = epoch;
                    continue;
                }
                if (validationLoss < bestLoss)
                {
                    bestLoss = validationLoss.Value;
                    bestEpoch = epoch;
                    using var noGrad = no_grad();
                    for (int i = 0; i < parameters.Count; i++)
                        best![i].copy_(parameters[i]);
                }
                else if (epoch - bestEpoch >= options.EarlyStoppingPatience)
                {
                    break;
                }
            }
            if (earlyStopping && bestEpoch == 0)
            {
                throw new InvalidOperationException("The validation loss was never finite; check the validation data or lower the learning rate.");
            }
            if (earlyStopping && bestEpoch != history.Count)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                for (int i = 0; i < parameters.Count; i++)
                    parameters[i].copy_(best![i]);
            }
            module.eval();
            return new NeuralNetworkTrainingResult(history, bestEpoch);
        }
        finally
        {
            foreach (var d in disposables)
                d.Dispose();
        }
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
}
