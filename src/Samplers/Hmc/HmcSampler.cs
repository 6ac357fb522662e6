using Components.Samplers.Energies;
using Components.Samplers.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Hmc;

/// <summary>
/// Hamiltonian Monte Carlo on many parallel chains (math core, no MLContext): leapfrog integration with identity
/// mass and a Metropolis–Hastings test, plus dual-averaging adaptation of the step size to a target acceptance
/// probability. Rows of every state tensor are chains.
/// </summary>
public sealed class HmcSampler
{
    private readonly LeapfrogKernel _kernel;

    /// <summary>Creates the sampler.</summary>
    /// <param name="energy">The target.</param>
    /// <param name="stepSize">Leapfrog step size ε (positive).</param>
    /// <param name="leapfrogSteps">Leapfrog steps L per transition (one or more).</param>
    public HmcSampler(EnergyFunction energy, double stepSize = 0.1, int leapfrogSteps = 10)
    {
        ArgumentNullException.ThrowIfNull(energy);
        if (!(stepSize > 0) || double.IsInfinity(stepSize))
            throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "The step size must be positive and finite.");
        if (leapfrogSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(leapfrogSteps), leapfrogSteps, "At least one leapfrog step is needed.");
        _kernel = new LeapfrogKernel(energy, stepSize, leapfrogSteps);
    }

    /// <summary>The target.</summary>
    public EnergyFunction Energy => _kernel.Energy;

    /// <summary>Current step size ε.</summary>
    public double StepSize => _kernel.StepSize;

    /// <summary>Leapfrog steps per transition (= gradient evaluations per transition).</summary>
    public int LeapfrogSteps => _kernel.LeapfrogSteps;

    internal ITransitionKernel Kernel => _kernel;

    /// <summary>
    /// Adapts the step size by dual averaging over <paramref name="steps"/> transitions of all chains (the mean
    /// acceptance probability over chains drives the update) and sets <see cref="StepSize"/> to the averaged ε̄.
    /// </summary>
    /// <param name="initialStates">Starting states <c>[chains, d]</c>.</param>
    /// <param name="steps">Adaptation transitions.</param>
    /// <param name="targetAcceptance">Target mean acceptance probability δ in (0, 1).</param>
    /// <param name="generator">Random generator on the states' device.</param>
    /// <param name="progress">Called after each transition with (step, mean acceptance, ε); may be null.</param>
    /// <param name="cancellation">Cancellation token.</param>
    /// <returns>The chains' states after adaptation <c>[chains, d]</c>.</returns>
    public Tensor Adapt(Tensor initialStates, int steps, double targetAcceptance, Generator generator,
        Action<int, double, double>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(initialStates);
        if (!(targetAcceptance > 0 && targetAcceptance < 1))
            throw new ArgumentOutOfRangeException(nameof(targetAcceptance), targetAcceptance, "The target acceptance must be in (0, 1).");
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        int b = (int)initialStates.shape[0], d = Energy.Dimension;
        var noise = new GeneratorNoise(generator);
        var da = new DualAveraging(_kernel.StepSize, targetAcceptance);
        using var outer = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var state = ChainState.Initialize(Energy, initialStates.detach().clone(), i => $"initial state {i}");
        for (int m = 0; m < steps; m++)
        {
            cancellation.ThrowIfCancellationRequested();
            _kernel.StepSize = da.StepSize;
            state = ChainRunner.Advance(_kernel, state, noise, m, b, d, out var p, out _);
            da.Update(p);
            progress?.Invoke(m, p, _kernel.StepSize);
        }
        _kernel.StepSize = steps > 0 ? da.AveragedStepSize : _kernel.StepSize;
        if (!(_kernel.StepSize > 0) || double.IsInfinity(_kernel.StepSize))
            throw new InvalidOperationException($"Step-size adaptation on '{Energy.Name}' diverged (ε = {_kernel.StepSize}).");
        return state.X.MoveToOuterDisposeScope();
    }

    /// <summary>Runs the chains and records them.</summary>
    /// <param name="initialStates">Starting states <c>[chains, d]</c>.</param>
    /// <param name="steps">Recorded steps (the state before each transition is recorded).</param>
    /// <param name="generator">Random generator on the states' device.</param>
    /// <param name="burnIn">Unrecorded transitions first.</param>
    /// <param name="thin">Transitions per recorded step.</param>
    /// <param name="cancellation">Cancellation token.</param>
    public ChainTrace Sample(Tensor initialStates, int steps, Generator generator, int burnIn = 0, int thin = 1, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(initialStates);
        CheckRun(steps, burnIn, thin);
        return ChainRunner.Run(_kernel, initialStates, burnIn, steps, thin, new GeneratorNoise(generator), cancellation).Trace;
    }

    internal static void CheckRun(int steps, int burnIn, int thin)
    {
        if (steps < 1)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, "At least one step must be recorded.");
        ArgumentOutOfRangeException.ThrowIfNegative(burnIn);
        if (thin < 1)
            throw new ArgumentOutOfRangeException(nameof(thin), thin, "thin must be at least 1.");
    }
}
