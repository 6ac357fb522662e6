using Components.Core.Randomness;
using Components.Trainers.LearnedOptimizer.Fused;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer;

/// <summary>
/// The hierarchical RNN learned optimizer of Wichrowska et al., "Learned Optimizers that Scale and Generalize"
/// (ICML 2017, arXiv:1703.04813), as a <see cref="torch.optim.Optimizer"/> for any TorchSharp model: a per-parameter GRU
/// (10 units), a per-tensor GRU (20) and a global GRU (20) turn gradients accumulated at several timescales into a
/// normalised direction and a per-parameter learning rate. The NeuralNetwork trainers take it as
/// <c>Optimizer = NeuralNetworkOptimizerKind.LearnedHierarchicalRnn</c>. <see cref="step"/> runs the in-place fast
/// path (<see cref="HierarchicalRnnInPlaceStep"/>), the same math as <see cref="HierarchicalRnnUpdate.Step"/>.
/// </summary>
/// <remarks>
/// <para>Meta-parameters: <see cref="WithShippedWeights"/> uses the weights shipped with the library (a small-scale
/// meta-training that loses to tuned Adam; see docs/trainers/learned-optimizer.md), <see cref="FromWeightsFile"/> your
/// own, and <see cref="HierarchicalRnnMetaParameters.CreateReduced"/> an RMSProp-with-momentum-like rule.</para>
/// <para>Per-parameter state: about 3K + P + 3 values per parameter (25 at the default shape) plus a tensor state per
/// tensor. <see cref="StateDict"/>/<see cref="LoadStateDict"/> and <see cref="SaveState"/>/<see cref="LoadState"/> save it.</para>
/// </remarks>
public sealed class HierarchicalRnnOptimizer : torch.optim.Optimizer
{
    /// <summary>Options of the optimizer.</summary>
    public sealed class Options
    {
        /// <summary>Default values.</summary>
        public static class Defaults
        {
            /// <summary>Lower end of the initial learning-rate range (the reference's init_lr_range).</summary>
            public const double MinInitialLearningRate = 1e-6;

            /// <summary>Upper end of the initial learning-rate range.</summary>
            public const double MaxInitialLearningRate = 1e-2;

            /// <summary>Seed of the initial learning rates.</summary>
            public const int Seed = 0;

            /// <summary>Largest step size: e³³, the reference's max_log_lr clip (in effect no bound).</summary>
            public const double MaxLearningRate = 214643579785916.06;
        }

        /// <summary>Lower end of the range the initial per-parameter learning rates are drawn from (log-uniform, see docs). Positive.</summary>
        public double MinInitialLearningRate = Defaults.MinInitialLearningRate;

        /// <summary>Upper end of the range; equal to <see cref="MinInitialLearningRate"/> for one fixed initial learning rate.</summary>
        public double MaxInitialLearningRate = Defaults.MaxInitialLearningRate;

        /// <summary>Seed of the initial learning rates (stream <c>"learned-optimizer.initial-learning-rate"</c>).</summary>
        public int Seed = Defaults.Seed;

        /// <summary>
        /// Upper bound M on the step size: each tensor's update has an RMS of at most M (the step is
        /// <c>exp(log η + offset)·δ</c> with δ of unit RMS, so the step log learning rate log η is clipped above at
        /// <c>log M − offset</c>, offset the learned <c>step_size_offset</c>; below it stays at the reference's −33). The
        /// default e³³ is the reference's max_log_lr, a bound against overflow only. A smaller value stops a rule whose
        /// learning rates keep growing from diverging. Positive, at most e³³.
        /// </summary>
        public double MaxLearningRate = Defaults.MaxLearningRate;
    }

    private readonly Parameter[] _parameters;
    private readonly HierarchicalRnnMetaParameters _meta;
    private readonly bool _ownsMeta;
    private HierarchicalRnnState _state;
    private readonly double _maxLogLearningRate;
    private readonly HierarchicalRnnInPlaceStep.Scratch _scratch = new();

    /// <summary>Creates the optimizer over <paramref name="parameters"/> with the given meta-parameters (not owned; moved to the parameters' device).</summary>
    /// <exception cref="ArgumentException">No parameters, parameters on several devices, or a non-floating-point parameter.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An initial learning rate that is not positive and finite, or min &gt; max.</exception>
    public HierarchicalRnnOptimizer(IEnumerable<Parameter> parameters, HierarchicalRnnMetaParameters metaParameters, Options? options = null)
        : this(parameters, metaParameters, options, ownsMeta: false)
    {
    }

    private HierarchicalRnnOptimizer(IEnumerable<Parameter> parameters, HierarchicalRnnMetaParameters metaParameters, Options? options, bool ownsMeta)
        : base(IntPtr.Zero)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(metaParameters);
        options ??= new Options();
        _parameters = [.. parameters];
        if (_parameters.Length == 0)
            throw new ArgumentException("The learned optimizer needs at least one parameter tensor; the parameter list is empty.", nameof(parameters));
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (_parameters[i] is null)
                throw new ArgumentException($"Parameter #{i} is null.", nameof(parameters));
            if (!_parameters[i].is_floating_point())
                throw new ArgumentException($"Parameter #{i} has dtype {_parameters[i].dtype}; the learned optimizer steps floating-point parameters only.", nameof(parameters));
            if (_parameters[i].device.ToString() != _parameters[0].device.ToString())
                throw new ArgumentException($"Parameter #{i} is on {_parameters[i].device} but parameter #0 on {_parameters[0].device}; all must share one device.", nameof(parameters));
        }
        double min = options.MinInitialLearningRate, max = options.MaxInitialLearningRate;
        if (!(min > 0) || !double.IsFinite(min))
            throw new ArgumentOutOfRangeException(nameof(options), min, $"{nameof(Options.MinInitialLearningRate)} must be positive and finite.");
        if (!(max >= min) || !double.IsFinite(max))
            throw new ArgumentOutOfRangeException(nameof(options), max, $"{nameof(Options.MaxInitialLearningRate)} must be finite and at least {nameof(Options.MinInitialLearningRate)} ({min}).");
        double cap = options.MaxLearningRate;
        if (!(cap > 0) || cap > Options.Defaults.MaxLearningRate)
            throw new ArgumentOutOfRangeException(nameof(options), cap, $"{nameof(Options.MaxLearningRate)} must be positive and at most e^{HierarchicalRnnUpdate.MaxLogLearningRate}.");
        // The bound is on the step's scale exp(step log lr + offset): the step log lr's upper clip is log M − offset.
        double offset;
        using (var o = metaParameters.StepSizeOffset.detach())
        using (var c = o.cpu())
            offset = c.item<float>();
        _maxLogLearningRate = Math.Min(HierarchicalRnnUpdate.MaxLogLearningRate, Math.Log(cap) - offset);
        _meta = metaParameters;
        _ownsMeta = ownsMeta;
        _meta.to(_parameters[0].device);
        using var generator = RandomStreams.CreateGenerator(options.Seed, "learned-optimizer.initial-learning-rate");
        _state = HierarchicalRnnUpdate.Initial(_meta, _parameters, min, max, generator);
    }

    /// <summary>Creates the optimizer with the shipped meta-parameters (<see cref="HierarchicalRnnMetaParameters.LoadShipped"/>; owned and disposed with the optimizer).</summary>
    public static HierarchicalRnnOptimizer WithShippedWeights(IEnumerable<Parameter> parameters, Options? options = null)
    {
        var meta = HierarchicalRnnMetaParameters.LoadShipped();
        try
        {
            return new HierarchicalRnnOptimizer(parameters, meta, options, ownsMeta: true);
        }
        catch
        {
            meta.Dispose();
            throw;
        }
    }

    /// <summary>Creates the optimizer with meta-parameters loaded from a weights file (owned and disposed with the optimizer).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">The file is corrupt, truncated or not a weights file.</exception>
    /// <exception cref="InvalidOperationException">The weights are of another architecture.</exception>
    public static HierarchicalRnnOptimizer FromWeightsFile(IEnumerable<Parameter> parameters, string weightsPath, Options? options = null)
    {
        var meta = HierarchicalRnnMetaParameters.Load(weightsPath);
        try
        {
            return new HierarchicalRnnOptimizer(parameters, meta, options, ownsMeta: true);
        }
        catch
        {
            meta.Dispose();
            throw;
        }
    }

    /// <summary>The meta-parameters this optimizer steps with.</summary>
    public HierarchicalRnnMetaParameters MetaParameters => _meta;

    /// <summary>
    /// Step with the pure, differentiable <see cref="HierarchicalRnnUpdate.Step"/> (new state tensors every step) instead
    /// of the in-place fast path <see cref="HierarchicalRnnInPlaceStep"/>; the same math. For tests and the benchmark.
    /// </summary>
    internal bool UseReferenceStep { get; set; }

    /// <summary>
    /// Which fused CPU kernel (<see cref="HierarchicalRnnFusedCpuStep"/>) the in-place path uses for float32 CPU tensors:
    /// by default the widest this CPU runs (<see cref="HierarchicalRnnFusedCpuStep.Detected"/>);
    /// <see cref="FusedCpuKernel.None"/> keeps the libtorch element-wise path; <see cref="FusedCpuKernel.Avx2"/> on an
    /// AVX-512 CPU runs the 256-bit variant. For tests and the benchmark.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The CPU does not run that variant.</exception>
    internal FusedCpuKernel CpuKernel
    {
        get => _cpuKernel;
        set
        {
            if (value != FusedCpuKernel.None && !HierarchicalRnnFusedCpuStep.IsSupported(value))
                throw new PlatformNotSupportedException($"The fused CPU kernel {value} does not run on this CPU (it runs {HierarchicalRnnFusedCpuStep.Detected}).");
            _cpuKernel = value;
        }
    }

    private FusedCpuKernel _cpuKernel = HierarchicalRnnFusedCpuStep.Detected;

    /// <summary>Calls of <see cref="step"/> that updated at least one tensor.</summary>
    public long Steps { get; private set; }

    /// <summary>
    /// One step: evaluates <paramref name="closure"/> (if any) with gradients on, then updates every parameter that has a
    /// gradient. Returns the closure's loss (null without a closure).
    /// </summary>
    /// <exception cref="InvalidOperationException">A gradient holds NaN or an infinity (named by parameter index and shape); nothing is updated.</exception>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
        {
            using (torch.enable_grad())
                loss = closure();
        }
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
        {
            var gradients = new Tensor?[_parameters.Length];
            bool any = false;
            for (int i = 0; i < _parameters.Length; i++)
            {
                if (_parameters[i].grad is not { } g)
                    continue;
                if (!HierarchicalRnnFusedCpuStep.AllFinite(g))
                    throw new InvalidOperationException($"The gradient of parameter #{i} (shape [{string.Join(", ", _parameters[i].shape)}]) holds NaN or infinite values; the learned optimizer cannot step on it.");
                gradients[i] = g;
                any = true;
            }
            if (any && UseReferenceStep)
            {
                var result = HierarchicalRnnUpdate.Step(_meta, gradients, _state, _maxLogLearningRate);
                for (int i = 0; i < _parameters.Length; i++)
                {
                    if (result.Updates[i] is { } u)
                        _parameters[i].sub_(u.to(_parameters[i].dtype));
                }
                ReplaceState(result.Next);
            }
            else if (any)
            {
                HierarchicalRnnInPlaceStep.Apply(_meta, _parameters, gradients, _state, _cpuKernel, _maxLogLearningRate, _scratch);
            }
            if (any)
                Steps++;
        }
        return loss!;
    }

    /// <inheritdoc/>
    public override void zero_grad()
    {
        foreach (var p in _parameters)
        {
            if (p.grad is { } g)
                g.zero_();
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<Parameter> parameters() => _parameters;

    /// <summary>
    /// A copy of the optimizer state (CPU tensors the caller disposes), keyed <c>global.hidden</c> and
    /// <c>tensor.{i}.{entry}</c> with entries parameter_hidden, input_decay, scale_decay, log_learning_rate,
    /// gradient_accumulators, mean_squares, tensor_hidden and steps (float64 scalar).
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal) { ["global.hidden"] = _state.GlobalHidden.detach().cpu().clone().DetachFromDisposeScope() };
        for (int i = 0; i < _state.Tensors.Length; i++)
        {
            var entries = _state.Tensors[i].Entries();
            for (int e = 0; e < entries.Length; e++)
            {
                result[$"tensor.{i}.{HierarchicalRnnTensorState.EntryNames[e]}"] = entries[e].detach().cpu().clone().DetachFromDisposeScope();
                if (e == entries.Length - 1)
                    entries[e].Dispose();
            }
        }
        return result;
    }

    /// <summary>Replaces the optimizer state with <paramref name="state"/> (as written by <see cref="StateDict"/>; copied, not kept).</summary>
    /// <exception cref="ArgumentException">A missing, extra or misshaped entry, or a non-finite value.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var device = _parameters[0].device;
        var dtype = _meta.ParameterInit.dtype;
        var a = _meta.Architecture;
        int expectedCount = 1 + _parameters.Length * HierarchicalRnnTensorState.EntryNames.Length;
        if (state.Count != expectedCount)
            throw new ArgumentException($"The state has {state.Count} entries; this optimizer over {_parameters.Length} tensors expects {expectedCount}.", nameof(state));
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        Tensor Take(string key, long[] shape)
        {
            if (!state.TryGetValue(key, out var t))
                throw new ArgumentException($"The state lacks the entry '{key}'.", nameof(state));
            if (!t.shape.SequenceEqual(shape))
                throw new ArgumentException($"State entry '{key}' has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}].", nameof(state));
            if (!t.isfinite().all().item<bool>())
                throw new ArgumentException($"State entry '{key}' holds NaN or infinite values.", nameof(state));
            return t.to(dtype, device).clone().MoveToOuterDisposeScope();
        }
        var tensors = new HierarchicalRnnTensorState[_parameters.Length];
        for (int i = 0; i < _parameters.Length; i++)
        {
            long n = _parameters[i].numel();
            string p = $"tensor.{i}.";
            if (!state.TryGetValue(p + "steps", out var stepsTensor) || stepsTensor.numel() != 1)
                throw new ArgumentException($"The state lacks the scalar entry '{p}steps'.", nameof(state));
            double steps = stepsTensor.to(ScalarType.Float64).item<double>();
            if (!(steps >= 0) || steps != Math.Floor(steps))
                throw new ArgumentException($"State entry '{p}steps' is {steps}; a step count is a non-negative integer.", nameof(state));
            tensors[i] = new HierarchicalRnnTensorState
            {
                ParameterHidden = Take(p + "parameter_hidden", [n, a.ParameterCellSize]),
                InputDecay = Take(p + "input_decay", [n]),
                ScaleDecay = Take(p + "scale_decay", [n]),
                LogLearningRate = Take(p + "log_learning_rate", [n]),
                GradientAccumulators = Take(p + "gradient_accumulators", [n, a.GradientScales]),
                MeanSquares = Take(p + "mean_squares", [n, a.GradientScales]),
                TensorHidden = Take(p + "tensor_hidden", [1, a.TensorCellSize]),
                Steps = (long)steps,
            };
        }
        var global = Take("global.hidden", [1, a.GlobalCellSize]);
        ReplaceState(new HierarchicalRnnState { Tensors = tensors, GlobalHidden = global });
    }

    /// <summary>Writes the optimizer state to <paramref name="stream"/> (the weights-file layout with magic "HRNNOPTS").</summary>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var state = StateDict();
        try
        {
            HierarchicalRnnWeightsFile.Write(stream, HierarchicalRnnWeightsFile.StateMagic, _meta.Architecture, state.Select(kv => (kv.Key, kv.Value)));
        }
        finally
        {
            foreach (var t in state.Values)
                t.Dispose();
        }
    }

    /// <summary>Reads a state written by <see cref="SaveState"/>; <paramref name="source"/> names the stream in error messages.</summary>
    /// <exception cref="FormatException">Not a state file, truncated or corrupt.</exception>
    /// <exception cref="InvalidOperationException">A state of another architecture.</exception>
    /// <exception cref="ArgumentException">A state of another parameter list.</exception>
    public void LoadState(Stream stream, string source = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        var (architecture, entries) = HierarchicalRnnWeightsFile.Read(stream, HierarchicalRnnWeightsFile.StateMagic, source);
        try
        {
            if (architecture != _meta.Architecture)
                throw new InvalidOperationException($"Learned-optimizer state '{source}' is for architecture ({architecture}), but this optimizer's is ({_meta.Architecture}).");
            LoadStateDict(entries);
        }
        finally
        {
            foreach (var t in entries.Values)
                t.Dispose();
        }
    }

    private void ReplaceState(HierarchicalRnnState next)
    {
        var old = _state;
        _state = next.Detached();
        old.Dispose();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _state.Dispose();
            if (_ownsMeta)
                _meta.Dispose();
        }
        base.Dispose(disposing);
    }
}
