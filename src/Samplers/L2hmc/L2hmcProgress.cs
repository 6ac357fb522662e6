namespace Components.Samplers.L2hmc;

/// <summary>One progress record of L2HMC training.</summary>
/// <param name="Step">Training step (0-based).</param>
/// <param name="Loss">Loss of that step.</param>
/// <param name="Acceptance">Mean acceptance probability of the chains' proposals.</param>
/// <param name="StepSize">Current ε = exp(α).</param>
/// <param name="LearningRate">Current Adam learning rate.</param>
/// <param name="SkippedSteps">Steps skipped so far because the loss or a gradient was not finite.</param>
/// <param name="Temperature">Annealing temperature of that step (1 without annealing).</param>
public readonly record struct L2hmcProgress(int Step, double Loss, double Acceptance, double StepSize, double LearningRate, int SkippedSteps,
    double Temperature = 1);
