using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Runtime;
using Components.Core.Tensors;
using Components.Samplers.Energies;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Sampling;

/// <summary>
/// Shared part of the sampler models: maps a vector column of initial states to the state after
/// <see cref="Transitions"/> Metropolis–Hastings transitions (plus the row's acceptance rate), and draws samples
/// from the chains kept at the end of <c>Fit</c>.
/// </summary>
/// <remarks>
/// <para><b>Reproducible randomness.</b> The random inputs of row <c>p</c> (its position in the input data) are a
/// fixed function of (model seed, p, transition), independent of batching: Transform, PredictionEngine and a saved
/// then reloaded model give the same output for the same row, while rows, even with equal initial states, get
/// independent chains. Re-ordering the input re-assigns the noise.</para>
/// </remarks>
public abstract class SamplerModelBase : AppendColumnsTransformer
{
    private readonly float[] _chainStates;

    /// <summary>Creates the model.</summary>
    private protected SamplerModelBase(IHostEnvironment env, string name, SamplerColumns columns, EnergyFunction energy, int transitions,
        int seed, float[] chainStates, Device? device)
        : base(env, name)
    {
        Energy = energy;
        Columns = columns;
        Transitions = transitions;
        Seed = seed;
        _chainStates = chainStates;
        int d = energy.Dimension;
        Inputs = [new InputColumn(columns.InitialState, d, "initial state")];
        Outputs = [OutputColumn.Vector(columns.Output, d), OutputColumn.Scalar(columns.Acceptance)];
        if (device is null)
        {
            var settings = CatalogEnvironment.Settings(env);
            device = DeviceResolver.Resolve(null, settings.GpuDeviceId, settings.FallbackToCpu);
        }
        Device = device;
    }

    /// <summary>The target.</summary>
    public EnergyFunction Energy { get; }

    /// <summary>Transitions applied to each row.</summary>
    public int Transitions { get; }

    /// <summary>Seed of the model's randomness (row mapping and <see cref="Sample"/>).</summary>
    public int Seed { get; }

    /// <summary>Number of chains kept from <c>Fit</c> (the starting points of <see cref="Sample"/>).</summary>
    public int Chains => _chainStates.Length / Energy.Dimension;

    /// <summary>Gradient evaluations per transition.</summary>
    public int GradientsPerTransition => Kernel.GradientsPerTransition;

    /// <summary>
    /// Device used for mapping and sampling: the training device for a fitted model, the loading environment's
    /// (MLContext.GpuDeviceId / FallbackToCpu) for a loaded one.
    /// </summary>
    protected Device Device { get; }

    private protected SamplerColumns Columns { get; }

    /// <summary>The chains' states at the end of <c>Fit</c>, <c>[Chains, d]</c> row-major (a copy).</summary>
    public float[] GetChainStates() => (float[])_chainStates.Clone();

    private protected abstract ITransitionKernel Kernel { get; }

    /// <summary>Runs <paramref name="run"/> with a kernel no other thread uses at the same time (models that own a module override it).</summary>
    private protected virtual T RunKernel<T>(Func<ITransitionKernel, T> run) => run(Kernel);

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        int rows = batch.Rows, d = Energy.Dimension;
        long first = batch.FirstRowPosition;
        using var scope = torch.NewDisposeScope();
        var x0 = TensorData.FromSpan(batch.Input(0), [rows, d], Device);
        var column = Columns.InitialState;
        var (final, accepted) = RunKernel(kernel => ChainRunner.RunToEnd(kernel, x0, Transitions, new RowNoise(Seed, first),
            i => $"column '{column}', {batch.DescribeRow(i)}"));
        final.CopyTo(batch.Output(0));
        accepted.CopyTo(batch.Output(1));
    }

    /// <summary>
    /// Draws <paramref name="count"/> samples as an IDataView with columns <c>Sample</c> (the model's output column
    /// name; vector of the energy's dimension), <c>Chain</c> and <c>Step</c>. The chains continue from the states
    /// kept at the end of <c>Fit</c> (min(count, <see cref="Chains"/>) of them, in parallel); rows are ordered by
    /// step, then chain. The same arguments give the same samples.
    /// </summary>
    /// <param name="count">Number of samples (one or more).</param>
    /// <param name="burnIn">Transitions discarded first.</param>
    /// <param name="thin">Transitions between recorded samples of a chain (one or more).</param>
    /// <param name="seed">Seed of the draw; default the model's seed.</param>
    public IDataView Sample(int count, int burnIn = 0, int thin = 1, int? seed = null)
    {
        if (count < 1)
            throw new ArgumentOutOfRangeException(nameof(count), count, "At least one sample must be drawn.");
        var trace = SampleChains((count + Math.Min(count, Chains) - 1) / Math.Min(count, Chains), burnIn, thin, seed, Math.Min(count, Chains));
        int d = Energy.Dimension;
        var values = new float[count * d];
        var chain = new int[count];
        var step = new int[count];
        trace.Samples[..(count * d)].CopyTo(values);
        for (int i = 0; i < count; i++)
        {
            chain[i] = i % trace.Chains;
            step[i] = i / trace.Chains;
        }
        return new SamplesDataView(Columns.Output, d, values, chain, step);
    }

    /// <summary>
    /// Runs the kept chains (or the first <paramref name="chains"/> of them) and records
    /// <paramref name="steps"/> states per chain, for diagnostics (<see cref="Diagnostics.McmcDiagnostics"/>).
    /// </summary>
    /// <param name="steps">Recorded steps per chain.</param>
    /// <param name="burnIn">Transitions discarded first.</param>
    /// <param name="thin">Transitions per recorded step.</param>
    /// <param name="seed">Seed; default the model's seed.</param>
    /// <param name="chains">Chains to run (default all kept chains).</param>
    /// <param name="cancellation">Cancellation token, checked every transition.</param>
    public ChainTrace SampleChains(int steps, int burnIn = 0, int thin = 1, int? seed = null, int? chains = null, CancellationToken cancellation = default)
    {
        Hmc.HmcSampler.CheckRun(steps, burnIn, thin);
        int c = chains ?? Chains;
        if (c < 1 || c > Chains)
            throw new ArgumentOutOfRangeException(nameof(chains), c, $"Between 1 and {Chains} chains can be run.");
        int d = Energy.Dimension;
        using var scope = torch.NewDisposeScope();
        var x0 = TensorData.FromSpan(_chainStates.AsSpan(0, c * d), [c, d], Device);
        using var generator = new torch.Generator((ulong)(uint)(seed ?? Seed) ^ 0x5A5A5A5AUL, Device.type == DeviceType.CUDA ? Device : torch.CPU);
        return RunKernel(kernel => ChainRunner.Run(kernel, x0, burnIn, steps, thin, new GeneratorNoise(generator), cancellation,
            i => $"kept chain {i}").Trace);
    }

    /// <summary>Writes the shared part of the model.</summary>
    private protected void WriteCommon(BinaryWriter w)
    {
        // *** Binary format (shared part) ***
        // string: initial-state column, output column, acceptance column
        // int: transitions; int: seed
        // energy: kind string, then its parameters (see EnergyFunction.Write)
        // int: chains; float[]: chain states (length-prefixed, chains × d)
        w.Write(Columns.InitialState);
        w.Write(Columns.Output);
        w.Write(Columns.Acceptance);
        w.Write(Transitions);
        w.Write(Seed);
        Energy.Write(w);
        w.Write(Chains);
        w.WriteSingles(_chainStates);
    }

    /// <summary>Reads the shared part written by <see cref="WriteCommon"/>.</summary>
    private protected static (SamplerColumns Columns, int Transitions, int Seed, EnergyFunction Energy, float[] States) ReadCommon(BinaryReader r)
    {
        var columns = new SamplerColumns(r.ReadString(), r.ReadString(), r.ReadString());
        int transitions = r.ReadInt32();
        int seed = r.ReadInt32();
        BinaryFormat.CheckDecode(transitions >= 1, "transitions");
        var energy = EnergyFunction.Read(r);
        int chains = r.ReadInt32();
        BinaryFormat.CheckDecode(chains >= 1, "chains");
        var states = r.ReadSingles(1 << 28);
        BinaryFormat.CheckDecode(states.Length == (long)chains * energy.Dimension && states.All(float.IsFinite), "chain states");
        return (columns, transitions, seed, energy, states);
    }
}

/// <summary>Column names of a sampler model.</summary>
/// <param name="InitialState">Input column of initial states.</param>
/// <param name="Output">Output column of final states.</param>
/// <param name="Acceptance">Output column of acceptance rates.</param>
internal sealed record SamplerColumns(string InitialState, string Output, string Acceptance);
