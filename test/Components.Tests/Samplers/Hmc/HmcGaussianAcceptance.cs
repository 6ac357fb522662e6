namespace Components.Tests.Samplers.Hmc;

/// <summary>
/// The exact mean acceptance probability of leapfrog HMC (unit mass, full momentum refresh) at stationarity on an
/// isotropic Gaussian N(0, σ²I_d), as a function of the step size ε and the number of leapfrog steps L.
/// </summary>
/// <remarks>
/// Derivation. Coordinates are independent. In one coordinate write q = x/σ, p = v and h = ε/σ; then
/// H = (q² + p²)/2 and one leapfrog step (half kick, drift, half kick) is the linear map
/// <code>
///   M_h = [[1 − h²/2, h], [−h(1 − h²/4), 1 − h²/2]],   det M_h = 1.
/// </code>
/// For 0 &lt; h &lt; 2 let cos θ = 1 − h²/2 and c = √(1 − h²/4), so sin θ = h·c. With S = diag(1, c),
/// M_h = S·R(θ)·S⁻¹ for the rotation R(θ), hence P = M_h^L = S·R(Lθ)·S⁻¹. At stationarity z = (q, p) ~ N(0, I₂)
/// and ΔH = ½ zᵀ(PᵀP − I)z. PᵀP is symmetric with det 1, so its eigenvalues are μ and 1/μ (μ ≥ 1) with
/// <code>
///   μ + 1/μ = ‖P‖²_F = 2 + sin²(Lθ)·(c − 1/c)².
/// </code>
/// Rotating z onto the eigenvectors, ΔH = a·w₁² − b·w₂² with a = (μ − 1)/2, b = (1 − 1/μ)/2 and w ~ N(0, I₂);
/// summed over the d coordinates (all with the same μ), ΔH = a·X − b·Y with X, Y independent χ²_d.
/// The acceptance rate is α = E[min(1, e^(−ΔH))]. Given X = x, with t = a·x/b = μ·x,
/// <code>
///   E_Y[min(1, e^(−ax + bY))] = P(Y ≥ μx) + e^(−ax)·E[e^(bY); Y &lt; μx],
/// </code>
/// and since 1 − 2b = 1/μ, e^(by)·f_d(y) = μ^(d/2)·f_d(y/μ)/μ, so E[e^(bY); Y &lt; μx] = μ^(d/2)·F_d(x). Therefore
/// <code>
///   α(ε, L) = ∫₀^∞ f_d(x)·[1 − F_d(μx) + μ^(d/2)·e^(−(μ−1)x/2)·F_d(x)] dx,
/// </code>
/// with f_d, F_d the χ²_d density and distribution function (closed form for even d); a 1-d integral, evaluated here
/// with Simpson's rule. For L = 1, sin²(θ)(c − 1/c)² = h⁶/16 grows with h, so α decreases monotonically on
/// 0 &lt; ε &lt; 2σ; for L &gt; 1, sin²(Lθ) makes α oscillate (resonances: α = 1 where Lθ is a multiple of π),
/// and it is monotone only up to the first resonance peak. Checked against a direct simulation of the leapfrog
/// map: α(1.0, L = 1, d = 10) = 0.7009 (simulation 0.703 ± 0.002), α(0.5, L = 3, d = 20) = 0.8868 (0.8867).
/// </remarks>
internal static class HmcGaussianAcceptance
{
    /// <summary>μ ≥ 1: the larger eigenvalue of PᵀP for the L-step leapfrog map at h = ε/σ (h &lt; 2).</summary>
    public static double Mu(double eps, int leapfrogSteps, double sigma = 1)
    {
        double h = eps / sigma;
        if (!(h > 0 && h < 2))
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "Leapfrog on a Gaussian is stable only for ε < 2σ.");
        double c = Math.Sqrt(1 - h * h / 4), theta = Math.Acos(1 - h * h / 2);
        double s = Math.Sin(leapfrogSteps * theta) * (c - 1 / c);
        double f = 2 + s * s;
        return (f + Math.Sqrt(f * f - 4)) / 2;
    }

    /// <summary>Mean acceptance probability α(ε, L) on N(0, σ²I_d), d even.</summary>
    public static double Rate(double eps, int leapfrogSteps, int dimension, double sigma = 1)
    {
        if (dimension < 2 || dimension % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The closed-form χ² CDF here needs an even dimension.");
        double mu = Mu(eps, leapfrogSteps, sigma);
        double scale = Math.Pow(mu, dimension / 2.0);
        const int Intervals = 4000;
        double upper = 40.0 * dimension, step = upper / Intervals, sum = 0;
        for (int i = 0; i <= Intervals; i++)
        {
            double x = i * step;
            double weight = i == 0 || i == Intervals ? 1 : i % 2 == 1 ? 4 : 2;
            double inner = 1 - ChiSquareCdf(dimension, mu * x) + scale * Math.Exp(-(mu - 1) * x / 2) * ChiSquareCdf(dimension, x);
            sum += weight * ChiSquareDensity(dimension, x) * inner;
        }
        return sum * step / 3;
    }

    /// <summary>
    /// The ε in (<paramref name="low"/>, <paramref name="high"/>) where α(ε) equals <paramref name="target"/>, by
    /// bisection; α must decrease on the interval (checked on a grid).
    /// </summary>
    public static double StepSizeFor(double target, int leapfrogSteps, int dimension, double sigma, double low, double high)
    {
        double previous = double.PositiveInfinity;
        for (int i = 0; i <= 40; i++)
        {
            double a = Rate(low + (high - low) * i / 40, leapfrogSteps, dimension, sigma);
            if (a > previous + 1e-9)
                throw new InvalidOperationException($"α(ε) is not monotone on ({low}, {high}).");
            previous = a;
        }
        if (!(Rate(low, leapfrogSteps, dimension, sigma) > target && Rate(high, leapfrogSteps, dimension, sigma) < target))
            throw new InvalidOperationException($"The target {target} is not bracketed by ({low}, {high}).");
        for (int i = 0; i < 50; i++)
        {
            double mid = (low + high) / 2;
            if (Rate(mid, leapfrogSteps, dimension, sigma) > target)
                low = mid;
            else
                high = mid;
        }
        return (low + high) / 2;
    }

    /// <summary>χ²_d distribution function for even d: 1 − e^(−t/2)·Σ_{j&lt;d/2} (t/2)^j / j!.</summary>
    private static double ChiSquareCdf(int d, double t)
    {
        if (t <= 0)
            return 0;
        double term = 1, s = 1;
        for (int j = 1; j < d / 2; j++)
        {
            term *= t / 2 / j;
            s += term;
        }
        return Math.Max(0, 1 - Math.Exp(-t / 2) * s);
    }

    /// <summary>χ²_d density for even d: x^(d/2 − 1)·e^(−x/2) / (2^(d/2)·(d/2 − 1)!).</summary>
    private static double ChiSquareDensity(int d, double x)
    {
        int k = d / 2;
        if (x <= 0)
            return k == 1 ? 0.5 : 0;
        double logF = (k - 1) * Math.Log(x) - x / 2 - k * Math.Log(2);
        for (int j = 2; j < k; j++)
            logF -= Math.Log(j);
        return Math.Exp(logF);
    }
}
