using Components.Core.Randomness;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>Nonlinearity of the base network's hidden units.</summary>
public enum BaseActivation
{
    /// <summary>max(0, z).</summary>
    Relu,
    /// <summary>tanh(z).</summary>
    Tanh,
}

/// <summary>
/// The state of the base MLP that the <see cref="LocalUpdateRule"/> trains without labels: per layer the forward weights
/// W (in × out), the bias b (out) and the fixed-shape random backward weights B (in × out, feedback alignment; the
/// reference's identical_updates: B receives the same update as W). Tensors are plain values (not parameters) so an
/// unrolled inner loop stays differentiable with respect to the rule; <see cref="Detach"/> truncates the unroll.
/// </summary>
public sealed class BaseNetworkState : IDisposable
{
    /// <summary>Random purpose of the initial forward/backward weights.</summary>
    public const string InitPurpose = "meta-learned-featurizer.base-init";

    internal BaseNetworkState(int[] widths, BaseActivation activation, Tensor[] w, Tensor[] b, Tensor[] back)
    {
        Widths = widths; Activation = activation; W = w; Bias = b; Backward = back;
    }

    /// <summary>Layer widths, input first.</summary>
    public IReadOnlyList<int> Widths { get; }

    /// <summary>Hidden nonlinearity (also applied to the output embedding, as in the reference).</summary>
    public BaseActivation Activation { get; }

    /// <summary>Forward weights per layer (in × out).</summary>
    public Tensor[] W { get; }

    /// <summary>Biases per layer (out).</summary>
    public Tensor[] Bias { get; }

    /// <summary>Backward (feedback) weights per layer (in × out).</summary>
    public Tensor[] Backward { get; }

    /// <summary>Number of weight layers.</summary>
    public int Depth => W.Length;

    /// <summary>A freshly initialised network: W, B ~ N(0, 1/in), b = 0, drawn from the seed's own generator.</summary>
    /// <param name="widths">Layer widths, input first (at least two, each ≥ 1).</param>
    /// <param name="seed">Seed of the <see cref="InitPurpose"/> stream.</param>
    /// <param name="activation">Hidden nonlinearity.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    public static BaseNetworkState Create(IReadOnlyList<int> widths, int seed, BaseActivation activation = BaseActivation.Relu, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(widths);
        if (widths.Count < 2)
            throw new ArgumentException($"The base network needs at least two widths (input and output), got {widths.Count}.", nameof(widths));
        for (int i = 0; i < widths.Count; i++)
            if (widths[i] < 1)
                throw new ArgumentOutOfRangeException(nameof(widths), widths[i], $"Width {i} must be at least 1.");
        if (dtype != ScalarType.Float32 && dtype != ScalarType.Float64)
            throw new ArgumentException($"The base network computes in Float32 or Float64, not {dtype}.", nameof(dtype));
        var gen = RandomStreams.CreateGenerator(seed, InitPurpose);
        int depth = widths.Count - 1;
        var w = new Tensor[depth]; var b = new Tensor[depth]; var back = new Tensor[depth];
        for (int l = 0; l < depth; l++)
        {
            double s = 1.0 / Math.Sqrt(widths[l]);
            w[l] = (randn([widths[l], widths[l + 1]], generator: gen) * s).to(dtype).DetachFromDisposeScope();
            back[l] = (randn([widths[l], widths[l + 1]], generator: gen) * s).to(dtype).DetachFromDisposeScope();
            b[l] = zeros([widths[l + 1]], dtype).DetachFromDisposeScope();
        }
        return new BaseNetworkState([.. widths], activation, w, b, back);
    }

    /// <summary>A state from given tensors (taken over; the caller no longer disposes them).</summary>
    public static BaseNetworkState FromTensors(IReadOnlyList<Tensor> w, IReadOnlyList<Tensor> bias, IReadOnlyList<Tensor> backward, BaseActivation activation = BaseActivation.Relu)
    {
        if (w.Count < 1 || w.Count != bias.Count || w.Count != backward.Count)
            throw new ArgumentException($"Need as many weights, biases and backward weights (≥ 1), got {w.Count}, {bias.Count}, {backward.Count}.");
        var widths = new int[w.Count + 1];
        widths[0] = (int)w[0].shape[0];
        for (int l = 0; l < w.Count; l++)
        {
            if (w[l].dim() != 2 || w[l].shape[0] != widths[l])
                throw new ArgumentException($"Layer {l}: weights must be {widths[l]} × out, got [{string.Join(", ", w[l].shape)}].");
            widths[l + 1] = (int)w[l].shape[1];
            if (!bias[l].shape.SequenceEqual([w[l].shape[1]]) || !backward[l].shape.SequenceEqual(w[l].shape))
                throw new ArgumentException($"Layer {l}: bias must have {widths[l + 1]} entries and backward weights the shape of W.");
        }
        return new BaseNetworkState(widths, activation,
            [.. w.Select(t => t.DetachFromDisposeScope())], [.. bias.Select(t => t.DetachFromDisposeScope())], [.. backward.Select(t => t.DetachFromDisposeScope())]);
    }

    /// <summary>Forward pass: per layer the pre-activations z (batch-normalised, no learned scale) and activations h = act(z).</summary>
    /// <param name="x">Batch × input width.</param>
    /// <returns>Activations per level (level 0 is the input) and pre-activations per level (level 0 is the input itself).</returns>
    public (Tensor[] H, Tensor[] Z) Forward(Tensor x)
    {
        InputChecks.Batch(x, Widths[0], nameof(x));
        var h = new Tensor[Depth + 1]; var z = new Tensor[Depth + 1];
        h[0] = x.to(W[0].dtype); z[0] = h[0];
        for (int l = 0; l < Depth; l++)
        {
            var pre = h[l].matmul(W[l]) + Bias[l];
            z[l + 1] = BatchNorm(pre);
            h[l + 1] = Activation == BaseActivation.Relu ? nn.functional.relu(z[l + 1]) : z[l + 1].tanh();
        }
        return (h, z);
    }

    /// <summary>The output embedding (top activations) of a batch.</summary>
    public Tensor Embed(Tensor x) => Forward(x).H[Depth];

    internal static Tensor BatchNorm(Tensor pre)
    {
        var mean = pre.mean([0], keepdim: true);
        var centred = pre - mean;
        return centred / (centred.pow(2).mean([0], keepdim: true) + 1e-5).sqrt();
    }

    /// <summary>The same network with every tensor cut from the autograd graph (truncated backpropagation).</summary>
    public BaseNetworkState Detach() => new([.. Widths], Activation,
        [.. W.Select(t => t.detach().DetachFromDisposeScope())], [.. Bias.Select(t => t.detach().DetachFromDisposeScope())],
        [.. Backward.Select(t => t.detach().DetachFromDisposeScope())]);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in W.Concat(Bias).Concat(Backward))
            t.Dispose();
    }
}
