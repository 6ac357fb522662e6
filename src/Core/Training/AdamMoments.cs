using static TorchSharp.torch;

namespace Components.Core.Training;

/// <summary>
/// Adam's first and second moments for a fixed list of parameters, and the bias-corrected Adam update, for the
/// meta-trainers (learned optimizer, meta-learned update rule) that step their meta-parameters by hand from averaged
/// meta-gradients. The moments are exposed for checkpoints. Call <see cref="Update"/> under no_grad inside a dispose
/// scope (it makes temporaries).
/// </summary>
internal sealed class AdamMoments : IDisposable
{
    private readonly double _learningRate, _beta1, _beta2;

    /// <param name="parameters">The parameters (shapes, dtypes and devices of the moments).</param>
    /// <param name="learningRate">Adam's step size.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    public AdamMoments(IEnumerable<Tensor> parameters, double learningRate, double beta1, double beta2)
    {
        var ps = parameters.ToArray();
        M = [.. ps.Select(p => zeros_like(p).DetachFromDisposeScope())];
        V = [.. ps.Select(p => zeros_like(p).DetachFromDisposeScope())];
        _learningRate = learningRate;
        _beta1 = beta1;
        _beta2 = beta2;
    }

    /// <summary>First moments, one per parameter (owned).</summary>
    public Tensor[] M { get; }

    /// <summary>Second moments, one per parameter (owned).</summary>
    public Tensor[] V { get; }

    /// <summary>
    /// Adam step number <paramref name="step"/> (1-based) for parameter <paramref name="index"/>:
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + 1e-8).
    /// </summary>
    public void Update(int index, Tensor parameter, Tensor gradient, int step)
    {
        double c1 = 1 - Math.Pow(_beta1, step), c2 = 1 - Math.Pow(_beta2, step);
        M[index].mul_(_beta1).add_(gradient, alpha: 1 - _beta1);
        V[index].mul_(_beta2).add_(gradient.square(), alpha: 1 - _beta2);
        parameter.sub_(M[index] / c1 / ((V[index] / c2).sqrt() + 1e-8) * _learningRate);
    }

    public void Dispose()
    {
        foreach (var t in M.Concat(V))
            t.Dispose();
    }
}
