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

    /// <summary>
    /// The unroll stopped early because the inner loss became non-finite or exceeded the trajectory's limit
    /// (<c>maxLossRatio</c> of <see cref="MetaObjective.ComputePartial"/>): the meta-loss covers the steps up to there and
    /// the trajectory must end.
    /// </summary>
    public bool Exploded { get; init; }

    /// <summary>Inner steps the meta-loss covers (the partial unroll's length unless <see cref="Exploded"/>).</summary>
    public int StepsTaken { get; init; }

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
    /// <remarks>
    /// <c>maxLossRatio</c> &gt; 0 (the reference's <c>obj_train_max_multiplier</c>): the unroll stops at the first step whose
    /// loss exceeds <c>f_0 + (maxLossRatio − 1)·|f_0|</c> (that loss included) or is non-finite (that loss left out), and the
    /// result is marked <see cref="MetaGradient.Exploded"/>: a diverging trajectory then contributes the meta-gradient of
    /// its rise instead of being dropped. <c>learnInitialStates</c> (default): on the first partial unroll the learned
    /// initial GRU states enter the graph, so meta-training moves them (the reference's learnable_rnn_init); false treats
    /// them as constants (as before this option existed; the shipped weights were trained so).
    /// </remarks>
    public static (MetaGradient Gradient, UnrollCarry Next) ComputePartial(HierarchicalRnnMetaParameters meta, MetaTrainingProblem problem, UnrollCarry carry, int length,
        bool secondDerivatives = true, CancellationToken cancellation = default, double maxLossRatio = 0, bool learnInitialStates = true)
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
        var state = carry.UnrollsDone == 0 && learnInitialStates ? WithLearnedInitialStates(meta, carry.State) : carry.State;
        using var f0 = tensor(carry.InitialLoss, dtype);
        double limit = maxLossRatio > 0 ? carry.InitialLoss + (maxLossRatio - 1) * Math.Abs(carry.InitialLoss) : double.PositiveInfinity;
        var f = problem.Loss(theta);
        var losses = new List<Tensor>(length);
        bool exploded = false;
        for (int t = 0; t < length; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            var grads = torch.autograd.grad([f], theta, retain_graph: true, create_graph: secondDerivatives, allow_unused: true);
            Tensor?[] inner = [.. grads.Select((g, i) => (Tensor?)(g is null || g.IsInvalid ? zeros_like(theta[i]) : secondDerivatives ? g : g.detach()))];
            var step = HierarchicalRnnUpdate.Step(meta, inner, state);
            state = step.Next;
            theta = [.. theta.Select((p, i) => p - step.Updates[i]!)];
            f = problem.Loss(theta);
            if (maxLossRatio > 0)
            {
                double fv = f.ToDouble();
                if (!double.IsFinite(fv) || fv > limit)
                {
                    exploded = true;
                    if (double.IsFinite(fv))
                        losses.Add(f);
                    break;
                }
            }
            losses.Add(f);
        }
        if (losses.Count == 0)
            throw new ArithmeticException($"The first inner loss of problem '{problem.Name}' (seed {carry.ProblemSeed}, partial unroll {carry.UnrollsDone}) is not finite.");
        var metaLoss = LogRatio(losses, f0);
        double value = metaLoss.ToDouble();
        if (!double.IsFinite(value))
            throw new ArithmeticException($"The meta-loss of problem '{problem.Name}' (seed {carry.ProblemSeed}, partial unroll {carry.UnrollsDone}, {length} steps) is {value}.");
        var metaGrads = torch.autograd.grad([metaLoss], metaParameters, allow_unused: true);
        var result = metaGrads.Select((g, i) => (g is null || g.IsInvalid ? zeros_like(metaParameters[i]) : g).detach().clone().MoveToOuterDisposeScope()).ToArray();
        if (result.Any(g => !g.isfinite().all().ToBoolean()))
        {
            foreach (var g in result)
                g.Dispose();
            throw new ArithmeticException($"The meta-gradient of problem '{problem.Name}' (seed {carry.ProblemSeed}, partial unroll {carry.UnrollsDone}, {losses.Count} steps) is not finite.");
        }
        var next = new UnrollCarry
        {
            ProblemSeed = carry.ProblemSeed,
            Parameters = [.. theta.Select(p => p.detach().clone().MoveToOuterDisposeScope())],
            State = state.DetachedCopy(),
            InitialLoss = carry.InitialLoss,
            UnrollsDone = carry.UnrollsDone + 1,
        };
        return (new MetaGradient { MetaLoss = value, Gradients = result, InitialLoss = carry.InitialLoss, FinalLoss = losses[^1].ToDouble(), Exploded = exploded, StepsTaken = losses.Count }, next);
    }

    /// <summary>
    /// <paramref name="state"/> (a fresh one: its GRU states equal the learned initial states) with the three GRU states
    /// replaced by differentiable views of <paramref name="meta"/>'s initial-state vectors (same values), so the first
    /// partial unroll's meta-gradient reaches them. Everything else aliases <paramref name="state"/>.
    /// </summary>
    private static HierarchicalRnnState WithLearnedInitialStates(HierarchicalRnnMetaParameters meta, HierarchicalRnnState state)
    {
        var p = meta.ParameterInit.unsqueeze(0);
        var t = meta.TensorInit.unsqueeze(0);
        return new HierarchicalRnnState
        {
            Tensors = [.. state.Tensors.Select(s => new HierarchicalRnnTensorState
            {
                ParameterHidden = p.expand(s.ParameterHidden.shape[0], s.ParameterHidden.shape[1]).to(s.ParameterHidden.device),
                InputDecay = s.InputDecay, ScaleDecay = s.ScaleDecay, LogLearningRate = s.LogLearningRate,
                GradientAccumulators = s.GradientAccumulators, MeanSquares = s.MeanSquares,
                TensorHidden = t.to(s.TensorHidden.device), Steps = s.Steps,
            })],
            GlobalHidden = meta.GlobalInit.unsqueeze(0).to(state.GlobalHidden.device),
        };
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
