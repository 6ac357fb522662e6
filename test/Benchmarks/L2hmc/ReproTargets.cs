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
/// <param name="AnnealingFraction">Fraction of the training steps spent annealing (smooth schedule).</param>
/// <param name="AnnealingFactor">0: smooth schedule; else the reference staircase, ×factor every
/// <see cref="AnnealingIntervalPer20000"/> × steps / 20000 steps (the reference's interval for its 20000 steps, scaled).</param>
/// <param name="AnnealingIntervalPer20000">Reference steps between temperature decays at 20000 training steps.</param>
/// <param name="StepSize">Initial ε of L2HMC.</param>
/// <param name="LossScale">λ of the loss.</param>
/// <param name="HiddenUnits">Width of the L2HMC networks.</param>
/// <param name="LearningRateDecay">Staircase learning-rate factor.</param>
/// <param name="LearningRateDecaySteps">Steps between learning-rate decays.</param>
/// <param name="HiddenWidths">Layer widths of the L2HMC networks overriding <paramref name="HiddenUnits"/> (null: two layers).</param>
/// <param name="HmcGrid">Fixed HMC step sizes of the baseline (the reference's grid for this target).</param>
internal sealed record ReproTarget(string Key, string Title, EnergyFunction Energy, int EvaluationBurnIn, string? PaperNumbers,
    double BurnInWeight = 1, double InitialTemperature = 1, double AnnealingFraction = 0, double AnnealingFactor = 0,
    int AnnealingIntervalPer20000 = 0, double StepSize = 0.1, double LossScale = 0.1, int HiddenUnits = 10,
    double LearningRateDecay = 0.96, int LearningRateDecaySteps = 1000, double[]? HmcGrid = null, int[]? HiddenWidths = null)
{
    /// <summary>HMC step sizes of the baseline grid (default the SCG notebook's).</summary>
    public double[] Grid => HmcGrid ?? [0.1, 0.15, 0.2];

    public static IReadOnlyList<ReproTarget> All { get; } =
    [
        new("scg", "2-d strongly correlated Gaussian (SCG)", EnergyFunction.StronglyCorrelatedGaussian(), 0,
            "SCGExperiment.ipynb: L2HMC 2.61e-1 vs HMC(ε=0.15) 5.63e-3 → 46×; abstract v1 49×, ICLR version 106×"),
        // N(0, I) burn-in draws sit far out in the 50-d ICG's narrow directions; their downhill jumps swamp the loss.
        new("icg", "50-d ill-conditioned Gaussian (ICG)", EnergyFunction.IllConditionedGaussian(), 0, null, BurnInWeight: 0),
        // The paper's appendix: "2 hidden layers with 10 (100 for the 50-d ICG) units", 5000 Adam steps of 200 chains.
        new("icg-paper", "50-d ill-conditioned Gaussian (ICG), the paper's 100-unit networks", EnergyFunction.IllConditionedGaussian(), 0, null,
            BurnInWeight: 0, HiddenUnits: 100),
        new("mog", "2-d mixture of Gaussians (MoG)", EnergyFunction.MixtureOfGaussians(), 0, null),
        // The paper's formula η cos(x/η). (The reference code's default cos(x/η²) overflows the double-backward
        // gradients in float32: 448 of the first 500 training steps were non-finite.)
        new("rw", "2-d rough well (RW)", EnergyFunction.RoughWell(), 200, null),
        // The paper's two modes with the reference's temperature annealing (MOGExperiment.ipynb / mog_experiment.py:
        // τ₀ = 10, ×0.98 every 100 of 20000 steps while above 1; ε₀ = 0.1, λ = 0.1, 10-unit networks).
        new("mog-anneal", "2-d mixture of two Gaussians, annealed (MoG, reference schedule)", EnergyFunction.MixtureOfGaussians(), 0, null,
            InitialTemperature: 10, AnnealingFactor: 0.98, AnnealingIntervalPer20000: 100),
        // The reference's toy-task script eval_toy.py, task 'mog': gen_ring(r=2, var=0.1, 4 mixtures), ε₀ = 0.25,
        // λ = √2, lr 1e-3 × 0.98^⌊s/750⌋, HMC grid ε ∈ {ε₀/2, ε₀, 2ε₀}, networks 50-100-50.
        new("ring", "2-d ring of four Gaussians (reference eval_toy.py 'mog')", EnergyFunction.GaussianRing(4, 2, 0.1), 0, null,
            StepSize: 0.25, LossScale: Math.Sqrt(2), HiddenUnits: 50, LearningRateDecay: 0.98, LearningRateDecaySteps: 750,
            HmcGrid: [0.125, 0.25, 0.5], HiddenWidths: [50, 100, 50]),
        // RoughWell.ipynb's last setting: RoughWell(dim=2, eps=0.1, easy=False), ½xᵀx + 0.1 Σ cos(x/0.01).
        new("rw-ref", "2-d rough well, RoughWell.ipynb (η = 0.1, cos(x/η²))", EnergyFunction.RoughWell(2, 0.1, hard: true), 200, null),
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
