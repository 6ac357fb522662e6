using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Persistence;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Transforms.Adversarial;

/// <summary>
/// Appends, per row, an adversarial image x + δ for an ensemble of neural-network classifiers and the perturbation δ,
/// both Single vectors with the input's <see cref="ImageShape"/> (see <see cref="EnsembleAttack"/> for the method).
/// ‖δ‖∞ ≤ ε and every pixel of x + δ is in [0, 1]. Deterministic: a row's random transformations are keyed by the seed
/// and a hash of its pixels, so batched Transform, PredictionEngine and a reloaded model agree (up to the float rounding
/// of batched convolutions, which can flip the sign of a near-zero gradient component). Owns its copies of the
/// networks; safe on several threads. Saved and loaded with <c>ml.Model.Save/Load</c> (after <c>ml.RegisterComponents()</c>).
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class AdversarialPerturbationTransformer : AppendColumnsTransformer
{
    // At most 24 characters (ML.NET model header).
    internal const string LoaderSignature = "AdversarialPerturbation";
    private static readonly ModelVersion s_version = new("ADVPERTB", 1, 1, LoaderSignature);
    private readonly TorchModuleOwner<NeuralNetworkModule>[] _owners;
    private readonly string[] _classes;
    private readonly AdversarialColumns _columns;
    private readonly Dictionary<string, string>? _mapping;
    private readonly int[]? _mapIndex; // mapping by class index (−1: not attacked)
    private readonly int _batchSize;
    private readonly CancellationToken _cancellation;

    internal AdversarialPerturbationTransformer(IHostEnvironment env, IReadOnlyList<TorchModuleOwner<NeuralNetworkModule>> owners, IReadOnlyList<string> classes,
        AdversarialColumns columns, EnsembleAttackSettings settings, Dictionary<string, string>? mapping, ImageShape shape, int batchSize,
        CancellationToken cancellation)
        : base(env, LoaderSignature)
    {
        _owners = [.. owners];
        _classes = [.. classes];
        _columns = columns;
        Settings = settings;
        _mapping = mapping;
        if (mapping is not null)
            _mapIndex = _classes.Select(c => mapping.TryGetValue(c, out var t) ? Array.IndexOf(_classes, t) : -1).ToArray();
        ImageShape = shape;
        _batchSize = batchSize;
        _cancellation = cancellation;
        int d = _owners[0].Module.Architecture.InputSize;
        Inputs = columns.Class is null
            ? [new InputColumn(columns.Input, d, "image")]
            : [new InputColumn(columns.Input, d, "image"), new InputColumn(columns.Class, 1, "class", IsKey: true)];
        Outputs = [OutputColumn.Vector(columns.Output, d, imageShape: shape), OutputColumn.Vector(columns.Perturbation, d, imageShape: shape)];
    }

    /// <summary>The attack's settings (ε, step, iterations, transformations, seed).</summary>
    public EnsembleAttackSettings Settings { get; }

    /// <summary>The image shape of the input and output columns.</summary>
    public ImageShape ImageShape { get; }

    /// <summary>The models' class names, in score order.</summary>
    public IReadOnlyList<string> ClassNames => _classes;

    /// <summary>Number of networks in the ensemble.</summary>
    public int EnsembleSize => _owners.Length;

    /// <summary>The architectures of the ensemble's networks.</summary>
    public IReadOnlyList<NeuralNetworkArchitecture> Architectures => _owners.Select(o => o.Module.Architecture).ToArray();

    /// <summary>The fixed target mapping (clean prediction → target class), or null.</summary>
    public IReadOnlyDictionary<string, string>? TargetMapping => _mapping;

    /// <summary>The image input column.</summary>
    public string InputColumnName => _columns.Input;

    /// <summary>The adversarial image column.</summary>
    public string OutputColumnName => _columns.Output;

    /// <summary>The perturbation column.</summary>
    public string PerturbationColumnName => _columns.Perturbation;

    /// <summary>The key column read per row (target, or true class when untargeted), or null.</summary>
    public string? ClassColumnName => _columns.Class;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _batchSize;

    /// <inheritdoc/>
    protected override void CheckInputSchema(DataViewSchema inputSchema)
    {
        AdversarialPerturbationEstimator.ResolveShape(inputSchema, _columns.Input, ImageShape, Architectures);
        if (_columns.Class is { } cls)
            AdversarialPerturbationEstimator.CheckClassColumn(inputSchema, cls, _classes);
    }

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        int rows = batch.Rows, d = ImageShape.Size;
        var pixels = batch.Input(0);
        for (int i = 0; i < pixels.Length; i++)
        {
            if (!(pixels[i] >= 0 && pixels[i] <= 1))
                throw Guard.ExceptBadValue(_columns.Input, batch.DescribeRow(i / d), $"pixel {i % d} is {pixels[i]} (pixels must be in [0, 1])");
        }
        var keys = new long[rows];
        for (int r = 0; r < rows; r++)
            keys[r] = RowKey(pixels.Slice(r * d, d));
        using var scope = NewDisposeScope();
        var x = TensorData.FromSpan(pixels, [rows, d], _owners[0].Device);
        var classes = new long[rows];
        var raw = _columns.Class is null ? null : batch.Input(1).ToArray();
        WithModules(0, new List<NeuralNetworkModule>(), modules =>
        {
            var members = modules.Select(m => (Func<Tensor, Tensor>)m.forward).ToArray();
            long[]? predicted = null;
            if (_columns.Class is null)
            {
                using var noGrad = no_grad();
                using var p = EnsembleAttack.LogProbabilities(members, x).argmax(1).cpu();
                predicted = p.data<long>().ToArray();
            }
            for (int r = 0; r < rows; r++)
            {
                if (_columns.Class is not null)
                {
                    uint key = (uint)raw![r];
                    if (key == 0)
                        throw Guard.ExceptBadValue(_columns.Class, batch.DescribeRow(r), "the class key is missing (0); every row needs a class of the models");
                    classes[r] = key - 1;
                }
                else
                {
                    classes[r] = _mapIndex is null ? predicted![r] : _mapIndex[predicted![r]];
                }
            }
            using var result = EnsembleAttack.Run(members, x, classes, ImageShape, Settings, keys, _cancellation);
            TensorData.CopyTo(result.Adversarial, batch.Output(0));
            TensorData.CopyTo(result.Adversarial.sub(x), batch.Output(1));
            using var ch = Host.Start("AdversarialPerturbation");
            ch.Info(MessageSensitivity.None, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"Attacked {rows} rows from {batch.DescribeRow(0)}: mean {(Settings.Untargeted ? "class" : "target")} loss {result.InitialLoss.mean().item<float>():G4} → {result.FinalLoss.mean().item<float>():G4}"));
            return 0;
        });
    }

    // Runs body with one module of each owner (each owner lends a module of its own to this call: thread-safe).
    private int WithModules(int i, List<NeuralNetworkModule> taken, Func<List<NeuralNetworkModule>, int> body)
        => i == _owners.Length ? body(taken) : _owners[i].Run(m =>
        {
            taken.Add(m);
            return WithModules(i + 1, taken, body);
        });

    // FNV-1a 64 over the pixels' bits: the key of the row's random transformations.
    internal static long RowKey(ReadOnlySpan<float> pixels)
    {
        ulong h = 14695981039346656037UL;
        foreach (var p in pixels)
        {
            uint bits = BitConverter.SingleToUInt32Bits(p);
            for (int b = 0; b < 4; b++)
            {
                h ^= (bits >> (8 * b)) & 0xFF;
                h *= 1099511628211UL;
            }
        }
        return (long)h;
    }

    // *** Binary format ***
    // string[]: input, output, perturbation, class column ("" = none)
    // double ε, double α, int iterations, bool untargeted, int samples, int max shift, double noise σ, int seed
    // int channels, int height, int width, int layout (0 = CHW, 1 = HWC)
    // int batch size
    // string[]: class names
    // int: mapping entries (−1 = no mapping), then per entry string from, string to
    // int: members, then per member its architecture (see NeuralNetworkArchitecture.Write)
    // streams "TSModel0", "TSModel1", …: the members' module states
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(AdversarialPerturbationTransformer));
        var bw = w.Writer;
        bw.WriteStrings([_columns.Input, _columns.Output, _columns.Perturbation, _columns.Class ?? ""]);
        bw.Write(Settings.Epsilon);
        bw.Write(Settings.StepSize);
        bw.Write(Settings.Iterations);
        bw.Write(Settings.Untargeted);
        bw.Write(Settings.TransformationSamples);
        bw.Write(Settings.MaxShift);
        bw.Write(Settings.NoiseStandardDeviation);
        bw.Write(Settings.Seed);
        bw.Write(ImageShape.Channels);
        bw.Write(ImageShape.Height);
        bw.Write(ImageShape.Width);
        bw.Write((int)ImageShape.Layout);
        bw.Write(_batchSize);
        bw.WriteStrings(_classes);
        bw.Write(_mapping?.Count ?? -1);
        foreach (var (from, to) in _mapping ?? [])
        {
            bw.Write(from);
            bw.Write(to);
        }
        bw.Write(_owners.Length);
        foreach (var o in _owners)
            o.Module.Architecture.Write(bw);
        for (int i = 0; i < _owners.Length; i++)
            _owners[i].Save(w, "TSModel" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Loads a transformer saved by <see cref="SaveModel"/>; called by <c>ml.Model.Load</c>.</summary>
    public static AdversarialPerturbationTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var names = r.ReadStrings(maxLength: 4);
        BinaryFormat.CheckDecode(names.Length == 4 && names.Take(3).All(n => n.Length > 0), "column names");
        double eps = r.ReadDouble(), step = r.ReadDouble();
        int iterations = r.ReadInt32();
        bool untargeted = r.ReadBoolean();
        int samples = r.ReadInt32(), shift = r.ReadInt32();
        double noise = r.ReadDouble();
        int seed = r.ReadInt32();
        int c = r.ReadInt32(), h = r.ReadInt32(), wd = r.ReadInt32(), layout = r.ReadInt32();
        int batch = r.ReadInt32();
        BinaryFormat.CheckDecode(batch > 0, "batch size");
        var classes = r.ReadStrings(maxLength: 1 << 20);
        int entries = r.ReadInt32();
        BinaryFormat.CheckDecode(entries >= -1 && entries <= classes.Length, "target mapping");
        Dictionary<string, string>? mapping = null;
        if (entries >= 0)
        {
            mapping = [];
            for (int i = 0; i < entries; i++)
            {
                string from = r.ReadString(), to = r.ReadString();
                BinaryFormat.CheckDecode(classes.Contains(from) && classes.Contains(to) && mapping.TryAdd(from, to), "target mapping");
            }
        }
        int members = r.ReadInt32();
        BinaryFormat.CheckDecode(members > 0 && members <= 1024, "ensemble size");
        var architectures = new NeuralNetworkArchitecture[members];
        for (int i = 0; i < members; i++)
        {
            architectures[i] = NeuralNetworkArchitecture.Read(r);
            BinaryFormat.CheckDecode(architectures[i].OutputSize == classes.Length && architectures[i].InputSize == architectures[0].InputSize, "ensemble architectures");
        }
        EnsembleAttackSettings settings;
        ImageShape shape;
        try
        {
            settings = new EnsembleAttackSettings(eps, step, iterations, untargeted, samples, shift, noise, seed);
            BinaryFormat.CheckDecode(layout is 0 or 1, "image layout");
            shape = new ImageShape(c, h, wd, (ImageLayout)layout);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException("Corrupt model file: " + ex.Message, ex);
        }
        BinaryFormat.CheckDecode(shape.Size == architectures[0].InputSize, "image shape");
        var device = TorchModuleOwner<NeuralNetworkModule>.LoadingDevice(env);
        var owners = new List<TorchModuleOwner<NeuralNetworkModule>>();
        try
        {
            for (int i = 0; i < members; i++)
            {
                owners.Add(TorchModuleOwner<NeuralNetworkModule>.Load(reader, NeuralNetworkModelParameters.Factory(architectures[i]), device,
                    "TSModel" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
        catch
        {
            foreach (var o in owners)
                o.Dispose();
            throw;
        }
        var columns = new AdversarialColumns(names[0], names[1], names[2], names[3].Length == 0 ? null : names[3]);
        return new AdversarialPerturbationTransformer(env, owners, classes, columns, settings, mapping, shape, batch, CancellationToken.None);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var o in _owners)
                o.Dispose();
        }
        base.Dispose(disposing);
    }
}
