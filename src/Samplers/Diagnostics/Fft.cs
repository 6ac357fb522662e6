using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Diagnostics;

/// <summary>Lagged products of series through <c>torch.fft</c> in float64 (O(n log n) instead of O(n²) per series).</summary>
internal static class Fft
{
    /// <summary>
    /// Raw lagged products <c>r[τ] = Σ_t x_t x_{t+τ}</c> for τ = 0..n−1 (no centring, no normalisation) of
    /// <paramref name="count"/> series of length <paramref name="n"/> stored row after row in
    /// <paramref name="series"/>; the result has the same layout. Computed as the inverse real FFT of |FFT(x)|² with
    /// the series zero-padded to at least 2n, so the circular products equal the linear ones.
    /// </summary>
    public static double[] LaggedProducts(ReadOnlySpan<double> series, int count, int n)
    {
        if (count < 0 || n < 1 || series.Length != (long)count * n)
            throw new ArgumentException($"Expected {count} series of length {n}, got {series.Length} values.", nameof(series));
        if (count == 0)
            return [];
        int size = 1;
        while (size < 2 * n)
            size <<= 1;
        var result = new double[series.Length];
        // Blocks of rows keep the complex spectra to about 16 MiB, whatever the number of series.
        int block = Math.Max(1, (1 << 20) / size);
        using var noGrad = torch.no_grad();
        for (int first = 0; first < count; first += block)
        {
            int rows = Math.Min(block, count - first);
            using var scope = torch.NewDisposeScope();
            var x = TensorData.FromSpan(series.Slice(first * n, rows * n), [rows, n]);
            var f = torch.fft.rfft(x, size, dim: 1);
            var power = f.real.square() + f.imag.square();
            var r = torch.fft.irfft(torch.complex(power, torch.zeros_like(power)), size, dim: 1).narrow(1, 0, n);
            TensorData.CopyTo(r.contiguous(), result.AsSpan(first * n, rows * n));
        }
        return result;
    }

    /// <summary>Lagged products of one series; see <see cref="LaggedProducts(ReadOnlySpan{double}, int, int)"/>.</summary>
    public static double[] LaggedProducts(ReadOnlySpan<double> x) => LaggedProducts(x, 1, x.Length);
}
