using Components.Samplers.Energies;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.L2hmc;

/// <summary>The paper's four targets and how the reproduction starts and scores chains on them.</summary>
internal sealed record ReproTarget(string Key, string Title, EnergyFunction Energy, int EvaluationBurnIn, string? PaperNumbers)
{
    public static IReadOnlyList<ReproTarget> All { get; } =
    [
        new("scg", "2-d strongly correlated Gaussian (SCG)", EnergyFunction.StronglyCorrelatedGaussian(), 0,
            "SCGExperiment.ipynb: L2HMC 2.61e-1 vs HMC(ε=0.15) 5.63e-3 → 46×; abstract v1 49×, ICLR version 106×"),
        new("icg", "50-d ill-conditioned Gaussian (ICG)", EnergyFunction.IllConditionedGaussian(), 0, null),
        new("mog", "2-d mixture of Gaussians (MoG)", EnergyFunction.MixtureOfGaussians(), 0, null),
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
