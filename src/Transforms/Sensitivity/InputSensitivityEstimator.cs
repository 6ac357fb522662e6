using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Transforms.Sensitivity;

/// <summary>
/// Appends the input sensitivity of a trained neural-network classifier: per row the Frobenius norm of the Jacobian of
/// its softmax output with respect to the input (and optionally of its logits). Fitting learns nothing: it copies the
/// network into the <see cref="InputSensitivityTransformer"/>. Create it with <c>ml.Transforms.InputSensitivity(model)</c>.
/// </summary>
public sealed partial class InputSensitivityEstimator : IEstimator<InputSensitivityTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly NeuralNetworkMulticlassModel _model;
    private readonly string _input;
    private readonly string _output;
    private readonly string? _logits;
    private readonly int _batchSize;
    private readonly Device _device;

    internal InputSensitivityEstimator(IHostEnvironment env, NeuralNetworkMulticlassModel model, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        _env = env;
        _model = model;
        _input = options.InputColumnName ?? model.FeatureColumnName;
        (_output, _logits) = ValidateNames(options.OutputColumnName, options.LogitsOutputColumnName);
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(_input), nameof(options.InputColumnName), "Must be a column name.");
        Guard.CheckUserArg(options.BatchSize > 0, nameof(options.BatchSize), $"Must be positive, got {options.BatchSize}.");
        _batchSize = options.BatchSize;
        _device = model.Model.CopyDevice(env, options.Device);
    }

    internal static (string Output, string? Logits) ValidateNames(string? output, string? logits)
    {
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(output), nameof(Options.OutputColumnName), "Must be a column name.");
        Guard.CheckUserArg(logits is null || !string.IsNullOrWhiteSpace(logits), nameof(Options.LogitsOutputColumnName), "Must be a column name or null.");
        Guard.CheckUserArg(logits != output, nameof(Options.LogitsOutputColumnName), $"Must differ from the output column '{output}'.");
        return (output!, logits);
    }

    /// <summary>Checks the input column and adds the Single column(s).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a Single vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ColumnRules.CheckVector(inputSchema, "feature", _input);
        var outputs = new List<SchemaShape.Column> { OutputColumn.Scalar(_output).ToShape() };
        if (_logits is not null)
            outputs.Add(OutputColumn.Scalar(_logits).ToShape());
        return SchemaShapes.Append(inputSchema, outputs.ToArray());
    }

    /// <summary>Checks the input column's size and copies the network into a new transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing, not a Single vector, or not of the network's input size.</exception>
    public InputSensitivityTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ColumnRules.CheckVector(input.Schema, "feature", _input, _model.Architecture.InputSize);
        var owner = _model.Model.CopyOwner(_device);
        return new InputSensitivityTransformer(_env, owner, _input, _output, _logits, _batchSize);
    }
}
