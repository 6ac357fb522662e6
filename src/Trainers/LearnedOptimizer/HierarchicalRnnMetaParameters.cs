using Components.Core.Randomness;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer;

/// <summary>
/// The meta-parameters of a <see cref="HierarchicalRnnOptimizer"/>: the three GRUs, the affine maps that feed each
/// level's state down as the bias of the level below, the output projections, and the learned initial hidden states.
/// A TorchSharp <see cref="nn.Module"/> (so a meta-trainer can differentiate through it), saved and loaded as a weights file
/// with <see cref="Save(string)"/> and <see cref="Load(string, HierarchicalRnnArchitecture?)"/>. Float32, on the CPU unless moved.
/// </summary>
/// <remarks>
/// <para>Sources: <see cref="LoadShipped"/> (the meta-trained weights shipped with the library, 250 meta-steps of the
/// documented command), <see cref="Load(string, HierarchicalRnnArchitecture?)"/> (a file of your own meta-training),
/// <see cref="CreateInitial"/> (the reference initialisation, untrained) and <see cref="CreateReduced"/> (the documented
/// zero-weight rule). The learned initial states (<c>param_init</c>, <c>tensor_init</c>, <c>global_init</c>) are
/// detached in <see cref="HierarchicalRnnUpdate.Initial"/>, so meta-training leaves them at their initialisation.</para>
/// <para>GRU (the reference's BiasGRUCell): gates <c>[r, u] = σ(x·Wx + h·Wh + b + β)</c> on the first 2H columns,
/// candidate <c>c = tanh(x·Wx + (r⊙h)·Wh + b + β)</c> on the last H, <c>h' = u⊙h + (1 − u)⊙c</c>, where β is the bias
/// fed down from the level above. Weights are drawn N(0, (0.5/√fan-in)²), gate biases start at 2.2 (u ≈ 0.9 keeps the old state).</para>
/// </remarks>
public sealed class HierarchicalRnnMetaParameters : nn.Module
{
    /// <summary>Initial logit of the per-parameter momentum decay β₁ (the reference's default decay-variable init).</summary>
    public const double InputDecayLogitInit = 2.2;

    /// <summary>Initial logit of the mean-square decay (≈ 0.96).</summary>
    public const double ScaleDecayLogitInit = 3.2;

    /// <summary>Initial logit of the log-learning-rate momentum (≈ 0.96).</summary>
    public const double LearningRateMomentumLogitInit = 3.2;

    /// <summary>Initial offset between the log learning rate and the log step size (the reference's param_stepsize_offset).</summary>
    public const double StepSizeOffsetInit = -1.0;

    /// <summary>Initial bias of the GRU gates.</summary>
    public const double GateBiasInit = 2.2;

    /// <summary>Scale of the GRU and affine weight initialisation (relative to 1/√fan-in).</summary>
    public const double WeightInitScale = 0.5;

#pragma warning disable IDE1006 // field names are the module's parameter names (the weights file's entries)
    private readonly Parameter param_gru_wx, param_gru_wh, param_gru_b;
    private readonly Parameter tensor_gru_wx, tensor_gru_wh, tensor_gru_b;
    private readonly Parameter global_gru_wx, global_gru_wh, global_gru_b;
    private readonly Parameter param_bias_from_tensor_w, param_bias_from_tensor_b;
    private readonly Parameter param_bias_from_global_w, param_bias_from_global_b;
    private readonly Parameter tensor_bias_from_global_w, tensor_bias_from_global_b;
    private readonly Parameter update_w, shortcut_w;
    private readonly Parameter scale_decay_w, scale_decay_b, input_decay_w, input_decay_b;
    private readonly Parameter lr_w, lr_b, lr_momentum_logit, step_size_offset;
    private readonly Parameter param_init, tensor_init, global_init;
#pragma warning restore IDE1006

    private HierarchicalRnnMetaParameters(HierarchicalRnnArchitecture architecture, Generator? generator) : base(nameof(HierarchicalRnnMetaParameters))
    {
        architecture.Validate();
        Architecture = architecture;
        int k = architecture.GradientScales, p = architecture.ParameterCellSize, t = architecture.TensorCellSize, g = architecture.GlobalCellSize, i = architecture.InputSize;

        // generator == null: the reduced (zero-weight) rule; every weight that is learned from data is zero.
        Parameter W(long rows, long cols) => new(generator is null
            ? zeros(rows, cols)
            : normal(0, WeightInitScale / Math.Sqrt(rows), [rows, cols], generator: generator), requires_grad: true);
        Parameter GateBias(long h)
        {
            var b = zeros(3 * h);
            if (generator is not null)
                b[TensorIndex.Slice(0, 2 * h)] = tensor(GateBiasInit);
            return new(b, requires_grad: true);
        }
        Parameter Vec(long n, double value = 0) => new(full(n, value), requires_grad: true);
        Parameter Uniform(long n) => new(generator is null ? zeros(n) : rand([n], generator: generator) * 2 - 1, requires_grad: true);

        param_gru_wx = W(i, 3 * p); param_gru_wh = W(p, 3 * p); param_gru_b = GateBias(p);
        tensor_gru_wx = W(p + i, 3 * t); tensor_gru_wh = W(t, 3 * t); tensor_gru_b = GateBias(t);
        global_gru_wx = W(t, 3 * g); global_gru_wh = W(g, 3 * g); global_gru_b = GateBias(g);
        param_bias_from_tensor_w = W(t, 3 * p); param_bias_from_tensor_b = Vec(3 * p);
        param_bias_from_global_w = W(g, 3 * p); param_bias_from_global_b = Vec(3 * p);
        tensor_bias_from_global_w = W(g, 3 * t); tensor_bias_from_global_b = Vec(3 * t);
        update_w = generator is null ? Vec(p) : new(W(p, 1).detach().reshape(p), requires_grad: true);
        // The gradient shortcut starts at the mean of the scaled gradients (the reference's vec_mean = 1/K), also in the reduced rule.
        shortcut_w = generator is null ? Vec(k, 1.0 / k) : new(full(k, 1.0 / k) + normal(0, WeightInitScale / Math.Sqrt(k), [k], generator: generator), requires_grad: true);
        scale_decay_w = Vec(p); scale_decay_b = Vec(1, ScaleDecayLogitInit);
        input_decay_w = Vec(p); input_decay_b = Vec(1, InputDecayLogitInit);
        // The log-learning-rate change starts at zero (the reference's zero_init_lr_weights).
        lr_w = Vec(p); lr_b = Vec(1);
        lr_momentum_logit = Vec(1, LearningRateMomentumLogitInit);
        step_size_offset = Vec(1, StepSizeOffsetInit);
        param_init = Uniform(p); tensor_init = Uniform(t); global_init = Uniform(g);
        if (generator is not null)
        {
            using var _ = no_grad();
            scale_decay_w.copy_(normal(0, WeightInitScale / Math.Sqrt(p), [p], generator: generator));
            input_decay_w.copy_(normal(0, WeightInitScale / Math.Sqrt(p), [p], generator: generator));
        }
        RegisterComponents();
        foreach (var q in parameters())
            q.DetachFromDisposeScope();
    }

    /// <summary>The shape these meta-parameters belong to.</summary>
    public HierarchicalRnnArchitecture Architecture { get; }

    /// <summary>
    /// Untrained meta-parameters drawn as the reference initialises them, from the stream <c>"learned-optimizer.meta-init"</c> of <paramref name="seed"/>.
    /// </summary>
    /// <param name="seed">Seed of the initialisation.</param>
    /// <param name="architecture">Shape; <see cref="HierarchicalRnnArchitecture.Default"/> when null.</param>
    public static HierarchicalRnnMetaParameters CreateInitial(int seed, HierarchicalRnnArchitecture? architecture = null)
    {
        using var generator = RandomStreams.CreateGenerator(seed, "learned-optimizer.meta-init");
        return new(architecture ?? HierarchicalRnnArchitecture.Default, generator);
    }

    /// <summary>
    /// The zero-weight (reduced) rule: every weight learned from data is zero, the gradient shortcut is the mean over
    /// timescales, and the decays, learning-rate momentum and step-size offset keep their initial values. The optimizer then
    /// steps <c>θ ← θ − exp(log η − 1)·normalize(mean_k asinh(m_k/√v_k))</c> with a fixed per-parameter log learning rate:
    /// RMSProp-normalised momentum at K timescales (docs/trainers/learned-optimizer.md, "Reduced rule").
    /// </summary>
    /// <param name="architecture">Shape; <see cref="HierarchicalRnnArchitecture.Default"/> when null.</param>
    public static HierarchicalRnnMetaParameters CreateReduced(HierarchicalRnnArchitecture? architecture = null)
        => new(architecture ?? HierarchicalRnnArchitecture.Default, null);

    /// <summary>Name of the embedded resource that holds the shipped weights (src/Trainers/LearnedOptimizer/Weights/hrnn-shipped.hrnn).</summary>
    public const string ShippedResourceName = "Components.Trainers.LearnedOptimizer.hrnn-shipped.hrnn";

    /// <summary>
    /// The meta-parameters shipped with the library (default architecture), meta-trained by the documented, seeded command
    /// in docs/trainers/learned-optimizer.md ("Shipped weights"). Each call returns a new instance the caller owns.
    /// </summary>
    public static HierarchicalRnnMetaParameters LoadShipped()
    {
        using var stream = typeof(HierarchicalRnnMetaParameters).Assembly.GetManifestResourceStream(ShippedResourceName)
            ?? throw new InvalidOperationException($"The shipped learned-optimizer weights (resource '{ShippedResourceName}') are missing from {typeof(HierarchicalRnnMetaParameters).Assembly.GetName().Name}; the build is incomplete.");
        return Load(stream, HierarchicalRnnArchitecture.Default, "shipped weights");
    }

    /// <summary>Writes these meta-parameters to <paramref name="path"/> (format: <see cref="HierarchicalRnnWeightsFile"/>).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = File.Create(path);
        Save(stream);
    }

    /// <summary>Writes these meta-parameters to <paramref name="stream"/>.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        HierarchicalRnnWeightsFile.Write(stream, HierarchicalRnnWeightsFile.WeightsMagic, Architecture, Named().Select(n => (n.Name, (Tensor)n.Value)));
    }

    /// <summary>Loads meta-parameters from a weights file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="expected">The shape the caller needs; <see cref="HierarchicalRnnArchitecture.Default"/> when null.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">The file is not a weights file, is truncated or corrupt, or comes from a newer format.</exception>
    /// <exception cref="InvalidOperationException">The file holds weights of another architecture.</exception>
    public static HierarchicalRnnMetaParameters Load(string path, HierarchicalRnnArchitecture? expected = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Learned-optimizer weights file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        return Load(stream, expected, path);
    }

    /// <summary>Loads meta-parameters from <paramref name="stream"/>; <paramref name="source"/> names it in error messages.</summary>
    public static HierarchicalRnnMetaParameters Load(Stream stream, HierarchicalRnnArchitecture? expected = null, string source = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        expected ??= HierarchicalRnnArchitecture.Default;
        var (architecture, entries) = HierarchicalRnnWeightsFile.Read(stream, HierarchicalRnnWeightsFile.WeightsMagic, source);
        try
        {
            return FromEntries(architecture, entries, expected, source);
        }
        finally
        {
            foreach (var t in entries.Values)
                t.Dispose();
        }
    }

    private static HierarchicalRnnMetaParameters FromEntries(HierarchicalRnnArchitecture architecture, Dictionary<string, Tensor> entries, HierarchicalRnnArchitecture expected, string source)
    {
        if (architecture != expected)
            throw new InvalidOperationException($"Learned-optimizer weights '{source}' are for architecture ({architecture}), but ({expected}) was expected.");
        var result = CreateReduced(architecture);
        try
        {
            Fill(result, entries, source);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private static void Fill(HierarchicalRnnMetaParameters result, Dictionary<string, Tensor> entries, string source)
    {
        var named = result.Named();
        using var _ = no_grad();
        using var scope = NewDisposeScope(); // the finiteness checks' temporaries
        foreach (var (name, target) in named)
        {
            if (!entries.TryGetValue(name, out var values))
                throw new FormatException($"Learned-optimizer weights '{source}' lack the entry '{name}'.");
            if (!values.shape.SequenceEqual(target.shape) || values.dtype != ScalarType.Float32)
                throw new FormatException($"Learned-optimizer weights '{source}': entry '{name}' is {values.dtype} [{string.Join(", ", values.shape)}], expected Float32 [{string.Join(", ", target.shape)}].");
            if (!values.isfinite().all().item<bool>())
                throw new FormatException($"Learned-optimizer weights '{source}': entry '{name}' holds a NaN or infinite value.");
            target.copy_(values);
        }
        foreach (var name in entries.Keys)
        {
            if (!named.Any(n => n.Name == name))
                throw new FormatException($"Learned-optimizer weights '{source}' hold an unknown entry '{name}'.");
        }
    }

    private List<(string Name, Parameter Value)> Named() => [.. named_parameters().Select(p => (p.name, p.parameter))];

    // Accessors for the update rule (HierarchicalRnnUpdate).
    internal (Tensor Wx, Tensor Wh, Tensor B) ParameterGru => (param_gru_wx, param_gru_wh, param_gru_b);
    internal (Tensor Wx, Tensor Wh, Tensor B) TensorGru => (tensor_gru_wx, tensor_gru_wh, tensor_gru_b);
    internal (Tensor Wx, Tensor Wh, Tensor B) GlobalGru => (global_gru_wx, global_gru_wh, global_gru_b);
    internal (Tensor W, Tensor B) ParameterBiasFromTensor => (param_bias_from_tensor_w, param_bias_from_tensor_b);
    internal (Tensor W, Tensor B) ParameterBiasFromGlobal => (param_bias_from_global_w, param_bias_from_global_b);
    internal (Tensor W, Tensor B) TensorBiasFromGlobal => (tensor_bias_from_global_w, tensor_bias_from_global_b);
    internal Tensor UpdateWeights => update_w;
    internal Tensor ShortcutWeights => shortcut_w;
    internal (Tensor W, Tensor B) ScaleDecay => (scale_decay_w, scale_decay_b);
    internal (Tensor W, Tensor B) InputDecay => (input_decay_w, input_decay_b);
    internal (Tensor W, Tensor B) LearningRateChange => (lr_w, lr_b);
    internal Tensor LearningRateMomentumLogit => lr_momentum_logit;
    internal Tensor StepSizeOffset => step_size_offset;
    internal Tensor ParameterInit => param_init;
    internal Tensor TensorInit => tensor_init;
    internal Tensor GlobalInit => global_init;
}
