using System.Diagnostics;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Core.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>
/// Learns a representation without labels: <c>Fit</c> trains a base MLP on the input vector column with the
/// neuron-local update rule of Metz et al. (ICLR 2019), the shipped one or one from a file, for
/// <see cref="Options.InnerSteps"/> steps on shuffled mini-batches; the <see cref="MetaLearnedFeaturizerTransformer"/> appends
/// the network's top-layer embedding. Create it with <c>ml.Transforms.MetaLearnedFeaturizer(...)</c>.
/// </summary>
/// <remarks>
/// The inner loop is not a loss minimised by an optimizer, so it does not run on the suite's TrainingEngine: it is a
/// plain loop over <see cref="TensorBatches"/> with a dispose scope per step, under <c>no_grad</c>, cancellation before
/// every step and progress in the MLContext log. At the end, the batch normalisation of each layer is frozen to the mean
/// and variance of its pre-activations over all fitting rows (<see cref="MetaLearnedFeaturizerModelParameters"/>).
/// </remarks>
public sealed partial class MetaLearnedFeaturizerEstimator : IEstimator<MetaLearnedFeaturizerTransformer>
{
    private const string Role = "feature";
    private const int StatisticsChunkRows = 4096;
    private readonly IHostEnvironment _env;
    private readonly Options _options;

    /// <summary>Creates the estimator; prefer <c>ml.Transforms.MetaLearnedFeaturizer(...)</c>.</summary>
    public MetaLearnedFeaturizerEstimator(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.InputColumnName), nameof(options.InputColumnName), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.OutputColumnName), nameof(options.OutputColumnName), "Must be a column name.");
        Guard.CheckUserArg(options.HiddenWidths is { Length: > 0 }, nameof(options.HiddenWidths), "Must list at least one width (the embedding).");
        Guard.CheckUserArg(options.HiddenWidths.All(w => w >= 1), nameof(options.HiddenWidths), $"Every width must be at least 1, got [{string.Join(", ", options.HiddenWidths ?? [])}].");
        Guard.CheckUserArg(Enum.IsDefined(options.Activation), nameof(options.Activation), "Unknown activation.");
        Guard.CheckUserArg(options.InnerSteps >= 0, nameof(options.InnerSteps), $"Must be non-negative, got {options.InnerSteps}.");
        Guard.CheckUserArg(options.BatchSize >= 2, nameof(options.BatchSize), $"Must be at least 2 (the rule pools over the batch), got {options.BatchSize}.");
        Guard.CheckUserArg(options.LearningRate > 0 && double.IsFinite(options.LearningRate), nameof(options.LearningRate), $"Must be positive and finite, got {options.LearningRate}.");
        Guard.CheckUserArg(options.TransformBatchSize > 0, nameof(options.TransformBatchSize), $"Must be positive, got {options.TransformBatchSize}.");
        Guard.CheckUserArg(options.RulePath is null || !string.IsNullOrWhiteSpace(options.RulePath), nameof(options.RulePath), "Must be a file path or null (the shipped rule).");
        _env = env;
        _options = options;
    }

    /// <summary>Checks the input column and adds the Single vector column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a Single vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ColumnRules.CheckVector(inputSchema, Role, _options.InputColumnName);
        return SchemaShapes.Append(inputSchema, SchemaShapes.SingleVector(_options.OutputColumnName));
    }

    /// <summary>Trains the base network on the input column with the update rule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a known-size Single vector.</exception>
    /// <exception cref="InvalidOperationException">Empty data, fewer than 2 rows, a NaN or infinite value (column and row named), or a network that diverged.</exception>
    /// <exception cref="FileNotFoundException">The rule file does not exist.</exception>
    /// <exception cref="FormatException">The rule file is unknown, truncated or corrupt.</exception>
    public MetaLearnedFeaturizerTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        int inputWidth = ColumnRules.CheckVector(input.Schema, Role, o.InputColumnName);
        using var ctx = ComponentContext.Create(_env, "MetaLearnedFeaturizer", o.Seed, o.Device, o.CancellationToken);
        using var rule = o.RulePath is null ? LocalUpdateRuleFile.LoadShipped() : LocalUpdateRuleFile.Load(o.RulePath);
        using var data = DataLoading.LoadFeatures(input, o.InputColumnName, Role, rejectNonFinite: true, o.CancellationToken);
        long rows = data.shape[0];
        if (rows < 2)
            throw new InvalidOperationException($"Column '{o.InputColumnName}': the data has {rows} row; the featurizer needs at least 2 (its normalisation pools over rows).");
        rule.to(ctx.Device);
        int[] widths = [inputWidth, .. o.HiddenWidths];
        ctx.Info($"Training a {string.Join("-", widths)} {o.Activation} network on {rows} rows for {o.InnerSteps} steps of {Math.Min(o.BatchSize, rows)} rows with the {(o.RulePath is null ? "shipped" : $"'{o.RulePath}'")} update rule.");
        using var onDevice = data.to(ctx.Device);
        var net = Train(rule, BaseNetworkState.Create(widths, ctx.Seed, o.Activation), onDevice, ctx);
        try
        {
            var network = MetaLearnedFeaturizerModelParameters.Freeze(net, onDevice, StatisticsChunkRows);
            return new MetaLearnedFeaturizerTransformer(_env, network, o.InputColumnName, o.OutputColumnName, o.TransformBatchSize, o.RulePath ?? "shipped");
        }
        finally
        {
            net.Dispose();
        }
    }

    private BaseNetworkState Train(LocalUpdateRule rule, BaseNetworkState initial, Tensor data, ComponentContext ctx)
    {
        var o = _options;
        var net = initial;
        if (ctx.Device.type != DeviceType.CPU)
        {
            var moved = BaseNetworkState.FromTensors([.. net.W.Select(t => t.to(ctx.Device))], [.. net.Bias.Select(t => t.to(ctx.Device))],
                [.. net.Backward.Select(t => t.to(ctx.Device))], net.Activation);
            net.Dispose();
            net = moved;
        }
        try
        {
            using var noGrad = no_grad();
            int batchSize = (int)Math.Min(o.BatchSize, data.shape[0]);
            var batches = new TensorBatches([data], batchSize, ctx.CreateGenerator("shuffle", CPU), dropLast: true);
            var clock = Stopwatch.StartNew();
            int step = 0, epoch = 0;
            long logEvery = Math.Max(1, o.InnerSteps / 10);
            while (step < o.InnerSteps)
            {
                using var epochScope = NewDisposeScope();
                batches.BeginEpoch(++epoch);
                while (step < o.InnerSteps)
                {
                    ctx.CheckCancelled();
                    using var stepScope = NewDisposeScope();
                    if (!batches.TryGetNext(out var batch))
                        break;
                    var next = InnerLoop.Step(rule, net, batch[0], o.LearningRate);
                    if (next.W.Any(w => !w.isfinite().all().item<bool>()) || next.Bias.Any(b => !b.isfinite().all().item<bool>()))
                        throw new InvalidOperationException($"The base network's weights became NaN or infinite at inner step {step + 1}; lower {nameof(Options.LearningRate)} (now {o.LearningRate}) or use another rule.");
                    var kept = next.Detach();
                    net.Dispose();
                    net = kept;
                    step++;
                    ctx.Trace($"inner step {step}/{o.InnerSteps}");
                    if (step % logEvery == 0 || step == o.InnerSteps)
                        ctx.Info($"Inner step {step}/{o.InnerSteps} (epoch {epoch}), {clock.Elapsed.TotalSeconds:F1} s.");
                }
            }
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }
}
