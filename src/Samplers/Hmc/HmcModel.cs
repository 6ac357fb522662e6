using Components.Core.Persistence;
using Components.Samplers.Energies;
using Components.Samplers.Sampling;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Samplers.Hmc;

/// <summary>
/// A tuned HMC sampler: maps a vector column of initial states to the states after <c>Transitions</c> HMC
/// transitions (and the fraction accepted), and draws samples with <see cref="SamplerModelBase.Sample"/>.
/// Saved and loaded with <c>ml.Model.Save</c>/<c>Load</c> (call <c>ml.RegisterComponents()</c> before loading).
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class HmcModel : SamplerModelBase
{
    internal const string LoaderSignature = "HmcSamplerModel";
    private static readonly ModelVersion s_version = new("HMCSAMPL", 1, 1, LoaderSignature);
    private readonly LeapfrogKernel _kernel;

    internal HmcModel(IHostEnvironment env, SamplerColumns columns, EnergyFunction energy, int transitions, int seed, float[] chainStates,
        double stepSize, int leapfrogSteps, Device? device = null)
        : base(env, nameof(HmcModel), columns, energy, transitions, seed, chainStates, device)
        => _kernel = new LeapfrogKernel(energy, stepSize, leapfrogSteps);

    /// <summary>The (adapted) leapfrog step size ε.</summary>
    public double StepSize => _kernel.StepSize;

    /// <summary>Leapfrog steps per transition.</summary>
    public int LeapfrogSteps => _kernel.LeapfrogSteps;

    private protected override ITransitionKernel Kernel => _kernel;

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(HmcModel));
        // *** Binary format ***
        // shared part (SamplerModelBase.WriteCommon)
        // double: step size ε; int: leapfrog steps L
        WriteCommon(w.Writer);
        w.Writer.Write(StepSize);
        w.Writer.Write(LeapfrogSteps);
    }

    /// <summary>Loads a model saved by <c>ml.Model.Save</c>.</summary>
    public static HmcModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var (columns, transitions, seed, energy, states) = ReadCommon(r);
        double eps = r.ReadDouble();
        int l = r.ReadInt32();
        BinaryFormat.CheckDecode(eps > 0 && double.IsFinite(eps) && l >= 1, "HMC parameters");
        return new HmcModel(env, columns, energy, transitions, seed, states, eps, l);
    }
}
