using Components.Samplers.Energies;
using static TorchSharp.torch;

namespace Components.Samplers.Sampling;

/// <summary>One Metropolis–Hastings transition for a batch of chains (HMC or L2HMC).</summary>
internal interface ITransitionKernel
{
    /// <summary>The target.</summary>
    EnergyFunction Energy { get; }

    /// <summary>Gradient evaluations per transition (leapfrog steps; the start gradient is cached).</summary>
    int GradientsPerTransition { get; }

    /// <summary>
    /// Runs one transition without recording gradients for the sampler's parameters.
    /// </summary>
    /// <returns>The new state, the acceptance probabilities <c>[B]</c> and the accepted mask <c>[B]</c>.</returns>
    (ChainState State, Tensor AcceptProbability, Tensor Accepted) Step(ChainState state, TransitionInputs inputs);
}
