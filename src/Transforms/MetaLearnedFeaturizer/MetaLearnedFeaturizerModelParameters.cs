using Components.Core.Persistence;
using Components.Core.Tensors;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>
/// The fitted base network, immutable: per layer the forward weights W (in × out), the bias b and the normalisation
/// frozen at the end of Fit (the mean μ and scale s = 1/√(σ² + 1e-5) of the pre-activations over all fitting rows, the
/// batch normalisation of training read as a fixed affine map, so a row's features do not depend on its batch).
/// Features of x: h₀ = x, h_{l+1} = act((h_l·W_l + b_l − μ_l)·s_l); the appended column is the top h.
/// The backward (feedback) weights are used only in training and are not kept. Tensors live on the CPU.
/// </summary>
public sealed class MetaLearnedFeaturizerModelParameters : IDisposable
{
    private const int MaxWidth = 1 << 24;
    private readonly Tensor[] _w, _b, _mean, _scale;

    internal MetaLearnedFeaturizerModelParameters(int[] widths, BaseActivation activation, Tensor[] w, Tensor[] b, Tensor[] mean, Tensor[] scale)
    {
        Widths = widths;
        Activation = activation;
        _w = w; _b = b; _mean = mean; _scale = scale;
    }

    /// <summary>Layer widths, input first; the last is the width of the appended features.</summary>
    public IReadOnlyList<int> Widths { get; }

    /// <summary>Hidden nonlinearity.</summary>
    public BaseActivation Activation { get; }

    /// <summary>Number of weight layers.</summary>
    public int Depth => _w.Length;

    /// <summary>A copy of layer <paramref name="layer"/>'s weights, row-major in × out.</summary>
    public float[] GetWeights(int layer) => TensorData.ToSingleArray(_w[layer]);

    /// <summary>A copy of layer <paramref name="layer"/>'s bias.</summary>
    public float[] GetBias(int layer) => TensorData.ToSingleArray(_b[layer]);

    /// <summary>A copy of layer <paramref name="layer"/>'s frozen pre-activation mean μ.</summary>
    public float[] GetNormalizationMean(int layer) => TensorData.ToSingleArray(_mean[layer]);

    /// <summary>A copy of layer <paramref name="layer"/>'s frozen pre-activation scale s = 1/√(σ² + 1e-5).</summary>
    public float[] GetNormalizationScale(int layer) => TensorData.ToSingleArray(_scale[layer]);

    /// <summary>Features (top activations) of a batch of rows, [rows, input width] → [rows, embedding width]; caller's dispose scope.</summary>
    internal Tensor Embed(Tensor x)
    {
        var h = x;
        for (int l = 0; l < Depth; l++)
        {
            var z = (h.matmul(_w[l]) + _b[l] - _mean[l]) * _scale[l];
            h = Activation == BaseActivation.Relu ? nn.functional.relu(z) : z.tanh();
        }
        return h;
    }

    /// <summary>Freezes a trained <see cref="BaseNetworkState"/>: normalisation statistics from one pass over <paramref name="data"/> (rows × input width).</summary>
    internal static MetaLearnedFeaturizerModelParameters Freeze(BaseNetworkState net, Tensor data, int chunkRows)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int depth = net.Depth;
        var w = new Tensor[depth]; var b = new Tensor[depth]; var mean = new Tensor[depth]; var scale = new Tensor[depth];
        long n = data.shape[0];
        // Layer by layer over the whole data: the statistics of layer l+1 need layer l already frozen. Float64 sums
        // over chunks keep memory at chunk × width and the mean exact to rounding for any row count.
        for (int l = 0; l < depth; l++)
        {
            w[l] = net.W[l].detach().cpu().to(ScalarType.Float32).contiguous();
            b[l] = net.Bias[l].detach().cpu().to(ScalarType.Float32).contiguous();
            var sum = zeros(net.Widths[l + 1], ScalarType.Float64);
            var sumSq = zeros(net.Widths[l + 1], ScalarType.Float64);
            for (long start = 0; start < n; start += chunkRows)
            {
                using var chunk = NewDisposeScope();
                var pre = PreActivation(w, b, mean, scale, net.Activation, l, data.narrow(0, start, Math.Min(chunkRows, n - start)).cpu()).to(ScalarType.Float64);
                sum.add_(pre.sum([0]));
                sumSq.add_(pre.pow(2).sum([0]));
            }
            var mu = sum / n;
            var variance = (sumSq / n - mu.pow(2)).clamp_min(0);
            mean[l] = mu.to(ScalarType.Float32);
            scale[l] = (variance + 1e-5).rsqrt().to(ScalarType.Float32);
        }
        foreach (var t in w.Concat(b).Concat(mean).Concat(scale))
            t.DetachFromDisposeScope();
        return new MetaLearnedFeaturizerModelParameters([.. net.Widths], net.Activation, w, b, mean, scale);
    }

    private static Tensor PreActivation(Tensor[] w, Tensor[] b, Tensor[] mean, Tensor[] scale, BaseActivation activation, int layer, Tensor x)
    {
        var h = x;
        for (int l = 0; l < layer; l++)
        {
            var z = (h.matmul(w[l]) + b[l] - mean[l]) * scale[l];
            h = activation == BaseActivation.Relu ? nn.functional.relu(z) : z.tanh();
        }
        return h.matmul(w[layer]) + b[layer];
    }

    // *** Binary format ***
    // int      activation (0 ReLU, 1 tanh)
    // int[]    widths, input first
    // per layer: float[] W (in·out, row-major), float[] b, float[] mean, float[] scale (out each)
    internal void Write(BinaryWriter writer)
    {
        writer.Write((int)Activation);
        writer.WriteInts([.. Widths]);
        for (int l = 0; l < Depth; l++)
        {
            writer.WriteSingles(GetWeights(l));
            writer.WriteSingles(GetBias(l));
            writer.WriteSingles(GetNormalizationMean(l));
            writer.WriteSingles(GetNormalizationScale(l));
        }
    }

    internal static MetaLearnedFeaturizerModelParameters Read(BinaryReader reader)
    {
        var activation = (BaseActivation)reader.ReadInt32();
        BinaryFormat.CheckDecode(Enum.IsDefined(activation), "activation");
        var widths = reader.ReadInts(maxLength: 1024);
        BinaryFormat.CheckDecode(widths.Length >= 2 && widths.All(x => x >= 1 && x <= MaxWidth), "layer widths");
        int depth = widths.Length - 1;
        var list = new List<Tensor>();
        try
        {
            var w = new Tensor[depth]; var b = new Tensor[depth]; var mean = new Tensor[depth]; var scale = new Tensor[depth];
            for (int l = 0; l < depth; l++)
            {
                long size = (long)widths[l] * widths[l + 1];
                BinaryFormat.CheckDecode(size <= int.MaxValue, $"layer {l} size");
                w[l] = Values(reader, (int)size, $"layer {l} weights", list, [widths[l], widths[l + 1]]);
                b[l] = Values(reader, widths[l + 1], $"layer {l} bias", list);
                mean[l] = Values(reader, widths[l + 1], $"layer {l} normalisation mean", list);
                scale[l] = Values(reader, widths[l + 1], $"layer {l} normalisation scale", list);
            }
            return new MetaLearnedFeaturizerModelParameters(widths, activation, w, b, mean, scale);
        }
        catch
        {
            foreach (var t in list)
                t.Dispose();
            throw;
        }
    }

    private static Tensor Values(BinaryReader reader, int count, string what, List<Tensor> owned, long[]? shape = null)
    {
        var v = reader.ReadSingles(maxLength: count);
        BinaryFormat.CheckDecode(v.Length == count, $"{what}: {v.Length} values, expected {count}");
        BinaryFormat.CheckDecode(v.All(float.IsFinite), $"{what} are not finite");
        var t = (shape is null ? tensor(v) : tensor(v, shape)).DetachFromDisposeScope();
        owned.Add(t);
        return t;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in _w.Concat(_b).Concat(_mean).Concat(_scale))
            t.Dispose();
    }
}
