namespace Components.Trainers.NeuralNetwork;

public sealed partial class NeuralNetworkRegressionTrainer
{
    /// <summary>
    /// Options of <see cref="NeuralNetworkRegressionTrainer"/>; the label is a Single column. The trainer standardises the
    /// label internally (training targets have mean 0 and variance 1) and maps predictions back, so the learning rate does
    /// not depend on the label's scale.
    /// </summary>
    public sealed class Options : NeuralNetworkOptions
    {
    }
}
