namespace Components.Trainers.Gan;

/// <summary>One progress record of GAN training.</summary>
/// <param name="GeneratorStep">Generator updates done (1-based).</param>
/// <param name="DiscriminatorLoss">Logistic loss of the discriminator (log 4 ≈ 1.386 when it cannot tell data from samples).</param>
/// <param name="GeneratorLoss">Generator loss E[g(e^r)] of the step (the mixed loss when objectives are mixed).</param>
/// <param name="MeanLogRatioGenerated">Mean r over the generated batch (0 when D is fooled; negative when it rejects samples).</param>
public sealed record GanProgress(int GeneratorStep, double DiscriminatorLoss, double GeneratorLoss, double MeanLogRatioGenerated);
