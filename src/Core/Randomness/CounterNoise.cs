namespace Components.Core.Randomness;

/// <summary>
/// Counter-based random numbers keyed by (seed, row, step): the numbers of a row are a fixed function of the seed, the
/// row's position in the data and the step (a transition, an epoch, a noise draw), independent of how rows are batched
/// or which thread maps them. A model that needs noise at transform time (a sampler's transitions, a generator's
/// latent input, a stochastic layer) draws it here, so its batched Transform, a PredictionEngine and a reloaded model
/// give every row the same numbers, while different rows and steps get independent ones.
/// </summary>
/// <remarks>
/// Row <c>p</c> at step <c>t</c> has the key <c>k = M(M(s ⊕ p·0xD1B54A32D192ED03) ⊕ t·0x8CB92BA72F3D8DD7)</c> with
/// <c>s = M(seed ⊕ 0x5DEECE66D)</c> and <c>M</c> the SplitMix64 finaliser; its i-th uniform is
/// <c>((M(k + (i + 1)·0x9E3779B97F4A7C15) &gt;&gt; 11) + ½) / 2⁵³</c>, in the open interval (0, 1). Normals are
/// Box–Muller pairs of consecutive uniforms. The mapping is part of the saved models' contract (a sampler model stores
/// only its seed): it must not change.
/// </remarks>
public sealed class CounterNoise
{
    private readonly ulong _seed;

    /// <summary>Creates the noise of <paramref name="seed"/>.</summary>
    /// <param name="seed">The model's seed.</param>
    public CounterNoise(int seed) => _seed = Mix((ulong)(uint)seed ^ 0x5DEECE66DUL);

    /// <summary>The stream of row <paramref name="row"/> (its position in the data) at step <paramref name="step"/>.</summary>
    /// <param name="row">Row position, 0-based.</param>
    /// <param name="step">Step (transition, draw) number.</param>
    public CounterStream Stream(long row, int step)
        => new(Mix(Mix(_seed ^ ((ulong)row * 0xD1B54A32D192ED03UL)) ^ ((ulong)(uint)step * 0x8CB92BA72F3D8DD7UL)));

    /// <summary>The SplitMix64 finaliser.</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>
/// The random numbers of one (row, step) of a <see cref="CounterNoise"/>, read in order. A value type: copying it
/// copies its position, so read it through one variable.
/// </summary>
public struct CounterStream
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private readonly ulong _key;
    private ulong _counter;

    internal CounterStream(ulong key)
    {
        _key = key;
        _counter = 0;
    }

    /// <summary>The next uniform in the open interval (0, 1) (53 random bits).</summary>
    public double NextUniform()
        => ((CounterNoise.Mix(_key + (_counter++ + 1) * Golden) >> 11) + 0.5) * (1.0 / (1UL << 53));

    /// <summary>
    /// Fills <paramref name="destination"/> with standard normals (Box–Muller: each pair of values uses two uniforms; an
    /// odd length uses both uniforms of the last pair and keeps its first value).
    /// </summary>
    public void NextNormals(Span<float> destination)
    {
        for (int j = 0; j < destination.Length; j += 2)
        {
            double u1 = NextUniform(), u2 = NextUniform();
            double radius = Math.Sqrt(-2 * Math.Log(u1)), angle = 2 * Math.PI * u2;
            destination[j] = (float)(radius * Math.Cos(angle));
            if (j + 1 < destination.Length)
                destination[j + 1] = (float)(radius * Math.Sin(angle));
        }
    }
}
