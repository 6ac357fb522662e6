using static TorchSharp.torch;

namespace Components.Core.Training;

/// <summary>
/// Gradient clipping on the <c>.grad</c> of a set of parameters, with tensor operations only (no host round trip).
/// <see cref="TrainingObjective{TBatch}"/> uses it; it also works on its own.
/// </summary>
public static class GradientClipping
{
    /// <summary>
    /// The global L2 norm <c>‖g‖ = sqrt(Σ_p ‖g_p‖²)</c> of the gradients of <paramref name="parameters"/> (parameters
    /// without a gradient are skipped), as a 0-dimensional float64 tensor in the caller's dispose scope (0 when none has one).
    /// </summary>
    public static Tensor GlobalNorm(IEnumerable<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var grads = Gradients(parameters);
        if (grads.Count == 0)
            return tensor(0.0).MoveToOuterDisposeScope();
        var norm = grads.Count == 1 ? grads[0].norm().to(ScalarType.Float64) : stack(grads.Select(g => g.norm().to(ScalarType.Float64))).norm();
        return norm.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Scales all gradients by <c>min(1, maxNorm / (‖g‖ + 1e-6))</c>, so their global norm is at most
    /// <paramref name="maxNorm"/> and their direction is kept (PyTorch's <c>clip_grad_norm_</c>). Returns the norm before
    /// clipping (a 0-dimensional tensor in the caller's dispose scope). A non-finite norm leaves non-finite gradients.
    /// </summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="maxNorm">Largest allowed norm, positive.</param>
    public static Tensor ClipByGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0) || !double.IsFinite(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "Must be positive and finite.");
        var list = parameters?.ToList() ?? throw new ArgumentNullException(nameof(parameters));
        var total = GlobalNorm(list);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var factor = (maxNorm / (total + 1e-6)).clamp_max(1.0);
        foreach (var g in Gradients(list))
            g.mul_(factor.to(g.dtype));
        return total;
    }

    /// <summary>Clamps every gradient element to [−<paramref name="maxValue"/>, <paramref name="maxValue"/>].</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="maxValue">Bound, positive.</param>
    public static void ClipByValue(IEnumerable<Tensor> parameters, double maxValue)
    {
        if (!(maxValue > 0) || !double.IsFinite(maxValue))
            throw new ArgumentOutOfRangeException(nameof(maxValue), maxValue, "Must be positive and finite.");
        ArgumentNullException.ThrowIfNull(parameters);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var g in Gradients(parameters))
            g.clamp_(-maxValue, maxValue);
    }

    private static List<Tensor> Gradients(IEnumerable<Tensor> parameters)
    {
        var grads = new List<Tensor>();
        foreach (var p in parameters)
        {
            if (p.grad is { } g)
                grads.Add(g);
        }
        return grads;
    }
}
