using Components.Samplers.Energies;
using Components.Samplers.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.L2hmc;

/// <summary>
/// One L2HMC transition (reference <c>utils/sampler.py</c> propose + MH): fresh momentum, direction resampled per
/// chain, T augmented leapfrog steps, acceptance <c>min(1, exp(H(ξ) − H(ξ') + log|J|))</c> (0 if not finite).
/// </summary>
internal sealed class L2hmcKernel : ITransitionKernel
{
    private readonly L2hmcDynamics _dynamics;

    public L2hmcKernel(EnergyFunction energy, L2hmcDynamics dynamics)
    {
        Energy = energy;
        _dynamics = dynamics;
    }

    public EnergyFunction Energy { get; }

    public int GradientsPerTransition => _dynamics.LeapfrogSteps;

    public (ChainState State, Tensor AcceptProbability, Tensor Accepted) Step(ChainState state, TransitionInputs inputs)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var v0 = inputs.Momentum;
        var (x1, v1, logDet, u1, g1) = _dynamics.Propose(Energy, state.X, v0, inputs.Forward, state.Gradient, createGraph: false);
        var h0 = state.Energy + 0.5f * v0.square().sum(1);
        var h1 = u1 + 0.5f * v1.square().sum(1);
        var p = Acceptance.Probability(h0, h1, logDet, x1);
        Acceptance.CheckProposalGradient(Energy, u1, g1, x1);
        var acc = inputs.Uniform.lt(p);
        var a2 = acc.unsqueeze(1);
        var next = new ChainState(torch.where(a2, x1, state.X).MoveToOuterDisposeScope(),
            torch.where(acc, u1, state.Energy).MoveToOuterDisposeScope(),
            torch.where(a2, g1, state.Gradient).MoveToOuterDisposeScope());
        return (next, p.MoveToOuterDisposeScope(), acc.MoveToOuterDisposeScope());
    }
}
