using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>
/// DFT-CCA for convolutional activations (the reference <c>dft_ccas.py</c>): a 2-D DFT over the spatial axes of
/// A [N, H₁, W₁, C₁] and B [N, H₂, W₂, C₂], then an independent complex (SV)CCA at every spatial frequency, with
/// datapoints = N and neurons = channels. When the spatial sizes differ, only the frequencies both share are kept
/// (numpy <c>fftfreq</c> in [−m/2, m/2) of the smaller size m, per axis). Exact when the dataset is translation
/// invariant; much cheaper than CCA on the flattened H·W·C neurons.
/// </summary>
public static partial class DftCca
{
    /// <summary>Per-frequency (SV)CCA of two conv activations in NHWC layout. Default settings: plain CCA (no SVD step), as the reference.</summary>
    /// <exception cref="ArgumentException">Not 4-D, different N, or N ≤ channels.</exception>
    /// <exception cref="InvalidOperationException">NaN/infinite values, or a frequency at which a side has no variance.</exception>
    public static DftCcaResult Compute(Tensor a, Tensor b, SvccaSettings? settings = null)
    {
        settings ??= SvccaSettings.Cca;
        settings.Validate();
        Check(a, nameof(a));
        Check(b, nameof(b));
        long n = a.shape[0];
        if (b.shape[0] != n)
            throw new ArgumentException($"'a' has {n} datapoints but 'b' has {b.shape[0]}.", nameof(b));
        int ca = (int)a.shape[3], cb = (int)b.shape[3];
        InputChecks.EnoughDatapoints(n, ca, "a", arg: true);
        InputChecks.EnoughDatapoints(n, cb, "b", arg: true);
        InputChecks.Finite(a, "a");
        InputChecks.Finite(b, "b");
        int h = (int)Math.Min(a.shape[1], b.shape[1]);
        int w = (int)Math.Min(a.shape[2], b.shape[2]);
        var device = settings.ResolvedDevice;

        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var covA = Spectra(a, h, w, device, out var fa, out var meanA);
        var covB = Spectra(b, h, w, device, out var fb, out var meanB);
        var cross = torch.matmul(CcaCore.H(fa), fb) / (n - 1);
        var rho = new double[h * w][];
        for (int f = 0; f < h * w; f++)
        {
            using var inner = torch.NewDisposeScope();
            string where = $"at frequency ({f / w}, {f % w})";
            using var sa = SvdStep.Reduce(covA[f], meanA[f], settings, "A " + where);
            using var sb = SvdStep.Reduce(covB[f], meanB[f], settings, "B " + where);
            var red = torch.matmul(torch.matmul(CcaCore.H(sa.Basis), cross[f]), sb.Basis);
            rho[f] = CcaCore.Correlate(sa, sb, red, settings.Epsilon).Rho;
        }
        return new DftCcaResult(h, w, rho);
    }

    /// <summary>FFT over (H, W), frequency crop, centring; returns per-frequency covariances [h·w, C, C], the centred spectra [h·w, N, C] and the means [h·w, C].</summary>
    private static Tensor Spectra(Tensor x, int h, int w, Device device, out Tensor centred, out Tensor mean)
    {
        long n = x.shape[0], c = x.shape[3];
        var f = torch.fft.fft2(x.to(device).to(ScalarType.Float64), dim: [1, 2]);
        if (x.shape[1] != h)
            f = f.index_select(1, torch.tensor(KeptFrequencies((int)x.shape[1], h), device: device));
        if (x.shape[2] != w)
            f = f.index_select(2, torch.tensor(KeptFrequencies((int)x.shape[2], w), device: device));
        var z = f.permute(1, 2, 0, 3).reshape(h * w, n, c);
        mean = z.mean([1], keepdim: true);
        centred = z - mean;
        mean = mean.squeeze(1);
        return torch.matmul(CcaCore.H(centred), centred) / (n - 1);
    }

    /// <summary>Indices (ascending) of the DFT bins of a size-<paramref name="n"/> axis whose frequency lies in [−m/2, m/2).</summary>
    internal static long[] KeptFrequencies(int n, int m)
    {
        var kept = new List<long>(m);
        for (int k = 0; k < n; k++)
        {
            int freq = k <= (n - 1) / 2 ? k : k - n;
            if (freq >= -m / 2.0 && freq < m / 2.0)
                kept.Add(k);
        }
        return kept.ToArray();
    }

    private static void Check(Tensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() != 4)
            throw new ArgumentException($"'{name}' must be a 4-D tensor [datapoints, height, width, channels]; got shape [{string.Join(", ", t.shape)}].", name);
        if (!t.is_floating_point())
            throw new ArgumentException($"'{name}' must be a floating-point tensor; got {t.dtype}.", name);
        if (t.numel() == 0)
            throw new ArgumentException($"'{name}' is empty.", name);
    }
}
