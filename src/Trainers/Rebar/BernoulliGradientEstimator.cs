using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>One gradient estimate (tensors in the caller's dispose scope, detached).</summary>
public sealed class GradientEstimate
{
    internal GradientEstimate(Tensor[] model, Tensor[] controlVariate, double loss, double varianceObjective, int evaluations)
    {
        ModelGradients = model;
        ControlVariateGradients = controlVariate;
        Loss = loss;
        VarianceObjective = varianceObjective;
        ObjectiveEvaluations = evaluations;
    }

    /// <summary>Estimates of ∂E[mean f]/∂p for every model parameter p, in the order given to the estimator: those that produce
    /// the logits (the distribution's parameters) and those of f alike.</summary>
    public IReadOnlyList<Tensor> ModelGradients { get; }

    /// <summary>Gradients for <see cref="BernoulliGradientEstimator.ControlVariateParameters"/> (empty when not asked for):
    /// of the variance objective (REBAR family) or of the squared learning signal (NVIL, MuProp baselines).</summary>
    public IReadOnlyList<Tensor> ControlVariateGradients { get; }

    /// <summary>Mean of f over the rows at the hard samples (Concrete: at the relaxed ones).</summary>
    public double Loss { get; }

    /// <summary>REBAR family: the variance objective mean(ĝ²) over all model-parameter elements; NaN for the others.</summary>
    public double VarianceObjective { get; }

    /// <summary>How many times f was evaluated (forward passes of the objective).</summary>
    public int ObjectiveEvaluations { get; }

    /// <summary>Writes the estimates into the parameters' <c>.grad</c> (model and, when present, control variate).</summary>
    public void Apply(BernoulliGradientEstimator estimator)
    {
        ArgumentNullException.ThrowIfNull(estimator);
        Assign(estimator.ModelParameters, ModelGradients);
        if (ControlVariateGradients.Count > 0)
            Assign(estimator.ControlVariateParameters, ControlVariateGradients);
    }

    internal static void Assign(IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor> grads)
    {
        using var _ = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (p.grad is { } g && !g.IsInvalid)
                g.copy_(grads[i]);
            else
                p.grad = grads[i].clone().DetachFromDisposeScope();
        }
    }
}

/// <summary>
/// Gradient estimators for <c>E_{b ~ Bernoulli(σ(θ))}[f(b)]</c> where the logits θ and f come from a model with
/// parameters (the <see cref="StochasticObjective"/> draws its Bernoulli layers through <see cref="BernoulliLayers.Sample"/>).
/// <see cref="Estimate"/> returns the gradient estimate for every model parameter and, for estimators with trained
/// control variates (η, the temperature, the baselines, RELAX's network), the gradients of their own objective; the
/// model never receives gradients of the control-variate objective, and f's value enters every score-function term
/// with a stop-gradient, so f is differentiated exactly once. Owns the control-variate parameters.
/// </summary>
public sealed class BernoulliGradientEstimator : IDisposable
{
    private readonly GradientEstimatorOptions _o;
    private readonly Parameter[] _model;
    private readonly List<Parameter> _cv = [];
    private readonly Parameter[] _etaLogits;
    private readonly Tensor? _fixedEta;
    private readonly Parameter _logTemperature;
    private readonly Parameter[] _baseline; // W1, b1, W2, b2 (context width > 0) or a scalar
    private readonly Parameter[] _relax;    // W1, b1, W2, b2
    private readonly int _contextWidth, _latentWidth;
    private double? _average;

    /// <summary>Creates the estimator and its control-variate parameters.</summary>
    /// <param name="kind">Which estimator.</param>
    /// <param name="modelParameters">Every parameter of the model (the logits' and f's); REBAR gets one η per tensor.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="contextWidth">Width of the per-row context the baselines see (e.g. the input x), or 0 for a scalar baseline.</param>
    /// <param name="latentWidth">RELAX: total Bernoulli variables per row (the width of r_ρ's input besides the context).</param>
    /// <param name="initialization">Generator of the baseline networks' initial weights (CPU); null: the networks start at zero.</param>
    /// <param name="dtype">Type of the control-variate parameters (the model's).</param>
    /// <param name="device">Their device.</param>
    public BernoulliGradientEstimator(GradientEstimatorKind kind, IReadOnlyList<Parameter> modelParameters, GradientEstimatorOptions? options = null,
        int contextWidth = 0, int latentWidth = 0, Generator? initialization = null, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(modelParameters);
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown gradient estimator.");
        if (modelParameters.Count == 0 || modelParameters.Any(p => p is null))
            throw new ArgumentException("The model needs at least one parameter, and none may be null.", nameof(modelParameters));
        if (contextWidth < 0)
            throw new ArgumentOutOfRangeException(nameof(contextWidth), contextWidth, "Must be non-negative.");
        if (kind == GradientEstimatorKind.Relax && latentWidth < 1)
            throw new ArgumentOutOfRangeException(nameof(latentWidth), latentWidth, "RELAX needs the number of Bernoulli variables per row (its network's input).");
        _o = options ?? new GradientEstimatorOptions();
        _o.Validate();
        Kind = kind;
        _model = [.. modelParameters];
        _contextWidth = contextWidth;
        _latentWidth = latentWidth;
        device ??= CPU;
        using var scope = NewDisposeScope();
        bool rebarFamily = kind is GradientEstimatorKind.Rebar or GradientEstimatorKind.DynamicRebar or GradientEstimatorKind.Relax;
        _logTemperature = new Parameter(tensor(Math.Log(_o.Temperature), dtype, device), requires_grad: kind != GradientEstimatorKind.Rebar && rebarFamily);
        _logTemperature.DetachFromDisposeScope();
        _etaLogits = [];
        _baseline = [];
        _relax = [];
        if (rebarFamily)
        {
            if (_o.FixedEta is { } eta)
                _fixedEta = tensor(eta, dtype, device).DetachFromDisposeScope();
            else
            {
                _etaLogits = [.. _model.Select(_ => Owned(zeros([], dtype, device)))];
                _cv.AddRange(_etaLogits);
            }
            if (kind != GradientEstimatorKind.Rebar)
                _cv.Add(_logTemperature);
        }
        if (kind is GradientEstimatorKind.Nvil or GradientEstimatorKind.MuProp || rebarFamily)
        {
            _baseline = Network(contextWidth, initialization, dtype, device);
            _cv.AddRange(_baseline);
        }
        if (kind == GradientEstimatorKind.Relax)
        {
            _relax = Network(latentWidth + contextWidth, initialization, dtype, device);
            _cv.AddRange(_relax);
        }
    }

    /// <summary>The estimator.</summary>
    public GradientEstimatorKind Kind { get; }

    /// <summary>The model parameters, in the order of <see cref="GradientEstimate.ModelGradients"/>.</summary>
    public IReadOnlyList<Parameter> ModelParameters => _model;

    /// <summary>The control-variate parameters (η logits, log-temperature when trained, baseline and RELAX networks); train
    /// them with <see cref="GradientEstimate.ControlVariateGradients"/> (the reference uses Adam at 10× the model's rate).</summary>
    public IReadOnlyList<Parameter> ControlVariateParameters => _cv;

    /// <summary>The current temperature λ.</summary>
    public double Temperature => Math.Exp(_logTemperature.ToDouble());

    /// <summary>The current η of each model parameter tensor (REBAR family; empty otherwise).</summary>
    public double[] Eta => _fixedEta is { } f ? [.. _model.Select(_ => f.ToDouble())]
        : [.. _etaLogits.Select(w => 2 / (1 + Math.Exp(-w.ToDouble())))];

    /// <summary>
    /// Estimates the gradient of the mean over rows of <c>E[f]</c>.
    /// </summary>
    /// <param name="objective">f: draws its layers through the sampler, returns the per-row loss [rows].</param>
    /// <param name="noise">Generator of the uniforms (on the logits' device); null uses torch's default.</param>
    /// <param name="context">Per-row input of the baselines [rows, contextWidth], or null when contextWidth is 0.</param>
    /// <param name="controlVariateGradients">Also compute the control variates' gradients (and the variance objective).</param>
    /// <exception cref="ArgumentException">f is not a finite vector with one value per row, the context has the wrong shape or is not finite.</exception>
    public GradientEstimate Estimate(StochasticObjective objective, Generator? noise, Tensor? context = null, bool controlVariateGradients = true)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = NewDisposeScope();
        var uniforms = new List<Tensor>();
        var hardLogits = new List<Tensor>();
        var temperature = _logTemperature.exp();
        bool relaxedFirst = Kind == GradientEstimatorKind.Concrete;
        var first = new BernoulliLayers(relaxedFirst ? BernoulliPass.Relaxed : BernoulliPass.Hard, uniforms, hardLogits, noise, temperature, _o.MuPropRelaxation);
        if (relaxedFirst)
            first.DrawsNoise = true;
        var fb = CheckLoss(objective(first), first, "hard");
        long rows = fb.shape[0];
        if (first.Count == 0)
            throw new ArgumentException("The objective drew no Bernoulli layer.", nameof(objective));
        CheckContext(context, rows);
        double loss = fb.mean().ToDouble();
        int evaluations = 1;
        Tensor[] g;
        Tensor[] cv = [];
        double variance = double.NaN;
        switch (Kind)
        {
            case GradientEstimatorKind.Concrete:
                g = Grad(fb.mean(), _model, create: false);
                break;
            case GradientEstimatorKind.Reinforce:
            {
                double baseline = _average ?? 0;
                var logq = LogQ(first);
                g = Grad(((fb.detach() - baseline) * logq + fb).mean(), _model, create: false);
                break;
            }
            case GradientEstimatorKind.Nvil:
            {
                var logq = LogQ(first);
                var signal = fb.detach() - Baseline(context, rows);
                g = Grad((signal.detach() * logq + fb).mean(), _model, create: false);
                if (controlVariateGradients)
                    cv = Grad(signal.pow(2).mean(), _cv, create: false);
                break;
            }
            case GradientEstimatorKind.MuProp:
            {
                var mean = new BernoulliLayers(BernoulliPass.Mean, uniforms, hardLogits, noise, temperature, _o.MuPropRelaxation);
                var fmu = CheckLoss(objective(mean), mean, "mean", rows, first.Count);
                evaluations++;
                var slopes = Grad(fmu.sum(), mean.Activations, create: false, retain: true);
                var c = Baseline(context, rows);
                var surrogate = fb;
                Tensor? baselineLoss = null;
                for (int l = 0; l < first.Count; l++)
                {
                    var slope = slopes[l].detach();
                    var linear = (slope * (first.HardSamples[l] - mean.Activations[l].detach())).reshape(rows, -1).sum(1);
                    var signal = fb.detach() - fmu.detach() - linear - c;
                    var analytic = (slope * first.Logits[l].sigmoid()).reshape(rows, -1).sum(1);
                    surrogate = surrogate + signal.detach() * first.LogProbability(l) + analytic;
                    var sq = signal.pow(2).mean();
                    baselineLoss = baselineLoss is null ? sq : baselineLoss + sq;
                }
                g = Grad(surrogate.mean(), _model, create: false);
                if (controlVariateGradients)
                    cv = Grad(baselineLoss!, _cv, create: false);
                break;
            }
            default:
            {
                bool create = controlVariateGradients;
                var relaxed = new BernoulliLayers(BernoulliPass.Relaxed, uniforms, hardLogits, noise, temperature, _o.MuPropRelaxation);
                var fz = CheckLoss(objective(relaxed), relaxed, "relaxed", rows, first.Count);
                var conditional = new BernoulliLayers(BernoulliPass.RelaxedConditional, uniforms, hardLogits, noise, temperature, _o.MuPropRelaxation);
                var fzt = CheckLoss(objective(conditional), conditional, "relaxed conditional", rows, first.Count);
                evaluations += 2;
                var logq = LogQ(first);
                var c = Baseline(context, rows);
                var main = Grad(((fb.detach() - c) * logq + fb).mean(), _model, create, retain: true);
                // The score term of the control variate, f(σ_λ(z̃))·∇log q(b): f(σ_λ(z̃)) enters as the weight of ∇log q, so
                // it is not differentiated for the model, yet the result stays differentiable in λ (dynamic REBAR's df/dλ term).
                var rebar = Grad([logq, (fz - fzt).mean()], [-fzt / rows, ones([], fz.dtype, fz.device)], _model, create, retain: true);
                Tensor[]? relax = null;
                if (Kind == GradientEstimatorKind.Relax)
                {
                    var rz = Relaxation(relaxed, context, rows);
                    var rzt = Relaxation(conditional, context, rows);
                    relax = Grad([logq, (rz - rzt).mean()], [-rzt / rows, ones([], fz.dtype, fz.device)], _model, create, retain: true);
                }
                var total = new Tensor[_model.Length];
                for (int i = 0; i < _model.Length; i++)
                {
                    total[i] = main[i] + EtaOf(i) * rebar[i];
                    if (relax is not null)
                        total[i] = total[i] + relax[i];
                }
                long count = _model.Sum(p => p.numel());
                if (controlVariateGradients)
                {
                    var objectiveValue = total.Select(t => t.pow(2).sum()).Aggregate((a, b) => a + b) / count;
                    variance = objectiveValue.ToDouble();
                    cv = Grad(objectiveValue, _cv, create: false);
                }
                else
                    variance = total.Select(t => t.detach().pow(2).sum().ToDouble()).Sum() / count;
                g = total;
                break;
            }
        }
        _average = _average is { } a ? _o.BaselineDecay * a + (1 - _o.BaselineDecay) * loss : loss;
        var model = g.Select(t => t.detach().clone().MoveToOuterDisposeScope()).ToArray();
        var cvOut = cv.Select(t => t.detach().clone().MoveToOuterDisposeScope()).ToArray();
        foreach (var t in model.Concat(cvOut))
        {
            if (!t.isfinite().all().item<bool>())
                throw new ArithmeticException($"The {Kind} gradient estimate is not finite (mean loss {loss}).");
        }
        return new GradientEstimate(model, cvOut, loss, variance, evaluations);
    }

    private Tensor EtaOf(int i) => _fixedEta ?? 2 * _etaLogits[i].sigmoid();

    private static Tensor LogQ(BernoulliLayers layers)
    {
        var sum = layers.LogProbability(0);
        for (int l = 1; l < layers.Count; l++)
            sum = sum + layers.LogProbability(l);
        return sum;
    }

    private Tensor Baseline(Tensor? context, long rows)
    {
        double offset = _average ?? 0;
        if (_contextWidth == 0)
            return (_baseline[0] + offset).expand(rows);
        return Mlp(_baseline, context!) + offset;
    }

    private Tensor Relaxation(BernoulliLayers layers, Tensor? context, long rows)
    {
        var parts = layers.Activations.Select(a => a.reshape(rows, -1)).ToList();
        if (context is not null)
            parts.Add(context);
        var input = cat(parts, 1);
        if (input.shape[1] != _latentWidth + _contextWidth)
            throw new ArgumentException($"RELAX was created for {_latentWidth} Bernoulli variables per row; the objective drew {input.shape[1] - _contextWidth}.");
        return Mlp(_relax, input);
    }

    private static Tensor Mlp(Parameter[] w, Tensor x) => (x.matmul(w[0]) + w[1]).tanh().matmul(w[2]).squeeze(1) + w[3];

    private Parameter[] Network(int inputWidth, Generator? init, ScalarType dtype, Device device)
    {
        if (inputWidth == 0)
            return [Owned(zeros([], dtype, device))];
        int h = _o.BaselineHidden;
        var w1 = init is null ? zeros([inputWidth, h], dtype) : (rand([inputWidth, h], dtype, generator: init) * 2 - 1) / Math.Sqrt(inputWidth);
        return [Owned(w1.to(device)), Owned(zeros([h], dtype, device)), Owned(zeros([h, 1], dtype, device)), Owned(zeros([], dtype, device))];
    }

    private static Parameter Owned(Tensor t)
    {
        var p = new Parameter(t.detach().clone(), requires_grad: true);
        p.DetachFromDisposeScope();
        return p;
    }

    private void CheckContext(Tensor? context, long rows)
    {
        if (_contextWidth == 0)
        {
            if (context is not null && Kind is not GradientEstimatorKind.Reinforce and not GradientEstimatorKind.Concrete)
                throw new ArgumentException("This estimator was created without a context (contextWidth 0); pass null.", nameof(context));
            return;
        }
        if (context is null)
            throw new ArgumentException($"The baselines need a context of {_contextWidth} values per row.", nameof(context));
        if (context.dim() != 2 || context.shape[0] != rows || context.shape[1] != _contextWidth)
            throw new ArgumentException($"The context must be [{rows}, {_contextWidth}] (rows × context width), got [{string.Join(", ", context.shape)}].", nameof(context));
        if (!context.isfinite().all().item<bool>())
            throw new ArgumentException("The context contains NaN or infinite values.", nameof(context));
    }

    private static Tensor CheckLoss(Tensor f, BernoulliLayers layers, string pass, long? rows = null, int? layerCount = null)
    {
        if (f is null)
            throw new ArgumentException($"The objective returned null in its {pass} pass.");
        if (f.dim() != 1 || f.shape[0] == 0)
            throw new ArgumentException($"The objective must return one loss per row (a non-empty vector), got shape [{string.Join(", ", f.shape)}] in its {pass} pass.");
        if (rows is { } r && f.shape[0] != r)
            throw new ArgumentException($"The objective returned {f.shape[0]} rows in its {pass} pass, {r} in its first.");
        if (layerCount is { } n && layers.Count != n)
            throw new ArgumentException($"The objective drew {layers.Count} Bernoulli layers in its {pass} pass, {n} in its first; it must draw the same layers every time.");
        if (!f.isfinite().all().item<bool>())
            throw new ArgumentException($"The objective's loss is NaN or infinite in its {pass} pass.");
        return f;
    }

    private static Tensor[] Grad(Tensor output, IReadOnlyList<Tensor> inputs, bool create, bool retain = false)
        => Grad([output], null, inputs, create, retain);

    private static Tensor[] Grad(IList<Tensor> outputs, IList<Tensor>? gradOutputs, IReadOnlyList<Tensor> inputs, bool create, bool retain)
    {
        var grads = torch.autograd.grad(outputs, [.. inputs], gradOutputs, retain_graph: retain || create, create_graph: create, allow_unused: true);
        return [.. grads.Select((g, i) => g is null || g.IsInvalid ? zeros_like(inputs[i]) : g)];
    }

    private bool _disposed;

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var p in _cv.Append(_logTemperature).Distinct(ReferenceEqualityComparer.Instance).Cast<Parameter>())
            p.Dispose();
        _fixedEta?.Dispose();
    }
}
