using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>
/// A stochastic objective: the per-row loss <c>f</c> (shape [rows]) of a model with Bernoulli layers. It draws each
/// layer by calling <see cref="BernoulliLayers.Sample"/> with that layer's logits, in the same order on every call.
/// Estimators call it several times per step (hard samples, relaxed samples, the mean): it must depend on the layers
/// only through what <c>Sample</c> returns, and must not draw randomness of its own.
/// </summary>
public delegate Tensor StochasticObjective(BernoulliLayers layers);

/// <summary>What <see cref="BernoulliLayers.Sample"/> returns in one evaluation of an objective.</summary>
public enum BernoulliPass
{
    /// <summary>The hard sample b = H(z), detached.</summary>
    Hard,

    /// <summary>The relaxed sample σ_λ(z) (same noise as the hard pass).</summary>
    Relaxed,

    /// <summary>The relaxed conditional sample σ_λ(z̃), z̃ ~ p(z | b) tied to the hard pass's noise.</summary>
    RelaxedConditional,

    /// <summary>The mean σ(θ) (MuProp's deterministic pass).</summary>
    Mean,
}

/// <summary>
/// The layers of one evaluation of a <see cref="StochasticObjective"/>. The hard pass draws the uniforms of every layer
/// from the estimator's generator and keeps them; the other passes of the same step reuse them, so every pass sees the
/// same noise. Tensors live in the caller's dispose scope.
/// </summary>
public sealed class BernoulliLayers
{
    private readonly List<Tensor> _uniforms;
    private readonly List<Tensor> _hardLogits;
    private readonly Generator? _generator;
    private readonly Tensor? _temperature;
    private readonly bool _muPropRelaxation;
    private int _next;

    internal BernoulliLayers(BernoulliPass pass, List<Tensor> uniforms, List<Tensor> hardLogits, Generator? generator, Tensor? temperature, bool muPropRelaxation)
    {
        Pass = pass;
        _uniforms = uniforms;
        _hardLogits = hardLogits;
        _generator = generator;
        _temperature = temperature;
        _muPropRelaxation = muPropRelaxation;
    }

    /// <summary>Which kind of sample this evaluation returns.</summary>
    public BernoulliPass Pass { get; }

    /// <summary>The logits of every layer drawn so far, in order.</summary>
    public List<Tensor> Logits { get; } = [];

    /// <summary>What <see cref="Sample"/> returned for every layer, in order.</summary>
    public List<Tensor> Activations { get; } = [];

    /// <summary>The hard samples b of every layer (in the hard pass; the relaxed passes record the b of their noise).</summary>
    public List<Tensor> HardSamples { get; } = [];

    /// <summary>
    /// Draws the next layer from its logits θ (any shape, rows first) and returns the hard sample, the relaxed one or the
    /// mean, depending on <see cref="Pass"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The logits are not finite, or their shape differs from this layer's in the hard pass.</exception>
    /// <exception cref="InvalidOperationException">More layers than in the hard pass.</exception>
    public Tensor Sample(Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        int layer = _next++;
        if (!logits.isfinite().all().item<bool>())
            throw new ArgumentException($"The logits of Bernoulli layer {layer} contain NaN or infinite values.", nameof(logits));
        if (Pass == BernoulliPass.Mean)
        {
            var mean = logits.sigmoid();
            Logits.Add(logits);
            HardSamples.Add(mean);
            Activations.Add(mean);
            return mean;
        }
        Tensor u;
        if (layer >= _uniforms.Count)
        {
            if (Pass != BernoulliPass.Hard && !DrawsNoise)
                throw new InvalidOperationException($"The objective drew {layer + 1} Bernoulli layers, more than the {_uniforms.Count} of its hard pass; it must draw the same layers every time.");
            u = rand(logits.shape, logits.dtype, logits.device, generator: _generator);
            _uniforms.Add(u);
        }
        else
        {
            u = _uniforms[layer];
            if (!u.shape.SequenceEqual(logits.shape))
                throw new ArgumentException($"Bernoulli layer {layer} has logits of shape [{string.Join(", ", logits.shape)}], in the first pass [{string.Join(", ", u.shape)}]; the objective must draw the same layers every time.", nameof(logits));
        }
        var z = BernoulliRelaxation.Logistic(logits, u);
        var b = BernoulliRelaxation.Hard(z);
        var a = Pass switch
        {
            BernoulliPass.Hard => b,
            BernoulliPass.Relaxed => BernoulliRelaxation.Relax(z, logits, _temperature!, _muPropRelaxation),
            // z̃ = θ + logit(v) with v ~ u | b under the hard pass's logits of this layer: b (and so u | b) follows the
            // hard model, whose later layers see the hard samples; θ here is this pass's (relaxed) logits.
            _ => BernoulliRelaxation.Relax(BernoulliRelaxation.Logistic(logits,
                BernoulliRelaxation.ConditionalUniformTied(layer < _hardLogits.Count ? _hardLogits[layer] : logits, u)), logits, _temperature!, _muPropRelaxation),
        };
        if (Pass == BernoulliPass.Hard)
            _hardLogits.Add(logits);
        Logits.Add(logits);
        HardSamples.Add(b);
        Activations.Add(a);
        return a;
    }

    /// <summary>A relaxed pass that comes first (Concrete) draws the uniforms itself.</summary>
    internal bool DrawsNoise { get; set; }

    /// <summary>Number of layers drawn so far.</summary>
    public int Count => _next;

    /// <summary>Per row, <c>Σ_layers log q(b | θ)</c> of the hard samples (differentiable in the logits).</summary>
    internal Tensor LogProbability(int layer) => BernoulliRelaxation.LogLikelihood(HardSamples[layer], Logits[layer]).reshape(HardSamples[layer].shape[0], -1).sum(1);
}
