using Components.Core.Mapping;
using Components.Core.Tensors;
using Components.Core.Trainers;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// A trained neural network inside an ML.NET pipeline: appends the score columns to every row, in batches of
/// <see cref="NeuralNetworkOptions.InferenceBatchSize"/> rows (one forward pass under <c>no_grad</c> each; PredictionEngine
/// uses the same path row by row). Its trained state is <see cref="SingleFeaturePredictionTransformer{TModel}.Model"/>
/// (the network, its architecture and the training history), so <c>ml.MulticlassClassification.PermutationFeatureImportance</c>
/// and <c>ml.Regression.PermutationFeatureImportance</c> accept it. Safe for several PredictionEngines on several threads.
/// Dispose it to free the network's native memory.
/// </summary>
public abstract class NeuralNetworkModel : SingleFeaturePredictionTransformer<NeuralNetworkModelParameters>
{
    private readonly int _inferenceBatchSize;

    private protected NeuralNetworkModel(IHostEnvironment env, string name, NeuralNetworkModelParameters parameters, string featureColumnName,
        string scoreColumnName, int inferenceBatchSize)
        : base(env, name, parameters, featureColumnName, parameters.Architecture.InputSize)
    {
        ScoreColumnName = scoreColumnName;
        _inferenceBatchSize = inferenceBatchSize;
    }

    /// <summary>
    /// The trained network, on <see cref="Device"/>, in evaluation mode (<c>Model.Module</c>). Owned by this model: use it
    /// read-only (forward passes under <c>torch.no_grad()</c>, reading weights); do not train, move or dispose it.
    /// </summary>
    public NeuralNetworkModule Module => Model.Module;

    /// <summary>The network's architecture (layers, widths, activation, initialisation variances).</summary>
    public NeuralNetworkArchitecture Architecture => Model.Architecture;

    /// <summary>The device the network lives on (the training device, or the loading MLContext's device after <c>Model.Load</c>).</summary>
    public Device Device => Model.Device;

    /// <summary>The score column the model appends.</summary>
    public string ScoreColumnName { get; }

    /// <summary>Loss and metrics of every epoch run during training.</summary>
    public IReadOnlyList<NeuralNetworkEpoch> TrainingHistory => Model.TrainingHistory;

    /// <summary>The epoch whose weights the model holds: the last one, or the best one when early stopping restored it.</summary>
    public int BestEpoch => Model.BestEpoch;

    /// <inheritdoc/>
    protected override int BatchSize => _inferenceBatchSize;

    /// <summary>Runs the network on the batch's features; call inside a dispose scope and <c>no_grad</c>.</summary>
    private protected Tensor Forward(BatchData batch)
    {
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, Architecture.InputSize], Device);
        return Model.Owner.Run(m => m.forward(x));
    }

    /// <summary>The state shared by both model kinds, for the serializer.</summary>
    private protected NeuralNetworkModelState CommonState => new(FeatureColumnName, ScoreColumnName, _inferenceBatchSize, Architecture, TrainingHistory, BestEpoch);
}
