using Components.Samplers.Sampling;

namespace Components.Samplers.Diagnostics;

/// <summary>
/// Convergence and efficiency diagnostics of parallel chains: the L2HMC paper's ESS (reference
/// <c>utils/func_utils.py</c>), the standard multi-chain ESS with Geyer's initial monotone sequence (as in Stan),
/// autocorrelation curves, split R̂, and ESS per gradient evaluation and per second.
/// </summary>
public static class McmcDiagnostics
{
    /// <summary>Default truncation threshold of the paper's ESS: lags with autocorrelation ≤ 0.05 are dropped.</summary>
    public const double PaperThreshold = 0.05;

    /// <summary>
    /// The paper's autocorrelation spectrum (reference <c>acl_spectrum</c>): the chains are divided by
    /// <paramref name="scale"/> and, without centring (the reference assumes a zero-mean target),
    /// <c>A_τ = 1/(n−τ) Σ_t 1/m Σ_{chains, dims} x_t x_{t+τ}</c> for τ = 0..n−2.
    /// </summary>
    /// <param name="trace">Chains.</param>
    /// <param name="scale">Scale; the reference uses <c>√trace Σ</c> so that A₀ ≈ 1.</param>
    public static double[] PaperAutocorrelation(ChainTrace trace, double scale)
    {
        ArgumentNullException.ThrowIfNull(trace);
        if (!(scale > 0) || double.IsInfinity(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale must be positive and finite.");
        int n = trace.Steps;
        if (n < 2)
            throw new ArgumentOutOfRangeException(nameof(trace), "At least two recorded steps are needed.");
        int count = trace.Chains * trace.Dimension;
        var series = new double[(long)count * n];
        for (int c = 0; c < trace.Chains; c++)
        {
            for (int j = 0; j < trace.Dimension; j++)
            {
                long row = ((long)c * trace.Dimension + j) * n;
                for (int t = 0; t < n; t++)
                    series[row + t] = trace[t, c, j] / scale;
            }
        }
        var products = Fft.LaggedProducts(series, count, n);
        var sum = new double[n];
        for (int s = 0; s < count; s++)
        {
            for (int t = 0; t < n; t++)
                sum[t] += products[(long)s * n + t];
        }
        var a = new double[n - 1];
        for (int tau = 0; tau < n - 1; tau++)
            a[tau] = sum[tau] / trace.Chains / (n - tau);
        return a;
    }

    /// <summary>
    /// The paper's ESS from an autocorrelation spectrum (reference <c>ESS</c>): values ≤ <paramref name="threshold"/>
    /// are zeroed, then <c>ESS = 1 / (1 + 2 Σ_{τ≥1} A_τ)</c>, a fraction of the number of steps.
    /// </summary>
    public static double PaperEss(IReadOnlyList<double> autocorrelation, double threshold = PaperThreshold)
    {
        ArgumentNullException.ThrowIfNull(autocorrelation);
        double s = 0;
        for (int t = 1; t < autocorrelation.Count; t++)
        {
            if (autocorrelation[t] > threshold)
                s += autocorrelation[t];
        }
        return 1 / (1 + 2 * s);
    }

    /// <summary>
    /// The paper's ESS of a trace; <paramref name="scale"/> defaults to the root mean square norm of the recorded
    /// states (equal to √trace Σ for a zero-mean target), which makes A₀ = 1.
    /// </summary>
    public static double PaperEss(ChainTrace trace, double? scale = null)
        => PaperEss(PaperAutocorrelation(trace, scale ?? RootMeanSquare(trace)));

    /// <summary>Root mean square norm of the recorded states, <c>√(mean |x|²)</c>.</summary>
    public static double RootMeanSquare(ChainTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        double s = 0;
        foreach (var v in trace.Samples)
            s += (double)v * v;
        return Math.Sqrt(s / ((double)trace.Steps * trace.Chains));
    }

    /// <summary>
    /// Per-chain autocovariances (centred on the chain mean, divided by n) for lags 0..n−1.
    /// </summary>
    private static double[][] ChainAutocovariances(double[][] chains, out double[] means)
    {
        int m = chains.Length, n = chains[0].Length;
        means = new double[m];
        var centred = new double[(long)m * n];
        for (int c = 0; c < m; c++)
        {
            var x = chains[c];
            double mean = x.Average();
            means[c] = mean;
            for (int t = 0; t < n; t++)
                centred[(long)c * n + t] = x[t] - mean;
        }
        var products = Fft.LaggedProducts(centred, m, n);
        var acov = new double[m][];
        for (int c = 0; c < m; c++)
        {
            var r = new double[n];
            for (int t = 0; t < n; t++)
                r[t] = products[(long)c * n + t] / n;
            acov[c] = r;
        }
        return acov;
    }

    private static void CheckChains(double[][] chains, int minDraws)
    {
        ArgumentNullException.ThrowIfNull(chains);
        if (chains.Length == 0 || chains.Any(c => c is null))
            throw new ArgumentOutOfRangeException(nameof(chains), "At least one chain is needed.");
        int n = chains[0].Length;
        if (n < minDraws || chains.Any(c => c.Length != n))
            throw new ArgumentOutOfRangeException(nameof(chains), $"All chains must have the same length, at least {minDraws} draws.");
        if (chains.Any(c => c.Any(v => !double.IsFinite(v))))
            throw new ArgumentOutOfRangeException(nameof(chains), "Chains must be finite.");
    }

    /// <summary>
    /// Multi-chain autocorrelation of one scalar quantity (Stan): <c>ρ_τ = 1 − (W − mean_c acov_c(τ)) / var⁺</c>
    /// with W the mean within-chain variance and var⁺ the pooled variance estimate.
    /// </summary>
    /// <param name="chains">Draws, <c>[chain][draw]</c>.</param>
    /// <param name="maxLag">Largest lag (default n − 1).</param>
    public static double[] Autocorrelation(double[][] chains, int? maxLag = null)
    {
        CheckChains(chains, 2);
        var (rho, _, _) = Rho(chains);
        int lags = Math.Min(rho.Length - 1, maxLag ?? rho.Length - 1);
        return rho.Take(lags + 1).ToArray();
    }

    private static (double[] Rho, double MeanVar, double VarPlus) Rho(double[][] chains)
    {
        int m = chains.Length, n = chains[0].Length;
        var acov = ChainAutocovariances(chains, out var means);
        double meanVar = acov.Average(a => a[0] * n / (n - 1.0));
        double varPlus = meanVar * (n - 1.0) / n;
        if (m > 1)
        {
            double grand = means.Average();
            varPlus += means.Sum(mu => (mu - grand) * (mu - grand)) / (m - 1);
        }
        var rho = new double[n];
        for (int t = 0; t < n; t++)
        {
            double acovT = 0;
            for (int c = 0; c < m; c++)
                acovT += acov[c][t];
            acovT /= m;
            rho[t] = varPlus > 0 ? 1 - (meanVar - acovT) / varPlus : (t == 0 ? 1 : 0);
        }
        rho[0] = 1;
        return (rho, meanVar, varPlus);
    }

    /// <summary>
    /// Effective sample size of one scalar quantity over all chains, as Stan computes it (without rank
    /// normalisation): multi-chain autocorrelations, Geyer's initial positive sequence turned into an initial
    /// monotone sequence, <c>τ̂ = −1 + 2 Σ ρ̂ + ρ̂_last</c>, <c>ESS = m n / max(τ̂, 1/log₁₀(m n))</c>.
    /// </summary>
    /// <param name="chains">Draws, <c>[chain][draw]</c>, at least 4 per chain.</param>
    public static double EffectiveSampleSize(double[][] chains)
    {
        CheckChains(chains, 4);
        int m = chains.Length, n = chains[0].Length;
        var (rhoAll, meanVar, varPlus) = Rho(chains);
        if (!(varPlus > 0) || !(meanVar > 0))
            return double.NaN;
        var rho = new double[n + 1];
        rho[0] = 1;
        double even = 1, odd = rhoAll[1];
        rho[1] = odd;
        int s = 1;
        while (s < n - 4 && even + odd > 0)
        {
            even = rhoAll[s + 1];
            odd = rhoAll[s + 2];
            if (even + odd >= 0)
            {
                rho[s + 1] = even;
                rho[s + 2] = odd;
            }
            s += 2;
        }
        int maxS = s;
        if (even > 0)
            rho[maxS + 1] = even;
        for (int k = 1; k <= maxS - 3; k += 2)
        {
            if (rho[k + 1] + rho[k + 2] > rho[k - 1] + rho[k])
            {
                rho[k + 1] = (rho[k - 1] + rho[k]) / 2;
                rho[k + 2] = rho[k + 1];
            }
        }
        double total = (double)m * n;
        double sum = 0;
        for (int k = 0; k < maxS; k++)
            sum += rho[k];
        double tau = -1 + 2 * sum + rho[maxS + 1];
        // Antithetic chains can make τ̂ tiny or negative: cap ESS at m n log₁₀(m n) (as Stan and ArviZ do).
        tau = Math.Max(tau, 1 / Math.Log10(total));
        return total / tau;
    }

    /// <summary>Standard ESS (<see cref="EffectiveSampleSize(double[][])"/>) of every coordinate of a trace.</summary>
    public static double[] EffectiveSampleSize(ChainTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        return Enumerable.Range(0, trace.Dimension).Select(j => EffectiveSampleSize(trace.Coordinate(j))).ToArray();
    }

    /// <summary>
    /// Split R̂ of one scalar quantity (Gelman et al.; Stan): each chain is split in halves, then
    /// <c>R̂ = √(((n−1)/n W + B/n) / W)</c> over the 2m half-chains of n draws.
    /// </summary>
    /// <param name="chains">Draws, <c>[chain][draw]</c>, at least 4 per chain.</param>
    public static double SplitRHat(double[][] chains)
    {
        CheckChains(chains, 4);
        int half = chains[0].Length / 2;
        int offset = chains[0].Length - half;   // drop the middle draw of odd-length chains
        var halves = chains.SelectMany(c => new[] { c.Take(half).ToArray(), c.Skip(offset).ToArray() }).ToArray();
        int m = halves.Length, n = half;
        var means = halves.Select(h => h.Average()).ToArray();
        var vars = halves.Select((h, i) => h.Sum(v => (v - means[i]) * (v - means[i])) / (n - 1)).ToArray();
        double grand = means.Average();
        double b = n * means.Sum(mu => (mu - grand) * (mu - grand)) / (m - 1);
        double w = vars.Average();
        if (!(w > 0))
            return double.NaN;
        double varPlus = (n - 1.0) / n * w + b / n;
        return Math.Sqrt(varPlus / w);
    }

    /// <summary>Split R̂ of every coordinate of a trace.</summary>
    public static double[] SplitRHat(ChainTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        return Enumerable.Range(0, trace.Dimension).Select(j => SplitRHat(trace.Coordinate(j))).ToArray();
    }

    /// <summary>
    /// All diagnostics of a trace. ESS per gradient evaluation divides by the gradient evaluations of all chains
    /// (paper ESS: per chain, since it is a fraction of the steps).
    /// </summary>
    /// <param name="trace">Chains.</param>
    /// <param name="scale">Scale of the paper's ESS (√trace Σ when known); default <see cref="RootMeanSquare"/>.</param>
    public static DiagnosticsSummary Summarize(ChainTrace trace, double? scale = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        double paper = PaperEss(trace, scale);
        var ess = EffectiveSampleSize(trace);
        var rhat = SplitRHat(trace);
        double gradsPerStep = (double)trace.GradientEvaluations / trace.Steps;
        double totalGrads = (double)trace.GradientEvaluations * trace.Chains;
        double minEss = ess.Min();
        double seconds = trace.Elapsed.TotalSeconds;
        return new DiagnosticsSummary(
            PaperEss: paper,
            PaperEssPerGradient: gradsPerStep > 0 ? paper / gradsPerStep : double.NaN,
            MinEss: minEss,
            MeanEss: ess.Average(),
            MinEssPerGradient: totalGrads > 0 ? minEss / totalGrads : double.NaN,
            MinEssPerSecond: seconds > 0 ? minEss / seconds : double.NaN,
            MaxSplitRHat: rhat.Max(),
            AcceptanceRate: trace.AcceptanceRate,
            MeanAcceptanceProbability: trace.MeanAcceptanceProbability,
            GradientEvaluations: trace.GradientEvaluations,
            Elapsed: trace.Elapsed);
    }
}

/// <summary>Diagnostics of a <see cref="ChainTrace"/> (see <see cref="McmcDiagnostics.Summarize"/>).</summary>
/// <param name="PaperEss">The paper's ESS: a fraction of the recorded steps (per chain).</param>
/// <param name="PaperEssPerGradient">The paper's ESS per gradient evaluation of one chain.</param>
/// <param name="MinEss">Smallest standard ESS over coordinates (all chains together).</param>
/// <param name="MeanEss">Mean standard ESS over coordinates.</param>
/// <param name="MinEssPerGradient">Smallest standard ESS per gradient evaluation (all chains).</param>
/// <param name="MinEssPerSecond">Smallest standard ESS per second of sampling.</param>
/// <param name="MaxSplitRHat">Largest split R̂ over coordinates (≈ 1 when the chains agree).</param>
/// <param name="AcceptanceRate">Fraction of accepted proposals.</param>
/// <param name="MeanAcceptanceProbability">Mean Metropolis–Hastings acceptance probability.</param>
/// <param name="GradientEvaluations">Gradient evaluations per chain over the recorded steps.</param>
/// <param name="Elapsed">Sampling time of the recorded steps.</param>
public sealed record DiagnosticsSummary(double PaperEss, double PaperEssPerGradient, double MinEss, double MeanEss,
    double MinEssPerGradient, double MinEssPerSecond, double MaxSplitRHat, double AcceptanceRate, double MeanAcceptanceProbability,
    long GradientEvaluations, TimeSpan Elapsed);
