using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer.MetaTraining;

/// <summary>
/// One problem of the meta-training ensemble: its initial parameters and a differentiable loss closure
/// (non-negative; noisy problems draw their noise from the problem's own seeded generator, so a problem built from
/// the same seed replays the same losses). Owns its tensors and generators.
/// </summary>
internal sealed class MetaTrainingProblem : IDisposable
{
    private readonly Func<IReadOnlyList<Tensor>, Tensor> _loss;
    private readonly List<IDisposable> _owned;

    public MetaTrainingProblem(string name, Tensor[] initialParameters, Func<IReadOnlyList<Tensor>, Tensor> loss, List<IDisposable> owned)
    {
        Name = name;
        InitialParameters = initialParameters;
        _loss = loss;
        _owned = owned;
    }

    /// <summary>The family and variants, e.g. <c>"noisy(quadratic)"</c>.</summary>
    public string Name { get; }

    /// <summary>The starting point (owned by the problem; clone before optimising).</summary>
    public Tensor[] InitialParameters { get; }

    /// <summary>The generator of the problem's noise (noisy and sparse variants); null when it has none of its own.</summary>
    internal Generator? NoiseGenerator { get; set; }

    /// <summary>Restarts the noise stream at <paramref name="seed"/> (a truncated unroll does this at each partial unroll, so a trajectory resumed from a checkpoint replays the same noise).</summary>
    public void ReseedNoise(long seed) => NoiseGenerator?.manual_seed(seed);

    /// <summary>The loss at <paramref name="parameters"/> (a scalar tensor in the caller's dispose scope).</summary>
    public Tensor Loss(IReadOnlyList<Tensor> parameters)
    {
        if (parameters.Count != InitialParameters.Length)
            throw new ArgumentException($"Problem '{Name}' has {InitialParameters.Length} parameter tensors, got {parameters.Count}.", nameof(parameters));
        return _loss(parameters);
    }

    public void Dispose()
    {
        foreach (var t in InitialParameters)
            t.Dispose();
        foreach (var o in _owned)
            o.Dispose();
    }
}
