namespace Components.Trainers.NeuralNetwork;

/// <summary>Options of <see cref="NeuralNetworkMulticlassTrainer"/>; the label is a key column (use <c>MapValueToKey</c>).</summary>
public sealed class NeuralNetworkMulticlassOptions : NeuralNetworkOptions
{
    /// <summary>Output predicted-label column (a key with the class names as key values). Default <c>PredictedLabel</c>.</summary>
    public string PredictedLabelColumnName = Defaults.PredictedLabelColumnName;
}
