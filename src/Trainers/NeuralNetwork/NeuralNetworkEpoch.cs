namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// What one training epoch achieved. For classification the loss is the mean cross-entropy (nats) and the metric the
/// accuracy; for regression the loss is the mean squared error of the standardised target and the metric the RMSE in
/// label units. Training figures are running means over the epoch's mini-batches (the weights change during the
/// epoch); validation figures are computed with the weights at the end of the epoch.
/// </summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainingLoss">Mean training loss over the epoch.</param>
/// <param name="TrainingMetric">Training accuracy (classification) or RMSE (regression) over the epoch.</param>
/// <param name="ValidationLoss">Validation loss at the end of the epoch, or null without validation data.</param>
/// <param name="ValidationMetric">Validation accuracy or RMSE at the end of the epoch, or null without validation data.</param>
public sealed record NeuralNetworkEpoch(int Epoch, double TrainingLoss, double TrainingMetric, double? ValidationLoss, double? ValidationMetric);
