using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer.MetaTraining;

/// <summary>The meta-loss of one unroll and its gradient with respect to every rule parameter (in <c>parameters()</c> order).</summary>
internal sealed class RuleMetaGradient : IDisposable
{
    public required double MetaLoss { get; init; }
    public required Tensor[] Gradients { get; init; }

    public void Dispose()
    {
        foreach (var g in Gradients)
            g.Dispose();
    }
}

/// <summary>
/// The meta-gradient of one (rule, task seed, warm-up) as a pure function: draw the task from the seed (classes, pixel
/// permutation, base network), run <see cref="MetaUnroll.WarmupSteps"/> inner steps with the rule without a graph (the
/// truncation), then <see cref="MetaTaskDistribution.UnrollSteps"/> differentiated steps, and score the trained network's
/// embedding with the few-shot ridge meta-objective (<see cref="RidgeMetaObjective.Loss"/>) on labelled rows of the task.
/// Does not touch <c>.grad</c>, so workers may each differentiate their own copy of the rule in parallel.
/// </summary>
internal static class RuleMetaObjective
{
    /// <summary>The meta-loss of <paramref name="unroll"/> under <paramref name="rule"/> and its gradient.</summary>
    /// <exception cref="ArithmeticException">The meta-loss or its gradient is not finite.</exception>
    public static RuleMetaGradient Compute(LocalUpdateRule rule, MetaTrainingData data, MetaTaskDistribution distribution, MetaUnroll unroll, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(distribution);
        if (unroll.WarmupSteps < 0)
            throw new ArgumentOutOfRangeException(nameof(unroll), unroll.WarmupSteps, "Warm-up steps must be ≥ 0.");
        var random = MetaTaskDistribution.TaskRandom(unroll.TaskSeed);
        var task = distribution.DrawTask(random, data.Classes, data.Width);
        using var start = Advance(rule, BaseNetworkState.Create(task.Widths, task.NetworkSeed, task.Activation), data, distribution, task, random, unroll.WarmupSteps, cancellation);
        var parameters = rule.parameters().ToArray();
        using var scope = NewDisposeScope();
        var state = start;
        for (int t = 0; t < distribution.UnrollSteps; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            var batch = MetaTaskDistribution.Rows(data, task, MetaTaskDistribution.UnlabelledRows(random, data, task, distribution.BatchSize));
            state = InnerLoop.Step(rule, state, batch, distribution.InnerLearningRate);
        }
        var loss = Loss(state, data, distribution, task, random);
        double value = loss.ToDouble();
        if (!double.IsFinite(value))
            throw new ArithmeticException($"The meta-loss of task {unroll.TaskSeed} (warm-up {unroll.WarmupSteps}) is {value}.");
        var grads = torch.autograd.grad([loss], parameters, allow_unused: true);
        var result = grads.Select((g, i) => (g is null || g.IsInvalid ? zeros_like(parameters[i]) : g).detach().clone().MoveToOuterDisposeScope()).ToArray();
        if (result.Any(g => !g.isfinite().all().item<bool>()))
        {
            foreach (var g in result)
                g.Dispose();
            throw new ArithmeticException($"The meta-gradient of task {unroll.TaskSeed} (warm-up {unroll.WarmupSteps}) is not finite.");
        }
        return new RuleMetaGradient { MetaLoss = value, Gradients = result };
    }

    /// <summary>
    /// The meta-loss (no gradient) after <paramref name="innerSteps"/> inner steps with <paramref name="rule"/> on task
    /// <paramref name="taskSeed"/>; with <paramref name="rule"/> null, of the base network at its initialisation (no steps).
    /// </summary>
    public static double Evaluate(LocalUpdateRule? rule, MetaTrainingData data, MetaTaskDistribution distribution, int taskSeed, int innerSteps, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(distribution);
        var random = MetaTaskDistribution.TaskRandom(taskSeed);
        var task = distribution.DrawTask(random, data.Classes, data.Width);
        var net = BaseNetworkState.Create(task.Widths, task.NetworkSeed, task.Activation);
        using var trained = rule is null ? net : Advance(rule, net, data, distribution, task, random, innerSteps, cancellation);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return Loss(trained, data, distribution, task, random).ToDouble();
    }

    /// <summary>Runs <paramref name="steps"/> inner steps without a graph, one dispose scope per step; takes over and disposes <paramref name="net"/> (returns it for 0 steps).</summary>
    internal static BaseNetworkState Advance(LocalUpdateRule rule, BaseNetworkState net, MetaTrainingData data, MetaTaskDistribution distribution, MetaTask task, Random random, int steps, CancellationToken cancellation)
    {
        try
        {
            for (int t = 0; t < steps; t++)
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var batch = MetaTaskDistribution.Rows(data, task, MetaTaskDistribution.UnlabelledRows(random, data, task, distribution.BatchSize));
                var next = InnerLoop.Step(rule, net, batch, distribution.InnerLearningRate).Detach();
                net.Dispose();
                net = next;
            }
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    private static Tensor Loss(BaseNetworkState net, MetaTrainingData data, MetaTaskDistribution distribution, MetaTask task, Random random)
    {
        var (sr, sl, qr, ql) = MetaTaskDistribution.LabelledRows(random, data, task, distribution.ShotsPerClass, distribution.QueryPerClass);
        var support = net.Embed(MetaTaskDistribution.Rows(data, task, sr));
        var query = net.Embed(MetaTaskDistribution.Rows(data, task, qr));
        return RidgeMetaObjective.Loss(support, tensor(sl), query, tensor(ql), task.Classes.Length);
    }
}
