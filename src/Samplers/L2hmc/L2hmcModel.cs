using Components.Core.Modules;
using Components.Core.Persistence;
using Components.Samplers.Energies;
using Components.Samplers.Sampling;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.L2hmc;

/// <summary>
/// A trained L2HMC sampler: maps a vector column of initial states to the states after <c>Transitions</c> L2HMC
/// transitions (and the fraction accepted), and draws samples with <see cref="SamplerModelBase.Sample"/>.
/// Saved and loaded with <c>ml.Model.Save</c>/<c>Load</c> (call <c>ml.RegisterComponents()</c> before loading);
/// owns TorchSharp modules (through a <see cref="TorchModuleOwner{TModule}"/>, so several threads may map rows at once): dispose it.
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class L2hmcModel : SamplerModelBase
{
    internal const string LoaderSignature = "L2hmcSamplerModel";
    private static readonly ModelVersion s_version = new("L2HMCSMP", 2, 1, LoaderSignature);
    private readonly L2hmcSampler _sampler;
    private readonly L2hmcProgress[] _history;
    private readonly TorchModuleOwner<L2hmcDynamics> _owner;

    internal L2hmcModel(IHostEnvironment env, SamplerColumns columns, EnergyFunction energy, int transitions, int seed, float[] chainStates,
        L2hmcSampler sampler, IReadOnlyList<L2hmcProgress> history, Device? device = null)
        : base(env, nameof(L2hmcModel), columns, energy, transitions, seed, chainStates, device)
    {
        _sampler = sampler;
        var dynamics = sampler.Dynamics;
        int d = dynamics.Dimension, t = dynamics.LeapfrogSteps;
        var widths = dynamics.HiddenWidths.ToArray();
        _owner = new TorchModuleOwner<L2hmcDynamics>(dynamics, Device, () =>
        {
            using var generator = new torch.Generator(0, torch.CPU);
            return new L2hmcDynamics(d, t, widths, stepSize: 1, trainStepSize: false, generator);
        });
        _history = history.ToArray();
    }

    /// <summary>The trained step size ε.</summary>
    public double StepSize => _sampler.StepSize;

    /// <summary>Augmented leapfrog steps per transition.</summary>
    public int LeapfrogSteps => _sampler.LeapfrogSteps;

    /// <summary>Progress records of training (every <c>LogInterval</c> steps and the last); empty after loading.</summary>
    public IReadOnlyList<L2hmcProgress> TrainingHistory => _history;

    /// <summary>The underlying math-core sampler (owned by this model).</summary>
    public L2hmcSampler Sampler => _sampler;

    private protected override ITransitionKernel Kernel => _sampler.Kernel;

    /// <inheritdoc/>
    private protected override T RunKernel<T>(Func<ITransitionKernel, T> run)
        => _owner.Run(dynamics => run(ReferenceEquals(dynamics, _sampler.Dynamics) ? _sampler.Kernel : new L2hmcKernel(Energy, dynamics)));

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(L2hmcModel));
        // *** Binary format ***
        // shared part (SamplerModelBase.WriteCommon)
        // int: leapfrog steps T; int: hidden units (width of the first layer)
        // version 2 on: int[]: layer widths (BinaryFormat.WriteInts; version 1 means [hidden units, hidden units])
        // stream TSModel: TorchSharp state dict of the dynamics (alpha = log ε, masks [T, d], VNet, XNet)
        WriteCommon(w.Writer);
        w.Writer.Write(_sampler.LeapfrogSteps);
        w.Writer.Write(_sampler.HiddenUnits);
        w.Writer.WriteInts(_sampler.HiddenWidths.ToArray());
        _owner.Save(w);
    }

    /// <summary>Loads a model saved by <c>ml.Model.Save</c>.</summary>
    public static L2hmcModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var (columns, transitions, seed, energy, states) = ReadCommon(r);
        int t = r.ReadInt32(), hidden = r.ReadInt32();
        BinaryFormat.CheckDecode(t >= 1 && t <= 1 << 16 && hidden >= 1 && hidden <= L2hmcSampler.MaxWidth, "L2HMC sizes");
        int[] widths = reader.VersionWritten >= 2 ? r.ReadInts(L2hmcSampler.MaxLayers) : [hidden, hidden];
        BinaryFormat.CheckDecode(widths.Length >= 2 && widths[0] == hidden && widths.All(h => h >= 1 && h <= L2hmcSampler.MaxWidth), "L2HMC layer widths");
        using var generator = new torch.Generator(0, torch.CPU);
        var sampler = new L2hmcSampler(energy, generator, t, hidden, hiddenWidths: widths);
        try
        {
            reader.LoadModule(sampler.Dynamics);
            return new L2hmcModel(env, columns, energy, transitions, seed, states, sampler, []);
        }
        catch
        {
            sampler.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _owner.Dispose(); // the sampler's dynamics and every copy
        base.Dispose(disposing);
    }
}
