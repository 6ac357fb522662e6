using System.Diagnostics;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Samplers.Sampling;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Components.Samplers.L2hmc;

/// <summary>
/// Estimator of <see cref="L2hmcModel"/> (<c>ml.Samplers.L2hmc(…)</c>): <c>Fit</c> trains the L2HMC networks and
/// step size on parallel chains seeded by the initial-state column, with the paper's loss, and returns a model that
/// maps initial states to states after N L2HMC transitions and draws samples.
/// </summary>
public sealed partial class L2hmcEstimator : IEstimator<L2hmcModel>
{
    private readonly IHostEnvironment _env;
    private readonly Options _options;

    internal L2hmcEstimator(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        SamplerEstimatorHelpers.CheckCommonOptions(options);
        Guard.CheckUserArg(options.HiddenUnits >= 1, nameof(options.HiddenUnits), "Must be at least 1.");
        if (options.HiddenLayerWidths is { } widths)
            Guard.CheckUserArg(widths.Length >= 2 && widths.Length <= L2hmcSampler.MaxLayers && widths.All(h => h >= 1 && h <= L2hmcSampler.MaxWidth),
                nameof(options.HiddenLayerWidths),
                $"Must have 2 to {L2hmcSampler.MaxLayers} entries (the embedding width, then each hidden layer's), each in [1, {L2hmcSampler.MaxWidth}]; got [{string.Join(", ", widths)}].");
        Guard.CheckUserArg(options.TrainingSteps >= 0, nameof(options.TrainingSteps), "Must be non-negative.");
        Guard.CheckUserArg(options.LearningRate > 0 && double.IsFinite(options.LearningRate), nameof(options.LearningRate), "Must be positive and finite.");
        Guard.CheckUserArg(options.LearningRateDecay > 0 && options.LearningRateDecay <= 1, nameof(options.LearningRateDecay), "Must be in (0, 1].");
        Guard.CheckUserArg(options.LearningRateDecaySteps >= 1, nameof(options.LearningRateDecaySteps), "Must be at least 1.");
        Guard.CheckUserArg(options.Scale > 0 && double.IsFinite(options.Scale), nameof(options.Scale), "Must be positive and finite.");
        Guard.CheckUserArg(options.BurnInWeight >= 0 && double.IsFinite(options.BurnInWeight), nameof(options.BurnInWeight), "Must be non-negative and finite.");
        Guard.CheckUserArg(options.InitialTemperature >= 1 && double.IsFinite(options.InitialTemperature), nameof(options.InitialTemperature), "Must be finite and at least 1.");
        Guard.CheckUserArg(options.AnnealingSteps >= 0, nameof(options.AnnealingSteps), "Must be non-negative.");
        _env = env;
        _options = options;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return SamplerEstimatorHelpers.OutputShape(inputSchema, _options.InitialStateColumnName, _options.OutputColumnName, _options.AcceptanceColumnName);
    }

    /// <inheritdoc/>
    public L2hmcModel Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var energy = o.Energy!;
        using var ctx = ComponentContext.Create(_env, nameof(L2hmcEstimator), o.Seed, o.Device, o.CancellationToken);
        using var scope = torch.NewDisposeScope();
        var x0 = SamplerEstimatorHelpers.LoadChains(input, o.InitialStateColumnName, energy, o.Chains, ctx.Device, o.CancellationToken);
        var sampler = new L2hmcSampler(energy, ctx.CreateGenerator("initialization", torch.CPU), o.LeapfrogSteps, o.HiddenUnits, o.StepSize, o.TrainStepSize,
            o.HiddenLayerWidths?.ToArray()).To(ctx.Device);
        try
        {
            ctx.Info($"L2HMC on '{energy.Name}' (d = {energy.Dimension}): {o.Chains} chains, T = {o.LeapfrogSteps}, ε₀ = {o.StepSize}, " +
                     $"layer widths [{string.Join(", ", sampler.HiddenWidths)}], {o.TrainingSteps} Adam steps (lr {o.LearningRate} × {o.LearningRateDecay}^⌊step/{o.LearningRateDecaySteps}⌋), " +
                     $"λ = {o.Scale}, burn-in weight {o.BurnInWeight}, device {ctx.Device}.");
            var clock = Stopwatch.StartNew();
            var (final, history) = sampler.Train(x0, o.TrainingSteps, ctx.CreateGenerator("training-noise"), o.LearningRate, o.LearningRateDecay, o.LearningRateDecaySteps,
                o.Scale, o.BurnInWeight, o.LogInterval,
                p => ctx.Info($"Step {p.Step + 1}/{o.TrainingSteps}: loss {p.Loss:G4}, acceptance {p.Acceptance:F3}, ε = {p.StepSize:G4}, " +
                              $"lr {p.LearningRate:G3}{(p.Temperature != 1 ? $", temperature {p.Temperature:G3}" : "")}" +
                              $"{(p.SkippedSteps > 0 ? $", {p.SkippedSteps} non-finite steps skipped" : "")}."),
                o.CancellationToken, o.InitialTemperature, o.AnnealingSteps);
            ctx.Info($"L2HMC training done in {clock.Elapsed.TotalSeconds:F1} s: ε = {sampler.StepSize:G4}.");
            return new L2hmcModel(_env, new SamplerColumns(o.InitialStateColumnName, o.OutputColumnName, o.AcceptanceColumnName),
                energy, o.Transitions, ctx.Seed, TensorData.ToSingleArray(final), sampler, history, ctx.Device);
        }
        catch
        {
            sampler.Dispose();
            throw;
        }
    }
}
