using Components.Core.Randomness;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer.MetaTraining;

/// <summary>One truncated unroll: the problem (by seed, drawn from an ensemble) and the number of inner steps.</summary>
/// <param name="ProblemSeed">Seed of the problem (<see cref="MetaTrainingEnsemble.Draw"/>) and of the optimizer's initial state.</param>
/// <param name="Length">Inner steps T ≥ 1.</param>
internal readonly record struct MetaUnroll(int ProblemSeed, int Length);

/// <summary>The meta-loss of one unroll and its gradient with respect to every meta-parameter (in <c>named_parameters</c> order).</summary>
internal sealed class MetaGradient : IDisposable
{
    public required double MetaLoss { get; init; }
    public required Tensor[] Gradients { get; init; }
    public required double InitialLoss { get; init; }
    public required double FinalLoss { get; init; }

    public void Dispose()
    {
        foreach (var g in Gradients)
            g.Dispose();
    }
}

/// <summary>
/// The meta-objective (the reference's log objective): <c>L = (1/T) Σ_{t=1..T} log(f_t / (f_0 + ε) + ε)</c>, ε = 1e-6, where
/// f_t is the problem's loss after t steps of the learned update rule and f_0 the loss at the start. L ≈ 0 when the
/// loss does not change, negative when it falls; and the pure function computing its meta-gradient by backpropagating
/// through the unroll (second derivatives kept, as the reference's use_second_derivatives).
/// </summary>
internal static class MetaObjective
{
    /// <summary>ε in the log ratio (the reference's 1e-6).</summary>
    public const double Epsilon = 1e-6;

    /// <summary>Smallest and largest initial learning rate (the reference's 1e-6 and 1e-2).</summary>
    public const double MinLearningRate = 1e-6, MaxLearningRate = 1e-2;

    /// <summary>The log-ratio meta-loss of the losses <paramref name="losses"/> (f_1 … f_T) against <paramref name="initialLoss"/> (f_0, no gradient flows through it).</summary>
    public static Tensor LogRatio(IReadOnlyList<Tensor> losses, Tensor initialLoss)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count == 0)
            throw new ArgumentException("The meta-loss needs at least one inner loss (an unroll of at least one step).", nameof(losses));
        var f0 = initialLoss.detach() + Epsilon;
        var sum = zeros_like(f0);
        foreach (var f in losses)
            sum = sum + (f / f0 + Epsilon).log();
        return sum / losses.Count;
    }

    /// <summary>
    /// The meta-loss of <paramref name="unroll"/> under <paramref name="meta"/> and its gradient: a pure function of
    /// (meta-parameters, problem seed, length). The problem and the optimizer's initial state are computed in the
    /// meta-parameters' dtype (so float64 meta-parameters give a float64 meta-gradient). Does not touch <c>.grad</c>.
    /// This is the first partial unroll of a trajectory (<see cref="Start"/>, then <see cref="ComputePartial"/>).
    /// </summary>
    /// <remarks><c>secondDerivatives</c>: backpropagate through the inner gradients too (the reference's default); false treats them as constants.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The length is below 1.</exception>
    public static MetaGradient Compute(HierarchicalRnnMetaParameters meta, MetaTrainingEnsemble ensemble, MetaUnroll unroll, bool secondDerivatives = true, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(meta);
        ArgumentNullException.ThrowIfNull(ensemble);
        if (unroll.Length < 1)
            throw new ArgumentOutOfRangeException(nameof(unroll), unroll.Length, "An unroll needs at least one inner step.");
        using var problem = ensemble.Draw(unroll.ProblemSeed, meta.parameters().First().dtype);
        using var carry = Start(meta, problem, unroll.ProblemSeed);
        var (gradient, next) = ComputePartial(meta, problem, carry, unroll.Length, secondDerivatives, cancellation);
        next.Dispose();
        return gradient;
    }

    /// <summary>The inner state before a trajectory's first partial unroll: θ₀, the optimizer's initial state (log learning rates from stream <c>learned-optimizer.unroll-state</c> of the seed) and f(θ₀).</summary>
    public static UnrollCarry Start(HierarchicalRnnMetaParameters meta, MetaTrainingProblem problem, int problemSeed)
    {
        ArgumentNullException.ThrowIfNull(meta);
        ArgumentNullException.ThrowIfNull(problem);
        var dtype = meta.parameters().First().dtype;
        using var stateGenerator = RandomStreams.CreateGenerator(problemSeed, "learned-optimizer.unroll-state");
        using var scope = NewDisposeScope();
        Tensor[] theta = [.. problem.InitialParameters.Select(t => t.detach().to(dtype).clone())];
        var state = HierarchicalRnnUpdate.Initial(meta, theta, MinLearningRate, MaxLearningRate, stateGenerator);
        double f0;
        using (no_grad())
            f0 = problem.Loss(theta).ToDouble();
        foreach (var t in theta)
            t.DetachFromDisposeScope();
        state.Detached();
        return new UnrollCarry { ProblemSeed = problemSeed, Parameters = theta, State = state, InitialLoss = f0, UnrollsDone = 0 };
    }

    /// <summary>
    /// One partial unroll of a truncated trajectory: <paramref name="length"/> inner steps from <paramref name="carry"/>
    /// (parameters and optimizer state, treated as constants: truncated backpropagation), the log-ratio meta-loss against
    /// the trajectory's f(θ₀) and its gradient, and the carry after the last step (a new object the caller owns;
    /// <paramref name="carry"/> is left as it was). From the second partial unroll on, the problem's noise is reseeded from
    /// (problem seed, partial-unroll index), so the result is a pure function of (meta-parameters, problem, carry, length).
    /// </summary>
    public static (MetaGradient Gradient, UnrollCarry Next) ComputePartial(HierarchicalRnnMetaParameters meta, MetaTrainingProblem problem, UnrollCarry carry, int length,
        bool secondDerivatives = true, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(meta);
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(carry);
        if (length < 1)
            throw new ArgumentOutOfRangeException(nameof(length), length, "An unroll needs at least one inner step.");
        var metaParameters = meta.parameters().ToArray();
        var dtype = metaParameters[0].dtype;
        if (carry.UnrollsDone > 0)
            problem.ReseedNoise((long)(RandomStreams.DeriveSeed(carry.ProblemSeed, $"learned-optimizer.unroll-noise.{carry.UnrollsDone}") & long.MaxValue));
        using var scope = NewDisposeScope();
        Tensor[] theta = [.. carry.Parameters.Select(t => t.detach().clone().requires_grad_(true))];
        var state = carry.State;
        using var f0 = tensor(carry.InitialLoss, dtype);
        var f = problem.Loss(theta);
        var losses = new List<Tensor>(length);
        for (int t = 0; t < length; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            var grads = torch.autograd.grad([f], theta, retain_graph: true, create_graph: secondDerivatives, allow_unused: true);
            Tensor?[] inner = [.. grads.Select((g, i) => (Tensor?)(g is null || g.IsInvalid ? zeros_like(theta[i]) : secondDerivatives ? g : g.detach()))];
            var step = HierarchicalRnnUpdate.Step(meta, inner, state);
            state = step.Next;
            theta = [.. theta.Select((p, i) => p - step.Updates[i]!)];
            f = problem.Loss(theta);
            losses.Add(f);
        }
        var metaLoss = LogRatio(losses, f0);
        double value = metaLoss.ToDouble();
        if (!double.IsFinite(value))
            throw new ArithmeticException($"The meta-loss of problem '{problem.Name}' (seed {carry.ProblemSeed}, partial unroll {carry.UnrollsDone}, {length} steps) is {value}.");
        var metaGrads = torch.autograd.grad([metaLoss], metaParameters, allow_unused: true);
        var result = metaGrads.Select((g, i) => (g is null || g.IsInvalid ? zeros_like(metaParameters[i]) : g).detach().clone().MoveToOuterDisposeScope()).ToArray();
        var next = new UnrollCarry
        {
            ProblemSeed = carry.ProblemSeed,
            Parameters = [.. theta.Select(p => p.detach().clone().MoveToOuterDisposeScope())],
            State = state.DetachedCopy(),
            InitialLoss = carry.InitialLoss,
            UnrollsDone = carry.UnrollsDone + 1,
        };
        return (new MetaGradient { MetaLoss = value, Gradients = result, InitialLoss = carry.InitialLoss, FinalLoss = f.ToDouble() }, next);
    }

    /// <summary>
    /// The log-ratio meta-loss of <paramref name="steps"/> steps of the learned rule on problem <paramref name="problemSeed"/>
    /// from a fresh start, without a meta-gradient (held-out evaluation; first-order, memory constant in the length).
    /// </summary>
    public static double Evaluate(HierarchicalRnnMetaParameters meta, MetaTrainingEnsemble ensemble, int problemSeed, int steps)
    {
        ArgumentNullException.ThrowIfNull(meta);
        ArgumentNullException.ThrowIfNull(ensemble);
        if (steps < 1)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, "An evaluation needs at least one inner step.");
        using var problem = ensemble.Draw(problemSeed, meta.parameters().First().dtype);
        var carry = Start(meta, problem, problemSeed);
        double sum = 0;
        try
        {
            for (int t = 0; t < steps; t++)
            {
                using var scope = NewDisposeScope();
                Tensor[] theta = [.. carry.Parameters.Select(p => p.detach().clone().requires_grad_(true))];
                var f = problem.Loss(theta);
                var grads = torch.autograd.grad([f], theta, allow_unused: true);
                using var _ = no_grad();
                Tensor?[] inner = [.. grads.Select((g, i) => (Tensor?)(g is null || g.IsInvalid ? zeros_like(theta[i]) : g))];
                var step = HierarchicalRnnUpdate.Step(meta, inner, carry.State);
                var next = new UnrollCarry
                {
                    ProblemSeed = problemSeed,
                    Parameters = [.. theta.Select((p, i) => (p.detach() - step.Updates[i]!).MoveToOuterDisposeScope())],
                    State = step.Next.DetachedCopy(),
                    InitialLoss = carry.InitialLoss,
                    UnrollsDone = 0,
                };
                carry.Dispose();
                carry = next;
                sum += Math.Log(problem.Loss(carry.Parameters).ToDouble() / (carry.InitialLoss + Epsilon) + Epsilon);
            }
        }
        finally
        {
            carry.Dispose();
        }
        return sum / steps;
    }
}

/// <summary>What a truncated trajectory carries from one partial unroll to the next (owns its tensors).</summary>
internal sealed class UnrollCarry : IDisposable
{
    /// <summary>The problem seed (it also seeds the noise of each partial unroll).</summary>
    public required int ProblemSeed { get; init; }

    /// <summary>The inner parameters θ (detached).</summary>
    public required Tensor[] Parameters { get; init; }

    /// <summary>The learned optimizer's state (detached).</summary>
    public required HierarchicalRnnState State { get; init; }

    /// <summary>f(θ₀) at the start of the trajectory: the denominator of every partial unroll's log ratio (the reference's).</summary>
    public required double InitialLoss { get; init; }

    /// <summary>Partial unrolls taken.</summary>
    public required int UnrollsDone { get; init; }

    public void Dispose()
    {
        foreach (var p in Parameters)
            p.Dispose();
        State.Dispose();
    }
}
