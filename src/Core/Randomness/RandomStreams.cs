using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Randomness;

/// <summary>
/// Independent random sub-streams derived from one seed, one per purpose (initial weights, shuffling, training noise,
/// …), so that a component draws each kind of randomness from its own stream: two purposes never share or replay a
/// sequence, and adding draws for one purpose does not shift the others.
/// </summary>
/// <remarks>
/// The seed of the stream <c>purpose</c> of <c>seed</c> is
/// <c>SplitMix64(SplitMix64((ulong)(uint)seed) ⊕ FNV-1a-64(UTF-8(purpose)))</c>, where <c>SplitMix64(z)</c> is one step
/// of Steele, Lea &amp; Flood's SplitMix64 generator (z + 0x9E3779B97F4A7C15 through its finaliser: a bijection of
/// 64-bit integers with full avalanche) and FNV-1a-64 the Fowler–Noll–Vo hash. The mapping is part of the reproducibility contract: changing it changes every component's
/// random numbers for a given seed. libtorch's CPU generator (mt19937) uses the low 32 bits of its seed, the CUDA
/// generator (Philox) all 64; both are well mixed by the finaliser.
/// </remarks>
public static class RandomStreams
{
    /// <summary>The 64-bit seed of the sub-stream <paramref name="purpose"/> of <paramref name="seed"/>.</summary>
    /// <param name="seed">The component's seed.</param>
    /// <param name="purpose">What the stream is for, e.g. <c>"initialization"</c>; case-sensitive, non-empty.</param>
    public static ulong DeriveSeed(int seed, string purpose)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        return SplitMix64(SplitMix64((ulong)(uint)seed) ^ Fnv1a64(purpose));
    }

    /// <summary>A new generator on <paramref name="device"/> (the CPU when null) for the sub-stream <paramref name="purpose"/>; the caller disposes it.</summary>
    /// <param name="seed">The component's seed.</param>
    /// <param name="purpose">What the stream is for.</param>
    /// <param name="device">Device of the generator: a CUDA device gets a CUDA generator, anything else a CPU one.</param>
    public static torch.Generator CreateGenerator(int seed, string purpose, Device? device = null)
        => new(DeriveSeed(seed, purpose), device is { type: DeviceType.CUDA } ? device : torch.CPU);

    /// <summary>One SplitMix64 step: <paramref name="z"/> + 0x9E3779B97F4A7C15 through the SplitMix64 finaliser (a bijection with full avalanche).</summary>
    public static ulong SplitMix64(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Fnv1a64(string s)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            h ^= b;
            h *= 0x100000001B3UL;
        }
        return h;
    }
}
