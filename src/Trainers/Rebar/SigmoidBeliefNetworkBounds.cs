using TorchSharp;
using Components.Trainers.Rebar.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>The ELBO and the importance-weighted bound of a sigmoid belief network (nats per row, means over rows).</summary>
/// <param name="Elbo">Mean over rows and samples of log p(x, b) − log q(b | x).</param>
/// <param name="Iwae">Mean over rows of log (1/k) Σ_k p(x, b_k)/q(b_k | x), the k-sample bound (≥ the ELBO in expectation).</param>
/// <param name="Samples">k.</param>
public sealed record SigmoidBeliefNetworkBound(double Elbo, double Iwae, int Samples);

/// <summary>Evaluation of a sigmoid belief network: the k-sample bound in chunks, for k up to thousands.</summary>
public static class SigmoidBeliefNetworkBounds
{
    /// <summary>Rows × samples evaluated in one forward pass (memory: this many rows of the network).</summary>
    public const int ChunkRows = 12_800;

    /// <summary>Computes the ELBO and the k-sample importance-weighted bound on binary rows <paramref name="x"/> [rows, width].</summary>
    /// <param name="network">The network.</param>
    /// <param name="x">Binary data (0/1), on the network's device.</param>
    /// <param name="samples">k ≥ 1.</param>
    /// <param name="generator">Generator of the samples.</param>
    /// <param name="cancellation">Checked between chunks.</param>
    /// <exception cref="ArgumentOutOfRangeException">k &lt; 1.</exception>
    /// <exception cref="ArgumentException">x is empty, has the wrong width or is not binary.</exception>
    public static SigmoidBeliefNetworkBound Compute(SigmoidBeliefNetworkModule network, Tensor x, int samples, Generator? generator, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x);
        if (samples < 1)
            throw new ArgumentOutOfRangeException(nameof(samples), samples, "The bound needs k ≥ 1 samples.");
        SigmoidBeliefNetworkData.CheckBinary(x, network.InputWidth, "x");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long rows = x.shape[0];
        int sampleChunk = Math.Min(samples, 100);
        long rowBlock = Math.Max(1, ChunkRows / sampleChunk);
        double elboSum = 0, iwaeSum = 0;
        for (long start = 0; start < rows; start += rowBlock)
        {
            using var block = NewDisposeScope();
            long n = Math.Min(rowBlock, rows - start);
            var xb = x.narrow(0, start, n);
            Tensor? lse = null;
            double sumLogW = 0;
            for (int done = 0; done < samples; done += sampleChunk)
            {
                cancellation.ThrowIfCancellationRequested();
                // Per chunk: its tiled rows, uniforms and weights are freed before the next chunk (that is what chunking is for).
                using var chunk = NewDisposeScope();
                int c = Math.Min(sampleChunk, samples - done);
                var tiled = xb.repeat(c, 1);
                var u = Enumerable.Range(0, network.Layers).Select(_ => rand([c * n, network.LatentWidth], x.dtype, x.device, generator: generator)).ToArray();
                var logw = network.LogWeight(tiled, u).to(ScalarType.Float64).reshape(c, n);
                sumLogW += logw.sum().ToDouble();
                var chunkLse = logw.logsumexp(0);
                lse = (lse is null ? chunkLse : logaddexp(lse, chunkLse)).MoveToOuterDisposeScope();
            }
            elboSum += sumLogW / samples;
            iwaeSum += (lse! - Math.Log(samples)).sum().ToDouble();
        }
        return new SigmoidBeliefNetworkBound(elboSum / rows, iwaeSum / rows, samples);
    }
}
