using Components.Kernels.Nngp;

namespace Components.Kernels.SignalPropagation;

/// <summary>
/// The Gaussian (one-loop) approximation of the random network's lattice field (layers × neurons) for wide
/// networks, in the spirit of Schoenholz, Pennington &amp; Sohl-Dickstein (arXiv:1710.06570): the layer statistic
/// Q^l = ‖z^l‖²/N fluctuates by O(1/√N) around the mean-field q^l, and its fluctuations are correlated across
/// layers. Derived in docs/kernels/signal-propagation.md; exact for a linear network up to O(1/N²), and for any φ to
/// leading order in 1/N.
/// </summary>
/// <remarks>
/// Write m^l for the conditional variance of layer l given layer l − 1 (m^0 = q⁰ exactly; m^{l+1} = σ_w²P^l + σ_b² with
/// P^l = ‖φ(z^l)‖²/N), μ^l = m^l − q^l, and for g ~ N(0, 1) at variance q^l: F = E[φ(√q g)²], v_l = Var φ(√q g)²,
/// κ_l = Cov(g², φ(√q g)²), a_l = σ_w² F′(q^l) (the slope of the variance map). Then, to leading order,
/// μ^{l+1} = a_l μ^l + σ_w² η_l and Q^l = q^l + μ^l + q^l ε_l, with independent noises per layer,
/// N·Var ε = 2, N·Var η = v_l, N·Cov(ε, η) = κ_l. Hence, with V_l = N·Var μ^l (V_0 = 0, V_{l+1} = a_l²V_l + σ_w⁴v_l)
/// and A(l, m) = a_l ⋯ a_{m−1}:
/// N·Cov(Q^l, Q^l) = V_l + 2(q^l)², N·Cov(Q^l, Q^m) = A(l, m)V_l + A(l + 1, m)σ_w²q^lκ_l for l &lt; m.
/// At the fixed point (q^l = q*, deep enough for V_l = V* = σ_w⁴v/(1 − a²)) the covariance is Toeplitz in depth,
/// C(k) = a^k V* + a^{k−1}σ_w²q*κ (k ≥ 1), so a Fourier transform over depth diagonalises it, with spectrum
/// S(ω) = σ_w⁴v/D(ω) + 2q*² + 2σ_w²q*κ(cos ω − a)/D(ω), D(ω) = 1 − 2a cos ω + a²; for a linear network
/// S(ω) = 2q*²/(1 − 2σ_w² cos ω + σ_w⁴), the propagator of a one-dimensional Gaussian lattice field of mass
/// (1 − a)²/a. The correlation length of the fluctuations is ξ_q = −1/ln a.
/// </remarks>
public static class LatticeGaussianTheory
{
    /// <summary>
    /// N·Cov(Q^l, Q^m) for l, m = 0..<paramref name="depth"/> (independent of N to this order) and the mean-field
    /// trajectory q^l, for layer-0 variance <paramref name="inputVariance"/>.
    /// </summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="inputVariance">q⁰, positive.</param>
    /// <param name="depth">L, positive.</param>
    public static LatticeCovariance NormCovariance(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double inputVariance, int depth)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        MeanField.CheckVariances(weightVariance, biasVariance);
        MeanField.CheckDepth(depth);
        if (!(inputVariance > 0) || !double.IsFinite(inputVariance))
            throw new ArgumentOutOfRangeException(nameof(inputVariance), inputVariance, "The layer-0 variance q⁰ must be positive and finite.");
        int m = depth + 1;
        var q = new double[m];
        var a = new double[m];
        var v = new double[m];
        var kappa = new double[m];
        q[0] = inputVariance;
        for (int l = 0; l < m; l++)
        {
            var f = GaussianExpectations.Fluctuations(nonlinearity, q[l]);
            a[l] = weightVariance * f.Slope;
            v[l] = f.SquareVariance;
            kappa[l] = f.CrossCovariance;
            if (l + 1 < m)
            {
                q[l + 1] = weightVariance * f.F + biasVariance;
                if (!double.IsFinite(q[l + 1]))
                    throw new ArgumentOutOfRangeException(nameof(depth), depth, $"The variance map diverges before layer {l + 1}.");
            }
        }
        var varMu = new double[m];
        for (int l = 0; l + 1 < m; l++)
            varMu[l + 1] = a[l] * a[l] * varMu[l] + weightVariance * weightVariance * v[l];
        var c = new double[m, m];
        for (int l = 0; l < m; l++)
        {
            c[l, l] = varMu[l] + 2 * q[l] * q[l];
            double prodFromL = 1;          // A(l, k)
            double prodFromL1 = 1;         // A(l + 1, k)
            for (int k = l + 1; k < m; k++)
            {
                prodFromL *= a[k - 1];
                if (k - 1 >= l + 1)
                    prodFromL1 *= a[k - 1];
                double value = prodFromL * varMu[l] + prodFromL1 * weightVariance * q[l] * kappa[l];
                c[l, k] = c[k, l] = value;
            }
        }
        return new LatticeCovariance(q, a, c);
    }

    /// <summary>N·C(k), the stationary covariance of Q at lag |k| at the fixed point q*.</summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="lag">Lag in layers.</param>
    /// <exception cref="ArgumentOutOfRangeException">No finite fixed point with slope below 1 (no stationary fluctuations).</exception>
    public static double StationaryCovariance(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, int lag)
    {
        var (q, a, v, kappa) = Stationary(nonlinearity, weightVariance, biasVariance);
        double sw2 = weightVariance;
        double vStar = sw2 * sw2 * v / (1 - a * a);
        int k = Math.Abs(lag);
        return k == 0 ? vStar + 2 * q * q : Math.Pow(a, k) * vStar + Math.Pow(a, k - 1) * sw2 * q * kappa;
    }

    /// <summary>N·S(ω), the spectrum over depth (the Fourier transform of N·C(k)) at the fixed point, ω in radians per layer.</summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="omega">Frequency in radians per layer.</param>
    public static double Spectrum(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double omega)
    {
        var (q, a, v, kappa) = Stationary(nonlinearity, weightVariance, biasVariance);
        double sw2 = weightVariance;
        double d = 1 - 2 * a * Math.Cos(omega) + a * a;
        return sw2 * sw2 * v / d + 2 * q * q + 2 * sw2 * q * kappa * (Math.Cos(omega) - a) / d;
    }

    /// <summary>
    /// The discrete Fourier transform over depth of the block [start, start + count) of a covariance matrix:
    /// Ĉ_jk = (1/M)Σ_{l,m} e^{−iω_j l} C_{lm} e^{iω_k m}, ω_j = 2πj/M. Returns the real and imaginary parts and the
    /// fraction of the squared Frobenius norm on the diagonal (1 for an exactly diagonalised matrix).
    /// </summary>
    /// <param name="covariance">A square matrix.</param>
    /// <param name="start">First layer of the block.</param>
    /// <param name="count">M, the block size (at least 2).</param>
    public static (double[,] Real, double[,] Imaginary, double DiagonalFraction) DepthFourier(double[,] covariance, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(covariance);
        int size = covariance.GetLength(0);
        if (covariance.GetLength(1) != size)
            throw new ArgumentOutOfRangeException(nameof(covariance), "The covariance must be square.");
        if (start < 0 || count < 2 || start + count > size)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"The block [{start}, {start + count}) must lie in [0, {size}) and hold at least 2 layers.");
        int mm = count;
        var cosT = new double[mm, mm];
        var sinT = new double[mm, mm];
        for (int j = 0; j < mm; j++)
        {
            for (int l = 0; l < mm; l++)
            {
                double w = 2 * Math.PI * ((long)j * l % mm) / mm;
                cosT[j, l] = Math.Cos(w);
                sinT[j, l] = Math.Sin(w);
            }
        }
        // T = C·e^{iω_k m}: T_lk = Σ_m C_lm (cos + i sin)(ω_k m).
        var tr = new double[mm, mm];
        var ti = new double[mm, mm];
        for (int l = 0; l < mm; l++)
        {
            for (int k = 0; k < mm; k++)
            {
                double sr = 0, si = 0;
                for (int m = 0; m < mm; m++)
                {
                    double c = covariance[start + l, start + m];
                    sr += c * cosT[k, m];
                    si += c * sinT[k, m];
                }
                tr[l, k] = sr;
                ti[l, k] = si;
            }
        }
        var re = new double[mm, mm];
        var im = new double[mm, mm];
        double diag = 0, total = 0;
        for (int j = 0; j < mm; j++)
        {
            for (int k = 0; k < mm; k++)
            {
                double sr = 0, si = 0;
                for (int l = 0; l < mm; l++)
                {
                    // (cos − i sin)(ω_j l) · (tr + i ti)
                    sr += cosT[j, l] * tr[l, k] + sinT[j, l] * ti[l, k];
                    si += cosT[j, l] * ti[l, k] - sinT[j, l] * tr[l, k];
                }
                re[j, k] = sr / mm;
                im[j, k] = si / mm;
                double e = re[j, k] * re[j, k] + im[j, k] * im[j, k];
                total += e;
                if (j == k)
                    diag += e;
            }
        }
        return (re, im, total > 0 ? diag / total : 1.0);
    }

    private static (double Q, double A, double V, double Kappa) Stationary(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        MeanField.CheckVariances(weightVariance, biasVariance);
        double q = MeanField.FixedPoint(nonlinearity, weightVariance, biasVariance);
        if (!double.IsFinite(q) || q <= 0)
            throw new ArgumentOutOfRangeException(nameof(weightVariance), weightVariance, $"No finite positive fixed point q* for σ_w² = {weightVariance}, σ_b² = {biasVariance}: the fluctuations are not stationary.");
        var f = GaussianExpectations.Fluctuations(nonlinearity, q);
        double a = weightVariance * f.Slope;
        if (!(a < 1))
            throw new ArgumentOutOfRangeException(nameof(weightVariance), weightVariance, $"The variance map's slope at q* is {a} ≥ 1: the fluctuations are not stationary.");
        return (q, a, f.SquareVariance, f.CrossCovariance);
    }
}

/// <summary>The Gaussian theory's prediction from <see cref="LatticeGaussianTheory.NormCovariance"/>.</summary>
/// <param name="Variance">Mean-field q^l, l = 0..L.</param>
/// <param name="Coupling">a_l = σ_w² F′(q^l): the nearest-layer coupling of the fluctuation field (χ_q at the fixed point).</param>
/// <param name="Covariance">N·Cov(‖z^l‖²/N, ‖z^m‖²/N), (L + 1) × (L + 1).</param>
public sealed record LatticeCovariance(double[] Variance, double[] Coupling, double[,] Covariance);
