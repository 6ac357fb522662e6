using TorchSharp;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Trainers.Rebar.Modules;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>
/// Trains a sigmoid belief network (1 or 2 stochastic layers, linear or nonlinear) on a binary vector column by
/// maximising the ELBO with one of the <see cref="GradientEstimatorKind"/> estimators (REBAR by default, Tucker et al.
/// 2017). The <see cref="SigmoidBeliefNetworkTransformer"/> appends q(b₁ = 1 | x), the posterior probabilities of the
/// first latent layer's bits, and the row's ELBO. Create it with <c>ml.Transforms.SigmoidBeliefNetwork(...)</c>.
/// </summary>
public sealed partial class SigmoidBeliefNetworkEstimator : IEstimator<SigmoidBeliefNetworkTransformer>
{
    internal const string Role = "feature";
    private readonly IHostEnvironment _env;
    private readonly Options _options;

    /// <summary>Creates the estimator; prefer <c>ml.Transforms.SigmoidBeliefNetwork(...)</c>.</summary>
    public SigmoidBeliefNetworkEstimator(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.InputColumnName), nameof(options.InputColumnName), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.LatentColumnName), nameof(options.LatentColumnName), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.ElboColumnName) && options.ElboColumnName != options.LatentColumnName, nameof(options.ElboColumnName), "Must be a column name other than the latent column's.");
        Guard.CheckUserArg(options.LatentWidth >= 1, nameof(options.LatentWidth), $"Must be at least 1, got {options.LatentWidth}.");
        Guard.CheckUserArg(options.LatentLayers is 1 or 2, nameof(options.LatentLayers), $"Must be 1 or 2, got {options.LatentLayers}.");
        Guard.CheckUserArg(Enum.IsDefined(options.GradientEstimator), nameof(options.GradientEstimator), "Unknown estimator.");
        Guard.CheckUserArg(options.Steps >= 1, nameof(options.Steps), $"Must be at least 1, got {options.Steps}.");
        Guard.CheckUserArg(options.BatchSize >= 1, nameof(options.BatchSize), $"Must be at least 1, got {options.BatchSize}.");
        Guard.CheckUserArg(options.LearningRate > 0 && double.IsFinite(options.LearningRate), nameof(options.LearningRate), $"Must be positive and finite, got {options.LearningRate}.");
        Guard.CheckUserArg(options.ControlVariateLearningRateFactor > 0 && double.IsFinite(options.ControlVariateLearningRateFactor), nameof(options.ControlVariateLearningRateFactor), $"Must be positive and finite, got {options.ControlVariateLearningRateFactor}.");
        Guard.CheckUserArg(options.BinarizationThreshold is null or (> 0 and < 1), nameof(options.BinarizationThreshold), $"Must be null or in (0, 1), got {options.BinarizationThreshold}.");
        Guard.CheckUserArg(options.ElboSamples >= 1, nameof(options.ElboSamples), $"Must be at least 1, got {options.ElboSamples}.");
        Guard.CheckUserArg(options.TransformBatchSize >= 1, nameof(options.TransformBatchSize), $"Must be at least 1, got {options.TransformBatchSize}.");
        try
        {
            options.EstimatorOptions?.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException($"{nameof(options.EstimatorOptions)}.{e.ParamName}", e.ActualValue, e.Message);
        }
        _env = env;
        _options = options;
    }

    /// <summary>Checks the input column and adds the two columns.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a known-size Single vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ColumnRules.CheckVector(inputSchema, Role, _options.InputColumnName);
        return SchemaShapes.Append(inputSchema, SchemaShapes.SingleVector(_options.LatentColumnName), SchemaShapes.Single(_options.ElboColumnName));
    }

    /// <summary>Trains the network.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a known-size Single vector.</exception>
    /// <exception cref="InvalidOperationException">Empty data, or a NaN or infinite value (column and row named).</exception>
    /// <exception cref="ArgumentException">A value that is not 0 or 1 (without <see cref="Options.BinarizationThreshold"/>).</exception>
    public SigmoidBeliefNetworkTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        int width = ColumnRules.CheckVector(input.Schema, Role, o.InputColumnName);
        using var ctx = ComponentContext.Create(_env, "SigmoidBeliefNetwork", o.Seed, o.Device, o.CancellationToken);
        using var raw = DataLoading.LoadFeatures(input, o.InputColumnName, Role, rejectNonFinite: true, o.CancellationToken);
        if (raw.shape[0] == 0)
            throw new InvalidOperationException($"Column '{o.InputColumnName}': the data has no rows.");
        using var binary = Binarize(raw, o.BinarizationThreshold, o.InputColumnName);
        using var x = binary.to(ctx.Device);
        using var mean = binary.mean([0]);
        var module = SigmoidBeliefNetworkModule.Create(width, o.LatentWidth, o.LatentLayers, o.Nonlinear, mean, ctx.CreateGenerator("initialization", CPU));
        try
        {
            module.to(ctx.Device);
            ctx.Info($"Training a {o.LatentLayers}-layer {(o.Nonlinear ? "nonlinear" : "linear")} sigmoid belief network ({width} → {o.LatentWidth}) with {o.GradientEstimator} for {o.Steps} steps of {Math.Min(o.BatchSize, x.shape[0])} rows.");
            SigmoidBeliefNetworkTraining.Train(module, x, o, ctx);
            module.to(CPU);
            module.eval();
            var owner = new Components.Core.Modules.TorchModuleOwner<SigmoidBeliefNetworkModule>(module, CPU,
                () => new SigmoidBeliefNetworkModule(width, o.LatentWidth, o.LatentLayers, o.Nonlinear));
            return new SigmoidBeliefNetworkTransformer(_env, owner, o.InputColumnName, o.LatentColumnName, o.ElboColumnName,
                o.BinarizationThreshold, o.ElboSamples, o.TransformBatchSize, ctx.Seed, o.GradientEstimator);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>x &gt; t as 0/1, or a check that x is binary (the first bad value named).</summary>
    internal static Tensor Binarize(Tensor x, float? threshold, string column)
    {
        if (threshold is { } t)
            return x.gt(t).to(ScalarType.Float32);
        try
        {
            SigmoidBeliefNetworkData.CheckBinary(x, (int)x.shape[1], column);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Column '{column}': {e.Message}", e);
        }
        return x.alias();
    }
}
