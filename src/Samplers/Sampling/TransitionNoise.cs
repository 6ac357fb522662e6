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
/// Counter-based noise keyed by (seed, row position, transition): row <c>p</c> always receives the same random
/// inputs whatever the batch it is mapped in, so a model's row mapping is reproducible (batched Transform,
/// PredictionEngine and a reloaded model agree) while different rows get independent noise.
/// </summary>
internal sealed class RowNoise : TransitionNoise
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private readonly ulong _seed;
    private readonly long _firstRow;

    public RowNoise(int seed, long firstRow)
    {
        _seed = Mix((ulong)(uint)seed ^ 0x5DEECE66DUL);
        _firstRow = firstRow;
    }

    public override TransitionInputs Next(int transition, int rows, int dimension, Device device)
    {
        var v = new float[rows * dimension];
        var u = new float[rows];
        var d = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            ulong key = Mix(Mix(_seed ^ ((ulong)(_firstRow + r) * 0xD1B54A32D192ED03UL)) ^ ((ulong)(uint)transition * 0x8CB92BA72F3D8DD7UL));
            ulong counter = 0;
            for (int j = 0; j < dimension; j += 2)
            {
                double u1 = Unit(key, counter++), u2 = Unit(key, counter++);
                double radius = Math.Sqrt(-2 * Math.Log(u1)), angle = 2 * Math.PI * u2;
                v[r * dimension + j] = (float)(radius * Math.Cos(angle));
                if (j + 1 < dimension)
                    v[r * dimension + j + 1] = (float)(radius * Math.Sin(angle));
            }
            u[r] = (float)Unit(key, counter++);
            d[r] = Unit(key, counter) < 0.5 ? 1 : 0;
        }
        using var scope = torch.NewDisposeScope();
        var vt = TensorData.FromSpan(v, [rows, dimension], device);
        var ut = TensorData.FromSpan(u, [rows], device);
        var dt = TensorData.FromSpan(d, [rows], device).gt(0.5f);
        return new TransitionInputs(vt.MoveToOuterDisposeScope(), ut.MoveToOuterDisposeScope(), dt.MoveToOuterDisposeScope());
    }

    /// <summary>Uniform in the open interval (0, 1) from a 64-bit hash of (key, counter).</summary>
    private static double Unit(ulong key, ulong counter)
        => ((Mix(key + (counter + 1) * Golden) >> 11) + 0.5) * (1.0 / (1UL << 53));

    /// <summary>SplitMix64 finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
