using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Persistence;
using Components.Core.Randomness;
using Components.Core.Schema;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Gan;

/// <summary>
/// A trained GAN: maps a noise column (Single vectors of the latent size, N(0, I) rows) to a generated column
/// (Single vectors of the data's size; DCGAN rows carry the 1×28×28 image shape), draws samples with
/// <see cref="Sample"/>, and holds the discriminator, whose log density ratio r(x) = log p_data(x)/q_G(x) is a realism
/// (or, negated, anomaly) score: <c>ml.Generative.GanLogDensityRatio(model)</c>, or <see cref="LogDensityRatio"/> on
/// tensors. Saved and loaded with <c>ml.Model.Save</c>/<c>Load</c> (call <c>ml.RegisterComponents()</c> before
/// loading); owns TorchSharp modules (safe on several threads): dispose it.
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class GanModel : AppendColumnsTransformer
{
    internal const string LoaderSignature = "GanModel";
    private static readonly ModelVersion s_version = new("GANMODEL", 1, 1, LoaderSignature);
    private readonly TorchModuleOwner<GanGenerator> _generator;
    private readonly TorchModuleOwner<GanDiscriminator> _discriminator;
    private readonly GanProgress[] _history;
    private readonly int _batchSize;

    internal GanModel(IHostEnvironment env, GanArchitecture architecture, GanGenerator generator, GanDiscriminator discriminator, Device device,
        string noiseColumnName, string outputColumnName, string featureColumnName, string objective, int seed, int batchSize, IReadOnlyList<GanProgress> history)
        : this(env, architecture,
            new TorchModuleOwner<GanGenerator>(generator, device, () => new GanGenerator(architecture)),
            new TorchModuleOwner<GanDiscriminator>(discriminator, device, () => new GanDiscriminator(architecture)),
            noiseColumnName, outputColumnName, featureColumnName, objective, seed, batchSize, history)
    {
    }

    private GanModel(IHostEnvironment env, GanArchitecture architecture, TorchModuleOwner<GanGenerator> generator, TorchModuleOwner<GanDiscriminator> discriminator,
        string noiseColumnName, string outputColumnName, string featureColumnName, string objective, int seed, int batchSize, IReadOnlyList<GanProgress> history)
        : base(env, nameof(GanModel))
    {
        Architecture = architecture;
        _generator = generator;
        _discriminator = discriminator;
        NoiseColumnName = noiseColumnName;
        OutputColumnName = outputColumnName;
        FeatureColumnName = featureColumnName;
        Objective = objective;
        Seed = seed;
        _batchSize = batchSize;
        _history = [.. history];
        Inputs = [new InputColumn(noiseColumnName, architecture.LatentSize, "noise")];
        Outputs = [OutputSpec(outputColumnName, architecture.Kind, architecture.DataSize)];
    }

    /// <summary>The networks' shapes.</summary>
    public GanArchitecture Architecture { get; }

    /// <summary>The noise (input) column.</summary>
    public string NoiseColumnName { get; }

    /// <summary>The generated (output) column.</summary>
    public string OutputColumnName { get; }

    /// <summary>The column the GAN was trained on (the default input of the log-ratio transform).</summary>
    public string FeatureColumnName { get; }

    /// <summary>The generator objective it was trained with (display name; a custom f is not saved).</summary>
    public string Objective { get; }

    /// <summary>Seed of <see cref="Sample"/>'s noise (from the estimator's seed).</summary>
    public int Seed { get; }

    /// <summary>The device the networks live on.</summary>
    public Device Device => _generator.Device;

    /// <summary>Progress records of training (every <c>LogInterval</c> generator steps and the last); empty after loading.</summary>
    public IReadOnlyList<GanProgress> TrainingHistory => _history;

    internal TorchModuleOwner<GanDiscriminator> DiscriminatorOwner => _discriminator;

    internal int InferenceBatchSize => _batchSize;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _batchSize;

    internal static OutputColumn OutputSpec(string name, GanNetworkKind kind, int size) => kind == GanNetworkKind.Dcgan
        ? OutputColumn.Vector(name, GanArchitecture.ImageSide * GanArchitecture.ImageSide, imageShape: new ImageShape(1, GanArchitecture.ImageSide, GanArchitecture.ImageSide))
        : OutputColumn.Vector(name, size);

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var z = TensorData.FromSpan(batch.Input(0), [batch.Rows, Architecture.LatentSize], Device);
        TensorData.CopyTo(_generator.Run(m => m.forward(z)), batch.Output(0));
    }

    /// <summary>Generated rows G(z) for noise rows <paramref name="noise"/> [n, latent] (any device; result on <see cref="Device"/>, in the caller's dispose scope).</summary>
    public Tensor Generate(Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        CheckRows(noise, Architecture.LatentSize, "noise");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var z = noise.to(ScalarType.Float32).to(Device);
        return _generator.Run(m => m.forward(z)).MoveToOuterDisposeScope();
    }

    /// <summary>The discriminator's log density ratio r(x) = log p_data(x)/q_G(x) for rows <paramref name="rows"/> [n, data]; result [n] on <see cref="Device"/>.</summary>
    public Tensor LogDensityRatio(Tensor rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        CheckRows(rows, Architecture.DataSize, "data");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = rows.to(ScalarType.Float32).to(Device);
        return _discriminator.Run(m => m.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws <paramref name="count"/> rows: an IDataView with the noise column (N(0, I) from the stream
    /// <c>sampling</c> of <paramref name="seed"/>, default <see cref="Seed"/>) and the generated column.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive.</exception>
    public IDataView Sample(int count, int? seed = null)
    {
        var (noise, generated) = SampleArrays(count, seed);
        return new GeneratedDataView(NoiseColumnName, Architecture.LatentSize, noise, OutputColumnName, Architecture.DataSize, generated,
            Outputs[0].ImageShape);
    }

    /// <summary>Draws <paramref name="count"/> rows as row-major arrays (noise [count × latent], generated [count × data]).</summary>
    public (float[] Noise, float[] Generated) SampleArrays(int count, int? seed = null)
    {
        if (count < 1)
            throw new ArgumentOutOfRangeException(nameof(count), count, "Must be at least 1.");
        using var scope = NewDisposeScope();
        using var generator = RandomStreams.CreateGenerator(seed ?? Seed, "sampling", CPU);
        var z = randn([count, Architecture.LatentSize], ScalarType.Float32, generator: generator);
        var x = Generate(z);
        return (TensorData.ToSingleArray(z), TensorData.ToSingleArray(x));
    }

    private static void CheckRows(Tensor t, int width, string what)
    {
        if (t.dim() != 2 || t.shape[1] != width)
            throw new ArgumentException($"Expected {what} rows [n, {width}], got [{string.Join(", ", t.shape)}].");
        using var finite = t.isfinite().all();
        if (!finite.item<bool>())
            throw new ArgumentException($"The {what} rows contain NaN or infinite values.");
    }

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(GanModel));
        // *** Binary format ***
        // architecture: int kind, int data size, int latent size, int[] hidden widths, int channels
        // string: noise column, output column, feature column, objective name
        // int: seed; int: inference batch size
        // stream "Generator": TorchSharp state dict of G; stream "Discriminator": of D
        Architecture.Write(w.Writer);
        w.Writer.Write(NoiseColumnName);
        w.Writer.Write(OutputColumnName);
        w.Writer.Write(FeatureColumnName);
        w.Writer.Write(Objective);
        w.Writer.Write(Seed);
        w.Writer.Write(_batchSize);
        _generator.Save(w, "Generator");
        _discriminator.Save(w, "Discriminator");
    }

    /// <summary>Loads a model saved by <c>ml.Model.Save</c>.</summary>
    public static GanModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var arch = GanArchitecture.Read(r);
        string noise = r.ReadString(), output = r.ReadString(), feature = r.ReadString(), objective = r.ReadString();
        int seed = r.ReadInt32(), batch = r.ReadInt32();
        BinaryFormat.CheckDecode(batch >= 1 && noise.Length > 0 && output.Length > 0 && feature.Length > 0, "GAN columns");
        var device = TorchModuleOwner<GanGenerator>.LoadingDevice(env);
        var g = TorchModuleOwner<GanGenerator>.Load(reader, () => new GanGenerator(arch), device, "Generator");
        try
        {
            var d = TorchModuleOwner<GanDiscriminator>.Load(reader, () => new GanDiscriminator(arch), device, "Discriminator");
            return new GanModel(env, arch, g, d, noise, output, feature, objective, seed, batch, []);
        }
        catch
        {
            g.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _generator.Dispose();
            _discriminator.Dispose();
        }
        base.Dispose(disposing);
    }
}
