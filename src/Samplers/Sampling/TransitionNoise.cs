using Components.Core.Randomness;
using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Sampling;

/// <summary>The random inputs of one transition for a batch of chains.</summary>
/// <param name="Momentum">Fresh momentum <c>v ~ N(0, I)</c>, <c>[B, d]</c>.</param>
/// <param name="Uniform">Uniforms in (0, 1) for the Metropolis–Hastings test, <c>[B]</c>.</param>
/// <param name="Forward">Direction <c>d = +1</c> (true) or <c>−1</c> (false), Bernoulli(½), <c>[B]</c> bool.</param>
internal readonly record struct TransitionInputs(Tensor Momentum, Tensor Uniform, Tensor Forward);

/// <summary>Source of the random inputs of successive transitions.</summary>
internal abstract class TransitionNoise
{
    /// <summary>Draws the inputs of transition <paramref name="transition"/> for <paramref name="rows"/> chains.</summary>
    public abstract TransitionInputs Next(int transition, int rows, int dimension, Device device);
}

/// <summary>Noise from a TorchSharp generator (training, benchmarks, <c>Sample</c>).</summary>
internal sealed class GeneratorNoise : TransitionNoise
{
    private readonly Generator _generator;

    public GeneratorNoise(Generator generator) => _generator = generator;

    public override TransitionInputs Next(int transition, int rows, int dimension, Device device)
    {
        var v = torch.randn([rows, dimension], ScalarType.Float32, device, generator: _generator);
        var u = torch.rand([rows], ScalarType.Float32, device, generator: _generator);
        var d = torch.rand([rows], ScalarType.Float32, device, generator: _generator).lt(0.5);
        return new TransitionInputs(v, u, d);
    }
}

/// <summary>
/// Counter-based noise keyed by (seed, row position, transition) (<see cref="CounterNoise"/>): row <c>p</c> always
/// receives the same random inputs whatever the batch it is mapped in, so a model's row mapping is reproducible
/// (batched Transform, PredictionEngine and a reloaded model agree) while different rows get independent noise.
/// Per row and transition: d normals (the momentum), one uniform (the Metropolis–Hastings test), one uniform &lt; ½
/// (the direction).
/// </summary>
internal sealed class RowNoise : TransitionNoise
{
    private readonly CounterNoise _noise;
    private readonly long _firstRow;

    public RowNoise(int seed, long firstRow)
    {
        _noise = new CounterNoise(seed);
        _firstRow = firstRow;
    }

    public override TransitionInputs Next(int transition, int rows, int dimension, Device device)
    {
        var v = new float[rows * dimension];
        var u = new float[rows];
        var d = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            var stream = _noise.Stream(_firstRow + r, transition);
            stream.NextNormals(v.AsSpan(r * dimension, dimension));
            u[r] = (float)stream.NextUniform();
            d[r] = stream.NextUniform() < 0.5 ? 1 : 0;
        }
        using var scope = torch.NewDisposeScope();
        var vt = TensorData.FromSpan(v, [rows, dimension], device);
        var ut = TensorData.FromSpan(u, [rows], device);
        var dt = TensorData.FromSpan(d, [rows], device).gt(0.5f);
        return new TransitionInputs(vt.MoveToOuterDisposeScope(), ut.MoveToOuterDisposeScope(), dt.MoveToOuterDisposeScope());
    }
}
