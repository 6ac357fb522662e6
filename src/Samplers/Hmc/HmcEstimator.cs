using System.Diagnostics;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Samplers.Sampling;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Components.Samplers.Hmc;

/// <summary>
/// Estimator of <see cref="HmcModel"/> (<c>ml.Samplers.Hmc(…)</c>): <c>Fit</c> runs the chains seeded by the
/// initial-state column while adapting the step size by dual averaging, then returns a model that maps initial
/// states to states after N HMC transitions and draws samples.
/// </summary>
public sealed partial class HmcEstimator : IEstimator<HmcModel>
{
    private readonly IHostEnvironment _env;
    private readonly Options _options;

    internal HmcEstimator(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        SamplerEstimatorHelpers.CheckCommonOptions(options);
        Guard.CheckUserArg(options.TargetAcceptance > 0 && options.TargetAcceptance < 1, nameof(options.TargetAcceptance), "Must be in (0, 1).");
        Guard.CheckUserArg(options.AdaptationSteps >= 0, nameof(options.AdaptationSteps), "Must be non-negative.");
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
    public HmcModel Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var energy = o.Energy!;
        using var ctx = ComponentContext.Create(_env, nameof(HmcEstimator), o.Seed, o.Device, o.CancellationToken);
        using var scope = torch.NewDisposeScope();
        var x0 = SamplerEstimatorHelpers.LoadChains(input, o.InitialStateColumnName, energy, o.Chains, ctx.Device, o.CancellationToken);
        var sampler = new HmcSampler(energy, o.StepSize, o.LeapfrogSteps);
        ctx.Info($"HMC on '{energy.Name}' (d = {energy.Dimension}): {o.Chains} chains, L = {o.LeapfrogSteps}, ε₀ = {o.StepSize}, " +
                 $"{o.AdaptationSteps} dual-averaging steps to acceptance {o.TargetAcceptance}, device {ctx.Device}.");
        var clock = Stopwatch.StartNew();
        double sumAcc = 0;
        int n = 0;
        var final = sampler.Adapt(x0, o.AdaptationSteps, o.TargetAcceptance, ctx.CreateGenerator("transition-noise"), (step, acc, eps) =>
        {
            sumAcc += acc;
            n++;
            if (step % o.LogInterval == 0 || step == o.AdaptationSteps - 1)
            {
                ctx.Info($"Adaptation step {step + 1}/{o.AdaptationSteps}: acceptance {sumAcc / n:F3} (mean since last line), ε = {eps:G4}.");
                sumAcc = 0;
                n = 0;
            }
        }, o.CancellationToken);
        ctx.Info($"HMC adaptation done in {clock.Elapsed.TotalSeconds:F1} s: ε = {sampler.StepSize:G4}.");
        return new HmcModel(_env, new SamplerColumns(o.InitialStateColumnName, o.OutputColumnName, o.AcceptanceColumnName),
            energy, o.Transitions, ctx.Seed, TensorData.ToSingleArray(final), sampler.StepSize, o.LeapfrogSteps, ctx.Device);
    }
}
