using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Core.Training;

/// <summary>
/// One optimizer of a <see cref="TrainingEngine{TBatch}"/> with its own loss, parameters, step schedule, gradient
/// clipping and policy for non-finite losses. A GAN adds one for the discriminator and one for the generator; REBAR
/// one for the model and one for the control variate's parameters. In a step the engine runs every scheduled objective
/// in the order they were added:
/// <list type="number">
/// <item>zero the gradients of <see cref="Parameters"/>, evaluate <see cref="Loss"/>, <c>backward()</c> (unless
/// <see cref="ComputesOwnGradients"/>), clip;</item>
/// <item>check that the loss (and, with <see cref="NonFiniteLossPolicy.SkipStep"/>, the gradients) is finite;</item>
/// <item><c>Optimizer.step(closure)</c>, where the closure returns that first evaluation on its first call and repeats
/// step 1 on later calls, so optimizers that re-evaluate the loss (L-BFGS, line searches) work;</item>
/// <item><see cref="Scheduler"/>.step(), and the loss is recorded as the metric <see cref="Name"/>.</item>
/// </list>
/// </summary>
/// <typeparam name="TBatch">The batch type of the engine.</typeparam>
public sealed class TrainingObjective<TBatch>
{
    /// <summary>Creates the objective.</summary>
    /// <param name="name">Name of its loss metric (e.g. <c>"loss"</c>, <c>"generator loss"</c>); unique in an engine.</param>
    /// <param name="optimizer">The optimizer (owned by the caller): a built-in <c>torch.optim</c> one or any subclass of
    /// <see cref="torch.optim.Optimizer"/>.</param>
    /// <param name="loss">The scalar loss of a step, computed from the step's batch with gradients enabled.</param>
    /// <param name="parameters">The parameters whose gradients this objective zeroes, clips and checks; null takes
    /// <c>optimizer.parameters()</c> (a custom optimizer then has to override it).</param>
    public TrainingObjective(string name, torch.optim.Optimizer optimizer, Func<TrainingStep<TBatch>, Tensor> loss, IEnumerable<Parameter>? parameters = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(loss);
        Name = name;
        Optimizer = optimizer;
        Loss = loss;
        Parameters = [.. parameters ?? optimizer.parameters()];
    }

    /// <summary>The name of the loss metric.</summary>
    public string Name { get; }

    /// <summary>The optimizer.</summary>
    public torch.optim.Optimizer Optimizer { get; }

    /// <summary>The loss function.</summary>
    public Func<TrainingStep<TBatch>, Tensor> Loss { get; }

    /// <summary>The parameters whose gradients are zeroed, clipped and checked.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>
    /// Which steps this objective runs in, given the 0-based step index (see <see cref="TrainingSchedule"/>); null runs it
    /// every step. Default null.
    /// </summary>
    public Func<long, bool>? Schedule { get; init; }

    /// <summary>
    /// Clip the gradients of <see cref="Parameters"/> to this global L2 norm (scaled together, direction kept) after every
    /// evaluation; the norm before clipping is recorded as the metric <c>"{Name} gradient norm"</c>. Positive, or null
    /// for no clipping. Default null.
    /// </summary>
    public double? MaxGradientNorm { get; init; }

    /// <summary>Clamp every gradient element to [−v, v] after every evaluation (after norm clipping). Positive, or null. Default null.</summary>
    public double? MaxGradientValue { get; init; }

    /// <summary>
    /// The loss function fills the parameters' <c>.grad</c> itself (for example with <c>torch.autograd.grad</c> and
    /// stop-gradients, as REBAR's control variate needs) and returns the loss for reporting; the engine then calls no
    /// <c>backward()</c>. Default false.
    /// </summary>
    public bool ComputesOwnGradients { get; init; }

    /// <summary>What a non-finite loss does. Default <see cref="NonFiniteLossPolicy.Throw"/>.</summary>
    public NonFiniteLossPolicy NonFiniteLoss { get; init; } = NonFiniteLossPolicy.Throw;

    /// <summary>With <see cref="NonFiniteLossPolicy.SkipStep"/>: this many skipped steps in a row stop training with an error. Positive. Default 50.</summary>
    public int MaxConsecutiveSkips { get; init; } = 50;

    /// <summary>A learning-rate scheduler stepped after every scheduled step of this objective (also a skipped one), or null. Default null.</summary>
    public torch.optim.lr_scheduler.LRScheduler? Scheduler { get; init; }

    /// <summary>Optimizer steps taken so far.</summary>
    public long StepsTaken { get; internal set; }

    /// <summary>Steps skipped so far for a non-finite loss or gradient.</summary>
    public long SkippedSteps { get; internal set; }

    /// <summary>Whether this objective's last scheduled step was skipped.</summary>
    public bool LastStepSkipped { get; internal set; }

    internal int ConsecutiveSkips { get; set; }

    internal string GradientNormName => $"{Name} gradient norm";

    internal bool IsScheduled(long step) => Schedule is null || Schedule(step);

    internal void Validate()
    {
        if (MaxGradientNorm is { } n && !(n > 0 && double.IsFinite(n)))
            throw new ArgumentOutOfRangeException(nameof(MaxGradientNorm), n, $"Objective '{Name}': must be positive and finite.");
        if (MaxGradientValue is { } v && !(v > 0 && double.IsFinite(v)))
            throw new ArgumentOutOfRangeException(nameof(MaxGradientValue), v, $"Objective '{Name}': must be positive and finite.");
        if (!Enum.IsDefined(NonFiniteLoss))
            throw new ArgumentOutOfRangeException(nameof(NonFiniteLoss), NonFiniteLoss, $"Objective '{Name}': unknown policy.");
        if (MaxConsecutiveSkips <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxConsecutiveSkips), MaxConsecutiveSkips, $"Objective '{Name}': must be positive.");
    }
}
