using Components.Samplers.Energies;
using Components.Samplers.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Hmc;

/// <summary>
/// Standard HMC: <c>L</c> leapfrog steps of size ε with identity mass, then a Metropolis–Hastings test on
/// <c>H = U(x) + ½|v|²</c>. A transition costs <c>L</c> gradient evaluations (the start gradient is cached).
/// </summary>
internal sealed class LeapfrogKernel : ITransitionKernel
{
    public LeapfrogKernel(EnergyFunction energy, double stepSize, int leapfrogSteps)
    {
        Energy = energy;
        StepSize = stepSize;
        LeapfrogSteps = leapfrogSteps;
    }

    public EnergyFunction Energy { get; }

    public double StepSize { get; set; }

    public int LeapfrogSteps { get; }

    public int GradientsPerTransition => LeapfrogSteps;

    /// <summary>
    /// Integrates <c>L</c> leapfrog steps from <c>(x, v)</c> given the gradient at x. Each step is
    /// <c>v ← v − ½ε∇U(x); x ← x + εv; v ← v − ½ε∇U(x)</c>.
    /// </summary>
    public (Tensor X, Tensor V, Tensor Energy, Tensor Gradient) Integrate(Tensor x, Tensor v, Tensor gradient)
    {
        using var scope = torch.NewDisposeScope();
        float half = (float)(0.5 * StepSize), eps = (float)StepSize;
        Tensor g = gradient, u = null!;
        for (int l = 0; l < LeapfrogSteps; l++)
        {
            v = v - half * g;
            x = x + eps * v;
            (u, g) = Energy.EnergyAndGradient(x);
            v = v - half * g;
        }
        return (x.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope(), u.MoveToOuterDisposeScope(), g.MoveToOuterDisposeScope());
    }

    public (ChainState State, Tensor AcceptProbability, Tensor Accepted) Step(ChainState state, TransitionInputs inputs)
    {
        using var scope = torch.NewDisposeScope();
        var v0 = inputs.Momentum;
        var (x1, v1, u1, g1) = Integrate(state.X, v0, state.Gradient);
        var h0 = state.Energy + 0.5f * v0.square().sum(1);
        var h1 = u1 + 0.5f * v1.square().sum(1);
        var p = Acceptance.Probability(h0, h1, null, x1);
        Acceptance.CheckProposalGradient(Energy, u1, g1, x1);
        var acc = inputs.Uniform.lt(p);
        var a2 = acc.unsqueeze(1);
        var next = new ChainState(torch.where(a2, x1, state.X).MoveToOuterDisposeScope(),
            torch.where(acc, u1, state.Energy).MoveToOuterDisposeScope(),
            torch.where(a2, g1, state.Gradient).MoveToOuterDisposeScope());
        return (next, p.MoveToOuterDisposeScope(), acc.MoveToOuterDisposeScope());
    }
}
