using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// The TorchSharp network trained by the neural-network trainers: an MLP or a small CNN described by an
/// <see cref="NeuralNetworkArchitecture"/>. <c>forward</c> maps a batch of feature rows [B, InputSize] to raw outputs
/// [B, OutputSize] (logits for classification, the standardised target for regression);
/// <see cref="ForwardLayers"/> also returns the activations of chosen layers.
/// </summary>
/// <remarks>
/// A model's module is shared with the model: use it read-only (forward passes under <c>torch.no_grad()</c>, reading
/// parameters), never train, move or dispose it. Parameters are named <c>layers.i.weight</c>/<c>layers.i.bias</c>
/// (MLP) or <c>convs.i.*</c> and <c>dense.i.*</c> (CNN), which is the state-dict layout of saved models.
/// </remarks>
public abstract class NeuralNetworkModule : nn.Module<Tensor, Tensor>
{
    private protected NeuralNetworkModule(string name, NeuralNetworkArchitecture architecture)
        : base(name)
    {
        Architecture = architecture;
    }

    /// <summary>The architecture this module was built from.</summary>
    public NeuralNetworkArchitecture Architecture { get; }

    /// <summary>Builds the network on the CPU and initialises it with the NNGP convention (see <see cref="NeuralNetworkArchitecture"/>).</summary>
    /// <param name="architecture">What to build.</param>
    /// <param name="generator">CPU generator for the initial weights (e.g. <c>ComponentContext.CreateGenerator("initialization", torch.CPU)</c>).</param>
    public static NeuralNetworkModule Create(NeuralNetworkArchitecture architecture, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var module = CreateUninitialized(architecture);
        module.Initialize(generator);
        return module;
    }

    /// <summary>Builds the network with TorchSharp's default initial values, to be overwritten (by a load or a copy).</summary>
    internal static NeuralNetworkModule CreateUninitialized(NeuralNetworkArchitecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        return architecture.Kind == NeuralNetworkArchitectureKind.Cnn ? new CnnModule(architecture) : new MlpModule(architecture);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => Run(input, null);

    /// <summary>
    /// Runs the network on <paramref name="input"/> [B, InputSize] and returns the outputs of the requested
    /// <paramref name="layers"/> (1-based; <see cref="NeuralNetworkArchitecture.LayerCount"/> is the output layer), each
    /// flattened to [B, LayerSizes[layer − 1]]. Hidden layers are taken after the activation (and, for convolution
    /// blocks, after pooling). Call under <c>torch.no_grad()</c> for inference.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A layer index is outside 1..LayerCount, or the input has the wrong shape.</exception>
    public Tensor[] ForwardLayers(Tensor input, IReadOnlyList<int> layers)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(layers);
        int count = Architecture.LayerCount;
        foreach (var l in layers)
        {
            if (l < 1 || l > count)
                throw new ArgumentOutOfRangeException(nameof(layers), l, $"Layer indices run from 1 to {count} (the output layer).");
        }
        if (input.dim() != 2 || input.shape[1] != Architecture.InputSize)
        {
            throw new ArgumentOutOfRangeException(nameof(input), $"Expected a [batch, {Architecture.InputSize}] input, got [{string.Join(", ", input.shape)}].");
        }
        using var scope = NewDisposeScope();
        var captured = new Tensor?[count + 1];
        captured[count] = Run(input, captured);
        var result = new Tensor[layers.Count];
        for (int i = 0; i < layers.Count; i++)
            result[i] = captured[layers[i]]!.flatten(1);
        foreach (var t in result)
            t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>The forward pass; when <paramref name="captured"/> is given, stores hidden layer l's output in captured[l].</summary>
    private protected abstract Tensor Run(Tensor input, Tensor?[]? captured);

    /// <summary>The weights and biases of layer <paramref name="layer"/> (1-based, as in <see cref="ForwardLayers"/>).</summary>
    internal abstract IEnumerable<TorchSharp.Modules.Parameter> LayerParameters(int layer);

    /// <summary>Applies the architecture's activation.</summary>
    private protected Tensor Activate(Tensor x) => Architecture.Activation switch
    {
        NeuralNetworkActivation.Relu => nn.functional.relu(x),
        NeuralNetworkActivation.Tanh => x.tanh(),
        NeuralNetworkActivation.Erf => x.erf(),
        _ => x,
    };

    /// <summary>
    /// Weights (every parameter with two or more dimensions) ~ N(0, σ_w²/fan_in) with fan_in the product of all but the
    /// first dimension; biases ~ N(0, σ_b²).
    /// </summary>
    private void Initialize(Generator generator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var p in parameters())
        {
            double variance = p.dim() >= 2
                ? Architecture.WeightVariance / (p.numel() / p.shape[0])
                : Architecture.BiasVariance;
            if (variance == 0)
                p.zero_();
            else
                p.copy_(randn(p.shape, ScalarType.Float32, generator: generator).mul_(Math.Sqrt(variance)));
        }
    }

    /// <summary>Copies every parameter of <paramref name="source"/> (same architecture) into this module.</summary>
    internal void CopyParametersFrom(NeuralNetworkModule source)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var dst = parameters().ToList();
        var src = source.parameters().ToList();
        if (dst.Count != src.Count)
            throw new InvalidOperationException("The two networks have different architectures.");
        for (int i = 0; i < dst.Count; i++)
            dst[i].copy_(src[i]);
    }
}
