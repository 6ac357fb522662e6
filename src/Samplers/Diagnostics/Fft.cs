namespace Components.Samplers.Diagnostics;

/// <summary>Radix-2 FFT used for autocovariances (O(n log n) instead of O(n²) per series).</summary>
internal static class Fft
{
    /// <summary>
    /// Raw lagged products <c>r[τ] = Σ_t x_t x_{t+τ}</c> for τ = 0..n−1 (no centring, no normalisation), through a
    /// zero-padded FFT.
    /// </summary>
    public static double[] LaggedProducts(ReadOnlySpan<double> x)
    {
        int n = x.Length;
        int size = 1;
        while (size < 2 * n)
            size <<= 1;
        var re = new double[size];
        var im = new double[size];
        x.CopyTo(re);
        Transform(re, im, inverse: false);
        for (int i = 0; i < size; i++)
        {
            re[i] = re[i] * re[i] + im[i] * im[i];
            im[i] = 0;
        }
        Transform(re, im, inverse: true);
        var r = new double[n];
        for (int i = 0; i < n; i++)
            r[i] = re[i] / size;
        return r;
    }

    /// <summary>In-place iterative Cooley–Tukey FFT (length a power of two); the inverse is unnormalised.</summary>
    public static void Transform(double[] re, double[] im, bool inverse)
    {
        int n = re.Length;
        for (int i = 1, j = 0; i < n; i++)
        {
            int bit = n >> 1;
            for (; (j & bit) != 0; bit >>= 1)
                j ^= bit;
            j ^= bit;
            if (i < j)
            {
                (re[i], re[j]) = (re[j], re[i]);
                (im[i], im[j]) = (im[j], im[i]);
            }
        }
        for (int len = 2; len <= n; len <<= 1)
        {
            double angle = 2 * Math.PI / len * (inverse ? 1 : -1);
            double wr = Math.Cos(angle), wi = Math.Sin(angle);
            for (int i = 0; i < n; i += len)
            {
                double cr = 1, ci = 0;
                for (int k = 0; k < len / 2; k++)
                {
                    int a = i + k, b = a + len / 2;
                    double tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                    double nr = cr * wr - ci * wi;
                    ci = cr * wi + ci * wr;
                    cr = nr;
                }
            }
        }
    }
}
