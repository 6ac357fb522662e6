using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// Monte-Carlo estimate of the NNGP kernel and the NTK from finite random networks of the same architecture (the
/// oracle and fallback of neural-tangents' <c>monte_carlo_kernel_fn</c>): every sample draws all weights and biases
/// N(0, 1) in the NTK parameterisation (h^{l+1} = σ_w/√n_l · W a^l + σ_b·b) and contributes its empirical kernels:
/// the NNGP kernel of the readout given the last hidden layer, σ_w²·a^L·a^L′/n_L + σ_b² (the readout weights are
/// integrated out, which lowers the variance and keeps the mean), and the NTK of a scalar readout,
/// Σ_l (σ_w²·a^l·a^l′/n_l + σ_b²)·⟨δ^{l+1}, δ^{l+1}′⟩ with δ the back-propagated output gradients.
/// Estimates converge at rate O(1/√(width·samples)) for the NNGP kernel and O(1/√width) bias for the NTK.
/// </summary>
public static class NngpMonteCarlo
{
    /// <summary>Estimates K(x1, x2) and Θ(x1, x2).</summary>
    /// <param name="architecture">The network; depth ≥ 0.</param>
    /// <param name="x1">[n1, d] inputs.</param>
    /// <param name="x2">[n2, d] inputs, or null for x1.</param>
    /// <param name="width">Hidden width (≥ 1), e.g. 1024.</param>
    /// <param name="samples">Number of random networks (≥ 1), e.g. 500.</param>
    /// <param name="generator">Random source; its device is where the networks run.</param>
    /// <param name="cancellation">Checked between batches of networks.</param>
    public static NngpKernelResult Estimate(NngpArchitecture architecture, Tensor x1, Tensor? x2, int width, int samples,
        torch.Generator generator, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(x1);
        ArgumentNullException.ThrowIfNull(generator);
        if (width < 1)
            throw new ArgumentOutOfRangeException(nameof(width), width, "The width must be positive.");
        if (samples < 1)
            throw new ArgumentOutOfRangeException(nameof(samples), samples, "The number of samples must be positive.");
        if (x1.dim() != 2 || x1.shape[0] == 0 || x1.shape[1] == 0)
            throw new ArgumentOutOfRangeException(nameof(x1), "Expected a non-empty [rows, features] tensor.");
        if (x2 is not null && (x2.dim() != 2 || x2.shape[0] == 0 || x2.shape[1] != x1.shape[1]))
            throw new ArgumentOutOfRangeException(nameof(x2), $"Expected a non-empty [rows, {x1.shape[1]}] tensor.");

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var device = generator.device;
        var x = (x2 is null ? x1 : torch.cat([x1, x2], 0)).detach().to(ScalarType.Float64, device);
        if (!torch.isfinite(x).all().item<bool>())
            throw new InvalidOperationException("Monte-Carlo kernel inputs must be finite.");
        if (architecture.InputLayerNorm)
            x = (x - x.mean([1], keepdim: true)) / (x.var(1, unbiased: false, keepdim: true) + 1e-15).sqrt();
        long n = x.shape[0], d = x.shape[1];
        int depth = architecture.Depth;
        double sw = Math.Sqrt(architecture.WeightVariance), sb = Math.Sqrt(architecture.BiasVariance);
        var phi = architecture.Nonlinearity;
        long largestWeight = (long)width * (depth >= 2 ? Math.Max(width, d) : d);
        int batch = (int)Math.Clamp((1L << 23) / Math.Max(1L, Math.Max(largestWeight, n * (long)width)), 1, 64);
        var kSum = torch.zeros([n, n], ScalarType.Float64, device);
        var tSum = torch.zeros([n, n], ScalarType.Float64, device);
        for (int done = 0; done < samples; done += batch)
        {
            cancellation.ThrowIfCancellationRequested();
            using var inner = torch.NewDisposeScope();
            int s = Math.Min(batch, samples - done);
            var acts = new List<Tensor> { x.unsqueeze(0).expand(s, n, d) };
            var pre = new List<Tensor>();
            var weights = new List<Tensor>();
            long fanIn = d;
            for (int l = 0; l < depth; l++)
            {
                var w = torch.randn([s, fanIn, width], ScalarType.Float64, device, generator: generator);
                var bias = torch.randn([s, 1, width], ScalarType.Float64, device, generator: generator);
                var h = torch.bmm(acts[^1], w) * (sw / Math.Sqrt(fanIn)) + bias * sb;
                weights.Add(w);
                pre.Add(h);
                acts.Add(phi.Apply(h));
                fanIn = width;
            }
            var readout = torch.randn([s, fanIn, 1], ScalarType.Float64, device, generator: generator);
            weights.Add(readout);

            // NNGP: readout integrated out.
            var aL = acts[^1];
            kSum.add_((torch.bmm(aL, aL.transpose(1, 2)) * (architecture.WeightVariance / fanIn) + architecture.BiasVariance).sum(dim: 0));

            // NTK: back-propagate δ from the scalar output.
            var delta = torch.ones([s, n, 1], ScalarType.Float64, device);
            var theta = torch.zeros([s, n, n], ScalarType.Float64, device);
            for (int l = depth; l >= 0; l--)
            {
                var a = acts[l];
                long width_l = a.shape[2];
                var layerKernel = torch.bmm(a, a.transpose(1, 2)) * (architecture.WeightVariance / width_l) + architecture.BiasVariance;
                theta.add_(layerKernel * torch.bmm(delta, delta.transpose(1, 2)));
                if (l > 0)
                    delta = phi.Derivative(pre[l - 1]) * (torch.bmm(delta, weights[l].transpose(1, 2)) * (sw / Math.Sqrt(width_l)));
            }
            tSum.add_(theta.sum(dim: 0));
        }
        kSum.div_(samples);
        tSum.div_(samples);
        long n1 = x1.shape[0];
        Tensor k, t, cov1;
        Tensor? cov2 = null;
        if (x2 is null)
        {
            k = kSum;
            t = tSum;
            cov1 = kSum.diagonal().clone();
        }
        else
        {
            k = kSum[..(int)n1, (int)n1..].contiguous();
            t = tSum[..(int)n1, (int)n1..].contiguous();
            cov1 = kSum.diagonal()[..(int)n1].clone();
            cov2 = kSum.diagonal()[(int)n1..].clone();
        }
        return new NngpKernelResult(k.DetachFromDisposeScope(), t.DetachFromDisposeScope(), cov1.DetachFromDisposeScope(), cov2?.DetachFromDisposeScope(), false, 0, 0);
    }
}
