using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Persistence;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.Gan;

/// <summary>
/// Copies a trained GAN's discriminator into a <see cref="GanLogDensityRatioTransformer"/>
/// (<c>ml.Generative.GanLogDensityRatio(model)</c>); fitting learns nothing.
/// </summary>
public sealed class GanLogDensityRatioEstimator : IEstimator<GanLogDensityRatioTransformer>
{
    /// <summary>Default output column.</summary>
    public const string DefaultOutputColumnName = "LogDensityRatio";

    private readonly IHostEnvironment _env;
    private readonly GanModel _model;
    private readonly string _output;
    private readonly string _input;
    private readonly int _batchSize;
    private readonly Device _device;

    /// <summary>
    /// Options of <see cref="GanLogDensityRatioEstimator"/>. Deterministic: <see cref="ComponentOptions.Seed"/> and
    /// <see cref="ComponentOptions.CancellationToken"/> are not used (Fit copies the discriminator);
    /// <see cref="ComponentOptions.Device"/> places the copy (null keeps the model's device).
    /// </summary>
    public sealed class Options : ComponentOptions
    {
        /// <summary>Output Single column. Default <c>LogDensityRatio</c>.</summary>
        public string OutputColumnName = DefaultOutputColumnName;

        /// <summary>Input rows (Single vectors of the data's size); null uses the model's feature column. Default null.</summary>
        public string? InputColumnName;

        /// <summary>Rows per forward pass (1 or more); null uses the model's inference batch size. Default null.</summary>
        public int? BatchSize;
    }

    internal GanLogDensityRatioEstimator(IHostEnvironment env, GanModel model, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.OutputColumnName), nameof(options.OutputColumnName), "Must be a column name.");
        _input = options.InputColumnName ?? model.FeatureColumnName;
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(_input), nameof(options.InputColumnName), "Must be a column name.");
        Guard.CheckUserArg(options.BatchSize is null or >= 1, nameof(options.BatchSize), $"Must be at least 1, got {options.BatchSize}.");
        _env = env;
        _model = model;
        _output = options.OutputColumnName;
        _batchSize = options.BatchSize ?? model.InferenceBatchSize;
        _device = options.Device is null ? model.Device : DeviceResolver.Resolve(options.Device, null, false);
    }

    /// <summary>Checks the input column and adds the Single log-ratio column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a Single vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ColumnRules.CheckVector(inputSchema, "feature", _input);
        return SchemaShapes.Append(inputSchema, OutputColumn.Scalar(_output).ToShape());
    }

    /// <summary>Checks the input column's size and copies the discriminator.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing, not a Single vector, or not of the data's size.</exception>
    public GanLogDensityRatioTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ColumnRules.CheckVector(input.Schema, "feature", _input, _model.Architecture.DataSize);
        var owner = _model.DiscriminatorOwner;
        var arch = _model.Architecture;
        var copy = new TorchModuleOwner<GanDiscriminator>(owner.CloneModule(_device), _device, () => new GanDiscriminator(arch));
        return new GanLogDensityRatioTransformer(_env, arch, copy, _input, _output, _batchSize);
    }
}

/// <summary>
/// Appends a GAN discriminator's log density ratio r(x) = log p_data(x)/q_G(x) (its logit) as a Single column: a
/// realism score, or (negated) an anomaly score, for new rows. Saved and loaded with <c>ml.Model.Save/Load</c>.
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class GanLogDensityRatioTransformer : AppendColumnsTransformer
{
    internal const string LoaderSignature = "GanLogDensityRatio";
    private static readonly ModelVersion s_version = new("GANRATIO", 1, 1, LoaderSignature);
    private readonly TorchModuleOwner<GanDiscriminator> _owner;
    private readonly int _batchSize;

    internal GanLogDensityRatioTransformer(IHostEnvironment env, GanArchitecture architecture, TorchModuleOwner<GanDiscriminator> owner,
        string inputColumnName, string outputColumnName, int batchSize)
        : base(env, nameof(GanLogDensityRatioTransformer))
    {
        Architecture = architecture;
        _owner = owner;
        _batchSize = batchSize;
        InputColumnName = inputColumnName;
        OutputColumnName = outputColumnName;
        Inputs = [new InputColumn(inputColumnName, architecture.DataSize, "feature")];
        Outputs = [OutputColumn.Scalar(outputColumnName)];
    }

    /// <summary>The networks' shapes.</summary>
    public GanArchitecture Architecture { get; }

    /// <summary>The input column.</summary>
    public string InputColumnName { get; }

    /// <summary>The output column.</summary>
    public string OutputColumnName { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _batchSize;

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, Architecture.DataSize], _owner.Device);
        TensorData.CopyTo(_owner.Run(m => m.forward(x)), batch.Output(0));
    }

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(GanLogDensityRatioTransformer));
        // *** Binary format ***
        // architecture (see GanModel); string: input column, output column; int: batch size
        // stream "Discriminator": TorchSharp state dict of D
        Architecture.Write(w.Writer);
        w.Writer.Write(InputColumnName);
        w.Writer.Write(OutputColumnName);
        w.Writer.Write(_batchSize);
        _owner.Save(w, "Discriminator");
    }

    /// <summary>Loads a transformer saved by <c>ml.Model.Save</c>.</summary>
    public static GanLogDensityRatioTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var arch = GanArchitecture.Read(r);
        string input = r.ReadString(), output = r.ReadString();
        int batch = r.ReadInt32();
        BinaryFormat.CheckDecode(batch >= 1 && input.Length > 0 && output.Length > 0, "GAN log-ratio columns");
        var owner = TorchModuleOwner<GanDiscriminator>.Load(reader, () => new GanDiscriminator(arch), TorchModuleOwner<GanDiscriminator>.LoadingDevice(env), "Discriminator");
        return new GanLogDensityRatioTransformer(env, arch, owner, input, output, batch);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _owner.Dispose();
        base.Dispose(disposing);
    }
}
