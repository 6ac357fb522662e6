using System.Diagnostics;
using Components.Core.Mapping;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Components.Trainers.Gan;

/// <summary>
/// Estimator of <see cref="GanModel"/> (<c>ml.Generative.Gan(…)</c>): <c>Fit</c> trains a generator and a
/// discriminator on the rows of a vector column, the discriminator as a logistic density-ratio estimator
/// (r(x) = log p_data(x)/q_G(x) at its optimum) and the generator with the chosen f-divergence objective
/// E[g(e^{r(G(z))})] (Poole et al., arXiv:1612.02780). The model maps a noise column to a generated column, draws
/// samples (<see cref="GanModel.Sample"/>), and exposes the discriminator's log ratio as a realism score
/// (<c>ml.Generative.GanLogDensityRatio(model)</c>).
/// </summary>
/// <remarks>
/// <c>Fit</c> reads only the feature column. The model's <c>Transform</c> reads the noise column, so
/// <see cref="GetOutputSchema"/> needs both (it describes <c>Fit(data).Transform(data)</c>).
/// </remarks>
public sealed partial class GanEstimator : IEstimator<GanModel>
{
    private readonly IHostEnvironment _env;
    private readonly Options _options;
    private readonly GeneratorObjective _objective;
    private readonly GeneratorObjective? _final;
    private readonly int[] _hidden;

    internal GanEstimator(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        var o = options;
        foreach (var (name, value) in new[] { (nameof(o.FeatureColumnName), o.FeatureColumnName), (nameof(o.NoiseColumnName), o.NoiseColumnName), (nameof(o.OutputColumnName), o.OutputColumnName) })
            Guard.CheckUserArg(!string.IsNullOrWhiteSpace(value), name, "Must be a column name.");
        Guard.CheckUserArg(o.NoiseColumnName != o.OutputColumnName, nameof(o.OutputColumnName), "Must differ from the noise column.");
        Guard.CheckUserArg(Enum.IsDefined(o.Network), nameof(o.Network), $"Unknown network kind {o.Network}.");
        Guard.CheckUserArg(o.LatentSize >= 1 && o.LatentSize <= 1 << 16, nameof(o.LatentSize), $"Must be in [1, 65536], got {o.LatentSize}.");
        _hidden = o.HiddenUnits is null ? Enumerable.Repeat(Defaults.HiddenUnits, Defaults.HiddenLayers).ToArray() : [.. o.HiddenUnits];
        Guard.CheckUserArg(_hidden.Length >= 1 && _hidden.Length <= 64 && _hidden.All(h => h >= 1 && h <= 1 << 16), nameof(o.HiddenUnits),
            "Give 1 to 64 widths, each in [1, 65536].");
        Guard.CheckUserArg(o.Channels >= 1 && o.Channels <= 512, nameof(o.Channels), $"Must be in [1, 512], got {o.Channels}.");
        Guard.CheckUserArg(o.Steps >= 0, nameof(o.Steps), $"Must be non-negative, got {o.Steps}.");
        Guard.CheckUserArg(o.DiscriminatorSteps >= 1, nameof(o.DiscriminatorSteps), $"Must be at least 1, got {o.DiscriminatorSteps}.");
        Guard.CheckUserArg(o.BatchSize >= 1, nameof(o.BatchSize), $"Must be at least 1, got {o.BatchSize}.");
        Guard.CheckUserArg(o.GeneratorLearningRate > 0 && double.IsFinite(o.GeneratorLearningRate), nameof(o.GeneratorLearningRate), "Must be positive and finite.");
        Guard.CheckUserArg(o.DiscriminatorLearningRate > 0 && double.IsFinite(o.DiscriminatorLearningRate), nameof(o.DiscriminatorLearningRate), "Must be positive and finite.");
        Guard.CheckUserArg(o.Beta1 >= 0 && o.Beta1 < 1, nameof(o.Beta1), $"Must be in [0, 1), got {o.Beta1}.");
        Guard.CheckUserArg(o.LogInterval >= 1, nameof(o.LogInterval), $"Must be at least 1, got {o.LogInterval}.");
        Guard.CheckUserArg(o.InferenceBatchSize >= 1, nameof(o.InferenceBatchSize), $"Must be at least 1, got {o.InferenceBatchSize}.");
        Guard.CheckUserArg(o.FinalObjective is null || Enum.IsDefined(o.FinalObjective.Value), nameof(o.FinalObjective), "Unknown objective.");
        try
        {
            _objective = GeneratorObjective.Create(o.Objective, o.Alpha, o.CustomF);
            _final = o.FinalObjective is { } fin ? GeneratorObjective.Create(fin, o.Alpha, o.CustomF) : null;
        }
        catch (ArgumentException ex)
        {
            string param = ex.ParamName == "alpha" ? nameof(o.Alpha) : ex.ParamName == "kind" ? nameof(o.Objective) : nameof(o.CustomF);
            throw new ArgumentOutOfRangeException(param, ex.Message);
        }
        _env = env;
        _options = o;
    }

    /// <summary>Checks the feature and noise columns and adds the generated column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or is not a Single vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ColumnRules.CheckVector(inputSchema, "feature", _options.FeatureColumnName);
        ColumnRules.CheckVector(inputSchema, "noise", _options.NoiseColumnName);
        return SchemaShapes.Append(inputSchema, GanModel.OutputSpec(_options.OutputColumnName, _options.Network, 1).ToShape());
    }

    /// <summary>Trains the two networks on the feature column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The feature column is missing, not a Single vector, or (DCGAN) not of 784 values.</exception>
    /// <exception cref="InvalidOperationException">A value is NaN or infinite, or the data has no rows.</exception>
    public GanModel Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        int size = ColumnRules.CheckVector(input.Schema, "feature", o.FeatureColumnName,
            o.Network == GanNetworkKind.Dcgan ? GanArchitecture.ImageSide * GanArchitecture.ImageSide : null);
        using var ctx = ComponentContext.Create(_env, nameof(GanEstimator), o.Seed, o.Device, o.CancellationToken);
        using var scope = torch.NewDisposeScope();
        using var loaded = DataLoading.LoadFeatures(input, o.FeatureColumnName, "feature", cancellation: o.CancellationToken);
        if (loaded.shape[0] == 0)
            throw new InvalidOperationException($"The feature column '{o.FeatureColumnName}' has no rows: a GAN needs training data.");
        var data = loaded.to(ctx.Device);
        var arch = new GanArchitecture(o.Network, size, o.LatentSize, _hidden, o.Channels);
        var init = ctx.CreateGenerator("initialization", torch.CPU);
        var g = new GanGenerator(arch, init);
        var d = new GanDiscriminator(arch, init);
        try
        {
            g.to(ctx.Device);
            d.to(ctx.Device);
            var settings = new GanTrainingSettings(_objective, _final, o.Steps, o.DiscriminatorSteps, o.BatchSize,
                o.GeneratorLearningRate, o.DiscriminatorLearningRate, o.Beta1, o.LogInterval);
            ctx.Info(FormattableString.Invariant(
                $"GAN ({arch}) on {data.shape[0]} rows: objective {_objective.Name}{(_final is null ? "" : $" → {_final.Name}")}, {o.Steps} generator steps × {o.DiscriminatorSteps} discriminator steps, batch {o.BatchSize}, device {ctx.Device}."));
            var clock = Stopwatch.StartNew();
            var history = GanTraining.Train(g, d, data, settings, ctx.CreateGenerator("shuffle", torch.CPU), ctx.CreateGenerator("training-noise"),
                ctx, o.CancellationToken);
            ctx.Info(FormattableString.Invariant($"GAN training done in {clock.Elapsed.TotalSeconds:F1} s."));
            return new GanModel(_env, arch, g, d, ctx.Device, o.NoiseColumnName, o.OutputColumnName, o.FeatureColumnName,
                _objective.Name + (_final is null ? "" : " → " + _final.Name), ctx.Seed, o.InferenceBatchSize, history);
        }
        catch
        {
            g.Dispose();
            d.Dispose();
            throw;
        }
    }
}
