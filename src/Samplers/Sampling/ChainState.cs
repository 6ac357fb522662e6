using Components.Samplers.Energies;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Sampling;

/// <summary>
/// The state of a batch of chains: positions, their energies and gradients (cached, so a transition of T
/// leapfrog steps costs T gradient evaluations). The tensors belong to the caller's dispose scope.
/// </summary>
internal sealed class ChainState
{
    public ChainState(Tensor x, Tensor energy, Tensor gradient)
    {
        X = x;
        Energy = energy;
        Gradient = gradient;
    }

    /// <summary>Positions <c>[B, d]</c>.</summary>
    public Tensor X { get; }

    /// <summary>Energies <c>[B]</c>.</summary>
    public Tensor Energy { get; }

    /// <summary>Gradients <c>[B, d]</c>.</summary>
    public Tensor Gradient { get; }

    /// <summary>
    /// Evaluates the energy and gradient at initial positions and checks them: every state must have a finite
    /// energy and gradient, else <see cref="InvalidOperationException"/> names the offending row.
    /// </summary>
    /// <param name="energy">The target.</param>
    /// <param name="x">Initial positions <c>[B, d]</c> (no gradient).</param>
    /// <param name="describeRow">Describes row i for the message (e.g. the column and row position).</param>
    public static ChainState Initialize(EnergyFunction energy, Tensor x, Func<int, string> describeRow)
    {
        energy.CheckStates(x, "initial states");
        var (u, g) = energy.EnergyAndGradient(x);
        var bad = u.isfinite().logical_not().logical_or(g.isfinite().all(1).logical_not());
        if (bad.any().item<bool>())
        {
            int row = (int)bad.nonzero()[0, 0].item<long>();
            float ur = u[row].item<float>();
            var gr = g[row].cpu().data<float>().ToArray();
            string what = float.IsFinite(ur) ? "a non-finite gradient" : $"a non-finite energy ({ur})";
            throw new InvalidOperationException(
                $"Energy '{energy.Name}' has {what} at {describeRow(row)}: U = {ur}, gradient = [{string.Join(", ", gr.Take(8))}{(gr.Length > 8 ? ", ..." : "")}]. " +
                "Initial states must lie where the energy and its gradient are finite.");
        }
        return new ChainState(x, u, g);
    }
}

/// <summary>Metropolis–Hastings acceptance shared by HMC and L2HMC.</summary>
internal static class Acceptance
{
    /// <summary>
    /// <c>A = min(1, exp(H(ξ) − H(ξ') + log|J|))</c>, with 0 wherever the proposal or the result is not finite
    /// (non-finite energy, position or log-determinant), as in the reference <c>p_accept</c>.
    /// </summary>
    /// <param name="h0">Hamiltonian at the start <c>[B]</c>.</param>
    /// <param name="h1">Hamiltonian at the proposal <c>[B]</c>.</param>
    /// <param name="logDet">Log-determinant of the proposal's Jacobian <c>[B]</c> (zero for HMC).</param>
    /// <param name="proposal">Proposed positions <c>[B, d]</c>.</param>
    public static Tensor Probability(Tensor h0, Tensor h1, Tensor? logDet, Tensor proposal)
    {
        using var scope = torch.NewDisposeScope();
        var arg = logDet is null ? h0 - h1 : h0 - h1 + logDet;
        var ok = arg.isfinite().logical_and(h1.isfinite()).logical_and(h0.isfinite()).logical_and(proposal.isfinite().all(1));
        var p = torch.where(ok, arg.clamp_max(0).exp(), torch.zeros_like(arg));
        return p.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rejects non-finite proposals and checks that accepted-able proposals have finite gradients; a finite energy
    /// with a non-finite gradient means the energy is broken.
    /// </summary>
    public static void CheckProposalGradient(EnergyFunction energy, Tensor u1, Tensor g1, Tensor x1)
    {
        var bad = u1.isfinite().logical_and(x1.isfinite().all(1)).logical_and(g1.isfinite().all(1).logical_not());
        if (bad.any().item<bool>())
        {
            int row = (int)bad.nonzero()[0, 0].item<long>();
            var xr = x1[row].cpu().data<float>().ToArray();
            throw new InvalidOperationException(
                $"Energy '{energy.Name}' returned a finite energy but a non-finite gradient at x = [{string.Join(", ", xr.Take(8))}{(xr.Length > 8 ? ", ..." : "")}] " +
                $"(chain {row}). Check the energy function: its gradient must be finite wherever it is finite.");
        }
    }
}
