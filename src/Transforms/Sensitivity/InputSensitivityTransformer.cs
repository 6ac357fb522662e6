using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Persistence;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Transforms.Sensitivity;

/// <summary>
/// Appends per row ‖∂softmax(f(x))/∂x‖_F (and optionally ‖∂f(x)/∂x‖_F of the logits) of a neural-network classifier f,
/// computed exactly and batched with <see cref="SoftmaxSensitivity"/>. Owns its copy of the network; safe on several
/// threads. Saved and loaded with <c>ml.Model.Save/Load</c> (after <c>ml.RegisterComponents()</c>).
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class InputSensitivityTransformer : AppendColumnsTransformer
{
    // At most 24 characters (ML.NET model header).
    internal const string LoaderSignature = "InputSensitivity";
    private static readonly ModelVersion s_version = new("NNINSENS", 1, 1, LoaderSignature);
    private readonly int _batchSize;
    private readonly TorchModuleOwner<NeuralNetworkModule> _owner;

    internal InputSensitivityTransformer(IHostEnvironment env, TorchModuleOwner<NeuralNetworkModule> owner, string inputColumnName,
        string outputColumnName, string? logitsOutputColumnName, int batchSize)
        : base(env, LoaderSignature)
    {
        _owner = owner;
        InputColumnName = inputColumnName;
        OutputColumnName = outputColumnName;
        LogitsOutputColumnName = logitsOutputColumnName;
        _batchSize = batchSize;
        Inputs = [new InputColumn(inputColumnName, owner.Module.Architecture.InputSize, "feature")];
        Outputs = logitsOutputColumnName is null
            ? [OutputColumn.Scalar(outputColumnName)]
            : [OutputColumn.Scalar(outputColumnName), OutputColumn.Scalar(logitsOutputColumnName)];
    }

    /// <summary>The network's architecture.</summary>
    public NeuralNetworkArchitecture Architecture => _owner.Module.Architecture;

    /// <summary>The device the network lives on.</summary>
    public Device Device => _owner.Device;

    /// <summary>The input (feature) column.</summary>
    public string InputColumnName { get; }

    /// <summary>The softmax Jacobian-norm column.</summary>
    public string OutputColumnName { get; }

    /// <summary>The logits Jacobian-norm column, or null.</summary>
    public string? LogitsOutputColumnName { get; }

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
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, Architecture.InputSize], Device);
        bool logits = LogitsOutputColumnName is not null;
        var norms = _owner.Run(m =>
        {
            var soft = SoftmaxSensitivity.SoftmaxJacobianNorm(m.forward, x, _batchSize);
            return logits ? new[] { soft, SoftmaxSensitivity.LogitJacobianNorm(m.forward, x, _batchSize) } : new[] { soft };
        });
        for (int i = 0; i < norms.Length; i++)
            TensorData.CopyTo(norms[i], batch.Output(i));
    }

    // *** Binary format ***
    // shared prefix: see NeuralNetworkModelState.Write (score column empty, no history)
    // string[]: output column, logits column ("" when none)
    // stream "TSModel": module state
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(InputSensitivityTransformer));
        new NeuralNetworkModelState(InputColumnName, "", _batchSize, Architecture, [], 0).Write(w.Writer);
        w.Writer.WriteStrings([OutputColumnName, LogitsOutputColumnName ?? ""]);
        _owner.Save(w);
    }

    /// <summary>Loads a transformer saved by <see cref="SaveModel"/>; called by <c>ml.Model.Load</c>.</summary>
    public static InputSensitivityTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var state = NeuralNetworkModelState.Read(r);
        var names = r.ReadStrings(maxLength: 2);
        string output, logits;
        try
        {
            if (names.Length != 2)
                throw new ArgumentException($"Expected 2 column names, got {names.Length}.");
            (output, logits) = (names[0], names[1]);
            InputSensitivityEstimator.ValidateNames(output, logits.Length == 0 ? null : logits);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException("Corrupt model file: " + ex.Message, ex);
        }
        var owner = NeuralNetworkModelState.LoadModule(env, reader, state.Architecture);
        return new InputSensitivityTransformer(env, owner, state.FeatureColumnName, output, logits.Length == 0 ? null : logits, state.InferenceBatchSize);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _owner.Dispose();
        base.Dispose(disposing);
    }
}
