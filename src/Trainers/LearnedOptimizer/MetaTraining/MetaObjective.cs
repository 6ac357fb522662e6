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
    /// </summary>
    /// <remarks><c>secondDerivatives</c>: backpropagate through the inner gradients too (the reference's default); false treats them as constants.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The length is below 1.</exception>
    public static MetaGradient Compute(HierarchicalRnnMetaParameters meta, MetaTrainingEnsemble ensemble, MetaUnroll unroll, bool secondDerivatives = true, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(meta);
        ArgumentNullException.ThrowIfNull(ensemble);
        if (unroll.Length < 1)
            throw new ArgumentOutOfRangeException(nameof(unroll), unroll.Length, "An unroll needs at least one inner step.");
        var metaParameters = meta.parameters().ToArray();
        var dtype = metaParameters[0].dtype;
        using var problem = ensemble.Draw(unroll.ProblemSeed, dtype);
        using var stateGenerator = RandomStreams.CreateGenerator(unroll.ProblemSeed, "learned-optimizer.unroll-state");
        using var scope = NewDisposeScope();
        Tensor[] theta = [.. problem.InitialParameters.Select(t => t.detach().clone().requires_grad_(true))];
        var state = HierarchicalRnnUpdate.Initial(meta, theta, MinLearningRate, MaxLearningRate, stateGenerator);
        var f0 = problem.Loss(theta);
        var f = f0;
        var losses = new List<Tensor>(unroll.Length);
        for (int t = 0; t < unroll.Length; t++)
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
            throw new ArithmeticException($"The meta-loss of problem '{problem.Name}' (seed {unroll.ProblemSeed}, {unroll.Length} steps) is {value}.");
        var metaGrads = torch.autograd.grad([metaLoss], metaParameters, allow_unused: true);
        var result = metaGrads.Select((g, i) => (g is null || g.IsInvalid ? zeros_like(metaParameters[i]) : g).detach().clone().MoveToOuterDisposeScope()).ToArray();
        return new MetaGradient { MetaLoss = value, Gradients = result, InitialLoss = f0.ToDouble(), FinalLoss = f.ToDouble() };
    }
}
