using Components.Samplers.Energies;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.L2hmc;

/// <summary>The paper's four targets and how the reproduction starts and scores chains on them.</summary>
/// <param name="Key">Short name (command line, file names).</param>
/// <param name="Title">Title in tables and plots.</param>
/// <param name="Energy">The target.</param>
/// <param name="EvaluationBurnIn">Transitions before recording when exact samples are not available.</param>
/// <param name="PaperNumbers">The paper's figures for this target, if known.</param>
/// <param name="BurnInWeight">λ_b of the training loss for this target.</param>
/// <param name="InitialTemperature">Annealing start temperature (1 = none).</param>
/// <param name="AnnealingFraction">Fraction of the training steps spent annealing.</param>
internal sealed record ReproTarget(string Key, string Title, EnergyFunction Energy, int EvaluationBurnIn, string? PaperNumbers,
    double BurnInWeight = 1, double InitialTemperature = 1, double AnnealingFraction = 0)
{
    public static IReadOnlyList<ReproTarget> All { get; } =
    [
        new("scg", "2-d strongly correlated Gaussian (SCG)", EnergyFunction.StronglyCorrelatedGaussian(), 0,
            "SCGExperiment.ipynb: L2HMC 2.61e-1 vs HMC(ε=0.15) 5.63e-3 → 46×; abstract v1 49×, ICLR version 106×"),
        // N(0, I) burn-in draws sit far out in the 50-d ICG's narrow directions; their downhill jumps swamp the loss.
        new("icg", "50-d ill-conditioned Gaussian (ICG)", EnergyFunction.IllConditionedGaussian(), 0, null, BurnInWeight: 0),
        new("mog", "2-d mixture of Gaussians (MoG)", EnergyFunction.MixtureOfGaussians(), 0, null),
        // The paper's formula η cos(x/η). (The reference code's default cos(x/η²) overflows the double-backward
        // gradients in float32: 448 of the first 500 training steps were non-finite.)
        new("rw", "2-d rough well (RW)", EnergyFunction.RoughWell(), 200, null),
    ];

    /// <summary>
    /// Starting states of the evaluation chains: exact samples where available (as the SCG notebook), else N(0, I)
    /// (the reference's RoughWell.get_samples) followed by <see cref="EvaluationBurnIn"/> transitions.
    /// </summary>
    public Tensor Start(int chains, Generator gen)
        => Energy.HasExactSampler ? Energy.SampleExact(chains, gen) : torch.randn([chains, Energy.Dimension], generator: gen);

    /// <summary>Scale of the paper's ESS: √trace Σ where known, else null (RMS of the chains).</summary>
    public double? Scale => Energy.CovarianceTrace is double t ? Math.Sqrt(t) : null;
}
