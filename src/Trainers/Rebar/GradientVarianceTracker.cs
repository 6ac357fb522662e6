using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>
/// The reference's measure of an estimator's variance during training: exponential moving averages (decay 0.999 by
/// default, each started at the first value) of the vectorised gradient estimate g and of g², and the mean over elements
/// of <c>EMA(g²) − EMA(g)²</c>. <see cref="LogVariance"/> is its natural log (the number the paper and its README report).
/// </summary>
public sealed class GradientVarianceTracker : IDisposable
{
    private readonly double _decay;
    private Tensor? _first, _second;

    /// <summary>Creates the tracker.</summary>
    /// <param name="decay">EMA decay in [0, 1).</param>
    public GradientVarianceTracker(double decay = 0.999)
    {
        if (!(decay >= 0 && decay < 1))
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "The decay must lie in [0, 1).");
        _decay = decay;
    }

    /// <summary>Updates counted so far.</summary>
    public long Updates { get; private set; }

    /// <summary>Adds one gradient estimate (all tensors flattened in order) and returns <see cref="LogVariance"/>.</summary>
    public double Update(IReadOnlyList<Tensor> gradients)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = cat([.. gradients.Select(t => t.detach().reshape(-1).to(ScalarType.Float64))]);
        if (_first is null)
        {
            _first = g.clone().DetachFromDisposeScope();
            _second = g.pow(2).DetachFromDisposeScope();
        }
        else
        {
            _first.mul_(_decay).add_(g, alpha: 1 - _decay);
            _second!.mul_(_decay).add_(g.pow(2), alpha: 1 - _decay);
        }
        Updates++;
        return LogVariance;
    }

    /// <summary>Mean per-element variance of the estimates (≥ 0); 0 before the second update.</summary>
    public double Variance
    {
        get
        {
            if (_first is null)
                return 0;
            using var scope = NewDisposeScope();
            return Math.Max(0, (_second! - _first.pow(2)).mean().ToDouble());
        }
    }

    /// <summary>log <see cref="Variance"/> (−∞ before the second update).</summary>
    public double LogVariance => Math.Log(Variance);

    /// <inheritdoc/>
    public void Dispose()
    {
        _first?.Dispose();
        _second?.Dispose();
    }
}
