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
/// Appends per row the number of ReLU activation-pattern transitions of a trained fully connected ReLU network along
/// the closed trajectory through the row's anchor points (see <see cref="TrajectoryTransitions"/>). Fitting copies the
/// network into the <see cref="TrajectoryTransitionsTransformer"/>. Create it with <c>ml.Transforms.TrajectoryTransitions</c>.
/// </summary>
public sealed partial class TrajectoryTransitionsEstimator : IEstimator<TrajectoryTransitionsTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly NeuralNetworkModel _model;
    private readonly string _input;
    private readonly string _output;
    private readonly int _anchors;
    private readonly int _points;
    private readonly int _batchSize;
    private readonly Device _device;

    internal TrajectoryTransitionsEstimator(IHostEnvironment env, NeuralNetworkModel model, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        TrajectoryTransitions.CheckReluMlp(model.Architecture, nameof(model));
        Validate(options.InputColumnName, options.OutputColumnName, options.AnchorCount, options.Points, options.BatchSize);
        _env = env;
        _model = model;
        (_input, _output, _anchors, _points, _batchSize) = (options.InputColumnName, options.OutputColumnName, options.AnchorCount, options.Points, options.BatchSize);
        _device = model.Model.CopyDevice(env, options.Device);
    }

    internal static void Validate(string? input, string? output, int anchors, int points, int batchSize)
    {
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(input), nameof(Options.InputColumnName), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(output), nameof(Options.OutputColumnName), "Must be a column name.");
        Guard.CheckUserArg(anchors >= 2, nameof(Options.AnchorCount), $"A trajectory needs at least 2 anchor points, got {anchors}.");
        Guard.CheckUserArg(points >= 2, nameof(Options.Points), $"Sample at least 2 points, got {points}.");
        Guard.CheckUserArg(batchSize > 0, nameof(Options.BatchSize), $"Must be positive, got {batchSize}.");
    }

    /// <summary>Checks the input column and adds the Single column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a Single vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ColumnRules.CheckVector(inputSchema, "anchor points", _input);
        return SchemaShapes.Append(inputSchema, [OutputColumn.Scalar(_output).ToShape()]);
    }

    /// <summary>Checks the input column's size and copies the network into a new transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing, not a Single vector, or not of AnchorCount × input size.</exception>
    public TrajectoryTransitionsTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ColumnRules.CheckVector(input.Schema, "anchor points", _input, _anchors * _model.Architecture.InputSize);
        var owner = _model.Model.CopyOwner(_device);
        return new TrajectoryTransitionsTransformer(_env, owner, _input, _output, _anchors, _points, _batchSize);
    }
}
