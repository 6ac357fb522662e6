using Components.Core.Mapping;
using Components.Core.Tensors;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// A trained neural network inside an ML.NET pipeline: appends the score columns to every row, in batches of
/// <see cref="NeuralNetworkOptions.InferenceBatchSize"/> rows (one forward pass under <c>no_grad</c> each; PredictionEngine
/// uses the same path row by row). Exposes the trained <see cref="Module"/>, its <see cref="Architecture"/> and the
/// <see cref="TrainingHistory"/>. Dispose it to free the network's native memory.
/// </summary>
public abstract class NeuralNetworkModel : AppendColumnsTransformer
{
    private readonly int _inferenceBatchSize;

    private protected NeuralNetworkModel(IHostEnvironment env, string name, NeuralNetworkModule module, Device device, string featureColumnName,
        string scoreColumnName, int inferenceBatchSize, IReadOnlyList<NeuralNetworkEpoch> history, int bestEpoch)
        : base(env, name)
    {
        Module = module;
        Device = device;
        FeatureColumnName = featureColumnName;
        ScoreColumnName = scoreColumnName;
        _inferenceBatchSize = inferenceBatchSize;
        TrainingHistory = history;
        BestEpoch = bestEpoch;
        Inputs = [new InputColumn(featureColumnName, module.Architecture.InputSize, "feature")];
        module.eval();
    }

    /// <summary>
    /// The trained network, on <see cref="Device"/>, in evaluation mode. Owned by this model: use it read-only (forward
    /// passes under <c>torch.no_grad()</c>, reading weights); do not train, move or dispose it.
    /// </summary>
    public NeuralNetworkModule Module { get; }

    /// <summary>The network's architecture (layers, widths, activation, initialisation variances).</summary>
    public NeuralNetworkArchitecture Architecture => Module.Architecture;

    /// <summary>The device the network lives on (the training device, or the loading MLContext's device after <c>Model.Load</c>).</summary>
    public Device Device { get; }

    /// <summary>The feature column the model reads.</summary>
    public string FeatureColumnName { get; }

    /// <summary>The score column the model appends.</summary>
    public string ScoreColumnName { get; }

    /// <summary>Loss and metrics of every epoch run during training.</summary>
    public IReadOnlyList<NeuralNetworkEpoch> TrainingHistory { get; }

    /// <summary>The epoch whose weights the model holds: the last one, or the best one when early stopping restored it.</summary>
    public int BestEpoch { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _inferenceBatchSize;

    /// <summary>Runs the network on the batch's features; call inside a dispose scope and <c>no_grad</c>.</summary>
    private protected Tensor Forward(BatchData batch)
    {
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, Architecture.InputSize], Device);
        return Module.forward(x);
    }

    /// <summary>The state shared by both model kinds, for the serializer.</summary>
    private protected NeuralNetworkModelState CommonState => new(FeatureColumnName, ScoreColumnName, _inferenceBatchSize, Architecture, TrainingHistory, BestEpoch);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            Module.Dispose();
        base.Dispose(disposing);
    }
}
