namespace Components.Trainers.NeuralNetwork;

public sealed partial class NeuralNetworkMulticlassTrainer
{
    /// <summary>Options of <see cref="NeuralNetworkMulticlassTrainer"/>; the label is a key column (use <c>MapValueToKey</c>).</summary>
    public sealed class Options : NeuralNetworkOptions
    {
        /// <summary>Output predicted-label column (a key with the class names as key values). Default <c>PredictedLabel</c>.</summary>
        public string PredictedLabelColumnName = Defaults.PredictedLabelColumnName;
    }
}
