using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Runtime;
using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// Appends the activations of chosen layers of a trained <see cref="NeuralNetworkModel"/> as Single-vector columns
/// (inputs for SVCCA, sensitivity studies, probes). Fitting learns nothing: it copies the network's weights into the
/// <see cref="LayerActivationsTransformer"/>, which is therefore independent of the model's lifetime. Create it with
/// <c>ml.Transforms.LayerActivations(model, layers)</c>.
/// </summary>
public sealed partial class LayerActivationsEstimator : IEstimator<LayerActivationsTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly NeuralNetworkModel _model;
    private readonly int[] _layers;
    private readonly string[] _outputs;
    private readonly string _input;
    private readonly int _batchSize;
    private readonly Device _device;

    internal LayerActivationsEstimator(IHostEnvironment env, NeuralNetworkModel model, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        _env = env;
        _model = model;
        (_layers, _outputs) = ValidateLayers(model.Architecture, options.Layers, options.OutputColumnNames);
        _input = options.InputColumnName ?? model.FeatureColumnName;
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(_input), nameof(options.InputColumnName), "Must be a column name.");
        Guard.CheckUserArg(options.BatchSize > 0, nameof(options.BatchSize), $"Must be positive, got {options.BatchSize}.");
        _batchSize = options.BatchSize;
        _device = model.Model.CopyDevice(env, options.Device);
    }

    /// <summary>Checks the input column and adds one Single-vector column per layer (convolution layers with their image shape).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a Single vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ColumnRules.CheckVector(inputSchema, "feature", _input);
        var arch = _model.Architecture;
        return SchemaShapes.Append(inputSchema, _layers.Select((l, i) =>
            OutputColumn.Vector(_outputs[i], arch.LayerSizes[l - 1], imageShape: LayerActivationsTransformer.LayerImageShape(arch, l)).ToShape()).ToArray());
    }

    /// <summary>Checks the input column's size and copies the network into a new transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing, not a Single vector, or not of the network's input size.</exception>
    public LayerActivationsTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ColumnRules.CheckVector(input.Schema, "feature", _input, _model.Architecture.InputSize);
        var owner = _model.Model.CopyOwner(_device);
        return new LayerActivationsTransformer(_env, owner, _input, _layers, _outputs, _batchSize);
    }

    /// <summary>Validates layer numbers and output names; returns the names (defaults Layer{i}).</summary>
    internal static (int[] Layers, string[] Names) ValidateLayers(NeuralNetworkArchitecture architecture, int[]? layers, string[]? names)
    {
        Guard.CheckUserArg(layers is { Length: > 0 }, nameof(Options.Layers), "Give at least one layer.");
        foreach (var l in layers!)
        {
            Guard.CheckUserArg(l >= 1 && l <= architecture.LayerCount, nameof(Options.Layers),
                $"Layer {l} does not exist: {architecture} has layers 1..{architecture.LayerCount} ({architecture.LayerCount} = output).");
        }
        Guard.CheckUserArg(layers.Distinct().Count() == layers.Length, nameof(Options.Layers), $"Layers must be distinct, got [{string.Join(", ", layers)}].");
        var outputs = names ?? layers.Select(l => Defaults.OutputColumnPrefix + l).ToArray();
        Guard.CheckUserArg(outputs.Length == layers.Length, nameof(Options.OutputColumnNames),
            $"Give one name per layer: {layers.Length} layers, {outputs.Length} names.");
        Guard.CheckUserArg(outputs.All(n => !string.IsNullOrWhiteSpace(n)), nameof(Options.OutputColumnNames), "Names must not be empty.");
        Guard.CheckUserArg(outputs.Distinct(StringComparer.Ordinal).Count() == outputs.Length, nameof(Options.OutputColumnNames), "Names must be distinct.");
        return ([.. layers], [.. outputs]);
    }
}
