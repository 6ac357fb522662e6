using Components.Samplers.Diagnostics;
using Components.Samplers.Sampling;

namespace Components.Tests.Samplers.Hmc;

/// <summary>ESS, autocorrelation and R̂ against AR(1) processes with known answers.</summary>
public sealed class HmcDiagnosticsTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(-0.3)]
    public void HmcStandardEssMatchesAr1(double rho)
    {
        var chains = HmcTestUtil.Ar1(4, 20000, rho, seed: 17);
        double expected = 4 * 20000 * (1 - rho) / (1 + rho);
        double ess = McmcDiagnostics.EffectiveSampleSize(chains);
        Assert.True(Math.Abs(ess / expected - 1) < 0.12, $"ρ = {rho}: ESS {ess:F0}, expected {expected:F0}.");
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.97)]
    public void HmcPaperEssMatchesTruncatedAr1(double rho)
    {
        // The paper's ESS zeroes autocorrelations ≤ 0.05: for AR(1), 1/(1 + 2 Σ_{τ≥1, ρ^τ > 0.05} ρ^τ). Its spectrum runs
        // to lag n − 2, where few products remain and noise crosses 0.05 (a bias of the reference definition), so the
        // closed form is checked on the well-estimated lags.
        var series = HmcTestUtil.Ar1(50, 2000, rho, seed: 3);
        var trace = ToTrace(series);
        double s = 0;
        for (double a = rho; a > 0.05; a *= rho)
            s += a;
        double expected = 1 / (1 + 2 * s);
        var acl = McmcDiagnostics.PaperAutocorrelation(trace, 1.0);
        Assert.Equal(1999, acl.Length);
        double paper = McmcDiagnostics.PaperEss(acl.Take(500).ToArray());
        Assert.True(Math.Abs(paper / expected - 1) < 0.1, $"ρ = {rho}: paper ESS {paper:G4}, expected {expected:G4}.");
        for (int t = 0; t < 5; t++)
            Assert.True(Math.Abs(acl[t] - Math.Pow(rho, t)) < 0.03, $"A_{t} = {acl[t]:F3}, ρ^t = {Math.Pow(rho, t):F3}.");
        // The full-length estimate can only be lower (extra noisy lags above the threshold are added).
        Assert.True(McmcDiagnostics.PaperEss(trace, 1.0) <= paper + 1e-12);
    }

    [Fact]
    public void HmcPaperAutocorrelationEqualsReferenceLoop()
    {
        // Independent O(n²) transcription of the reference autocovariance/acl_spectrum (utils/func_utils.py).
        var trace = ToTrace(HmcTestUtil.Ar1(3, 60, 0.7, seed: 8));
        const double scale = 1.7;
        var acl = McmcDiagnostics.PaperAutocorrelation(trace, scale);
        for (int tau = 0; tau < trace.Steps - 1; tau++)
        {
            double s = 0;
            for (int t = 0; t < trace.Steps - tau; t++)
            {
                double inner = 0;
                for (int c = 0; c < trace.Chains; c++)
                    inner += trace[t, c, 0] / scale * (trace[t + tau, c, 0] / scale);
                s += inner / trace.Chains;
            }
            Assert.Equal(s / (trace.Steps - tau), acl[tau], 9);
        }
        double expected = 1 / (1 + 2 * acl.Skip(1).Where(a => a > 0.05).Sum());
        Assert.Equal(expected, McmcDiagnostics.PaperEss(trace, scale), 12);
    }

    [Fact]
    public void HmcAutocorrelationCurveIsGeometricForAr1()
    {
        var chains = HmcTestUtil.Ar1(4, 20000, 0.8, seed: 5);
        var rho = McmcDiagnostics.Autocorrelation(chains, 6);
        Assert.Equal(7, rho.Length);
        for (int t = 0; t <= 6; t++)
            Assert.True(Math.Abs(rho[t] - Math.Pow(0.8, t)) < 0.03, $"ρ_{t} = {rho[t]:F3}.");
    }

    [Fact]
    public void HmcSplitRHatSeparatesMixedFromStuckChains()
    {
        Assert.InRange(McmcDiagnostics.SplitRHat(HmcTestUtil.Ar1(4, 4000, 0.5, seed: 1)), 0.99, 1.01);
        Assert.True(McmcDiagnostics.SplitRHat(HmcTestUtil.Ar1(4, 4000, 0.5, seed: 1, offsetPerChain: 1)) > 1.3);
        // A trend inside each chain (non-stationary) is caught by the split.
        var trend = HmcTestUtil.Ar1(4, 4000, 0.5, seed: 2).Select(c => c.Select((v, t) => v + 3.0 * t / c.Length).ToArray()).ToArray();
        Assert.True(McmcDiagnostics.SplitRHat(trend) > 1.1);
    }

    [Fact]
    public void HmcSummaryCountsGradientsAndTime()
    {
        var trace = new ChainTrace(1000, 3, 1, ToTrace(HmcTestUtil.Ar1(3, 1000, 0.5, 4)).Samples.ToArray(),
            Enumerable.Repeat(0.8, 1000).ToArray(), Enumerable.Repeat(0.75, 1000).ToArray(), gradientEvaluations: 10000, TimeSpan.FromSeconds(2));
        var s = McmcDiagnostics.Summarize(trace, scale: 1);
        Assert.Equal(s.PaperEss / 10, s.PaperEssPerGradient, 12);
        Assert.Equal(s.MinEss / (3 * 10000.0), s.MinEssPerGradient, 12);
        Assert.Equal(s.MinEss / 2, s.MinEssPerSecond, 9);
        Assert.Equal(0.75, s.AcceptanceRate, 12);
        Assert.InRange(s.MinEss, 3000 * 0.25, 3000 * 0.42);   // AR(1) ρ = 0.5: 1/3 of the draws
    }

    [Fact]
    public void HmcDiagnosticsRejectBadInput()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => McmcDiagnostics.EffectiveSampleSize([[1, 2, 3, 4], [1, 2, 3]]));
        Assert.Throws<ArgumentOutOfRangeException>(() => McmcDiagnostics.EffectiveSampleSize([[1, double.NaN, 3, 4]]));
        Assert.Throws<ArgumentOutOfRangeException>(() => McmcDiagnostics.SplitRHat([[1, 2]]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ChainTrace(2, 2, 2, new float[7], [], [], 0, TimeSpan.Zero));
    }

    /// <summary>[chain][draw] of a scalar → a trace of dimension 1.</summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 3)]
    [InlineData(3, 7)]
    [InlineData(64, 2)]
    [InlineData(100, 5)]
    [InlineData(3000, 400)]   // several blocks of rows
    public void HmcFftLaggedProductsEqualTheDirectSums(int n, int count)
    {
        // torch.fft (float64) against the O(n²) definition r[τ] = Σ_t x_t x_{t+τ}, series by series.
        var rng = new Random(n * 31 + count);
        var x = new double[n * count];
        for (int i = 0; i < x.Length; i++)
            x[i] = rng.NextDouble() * 4 - 1.5;
        var r = Fft.LaggedProducts(x, count, n);
        Assert.Equal(x.Length, r.Length);
        for (int s = 0; s < count; s += Math.Max(1, count / 7))
        {
            var one = Fft.LaggedProducts(x.AsSpan(s * n, n));
            for (int tau = 0; tau < n; tau += Math.Max(1, n / 50))
            {
                double direct = 0, magnitude = 0;
                for (int t = 0; t + tau < n; t++)
                {
                    direct += x[s * n + t] * x[s * n + t + tau];
                    magnitude += Math.Abs(x[s * n + t] * x[s * n + t + tau]);
                }
                Assert.True(Math.Abs(r[s * n + tau] - direct) <= 1e-12 * (magnitude + 1), $"series {s}, lag {tau}: {r[s * n + tau]} vs {direct}.");
                Assert.True(Math.Abs(r[s * n + tau] - one[tau]) <= 1e-12 * (magnitude + 1), "batched and single-series products differ");
            }
        }
    }

    private static ChainTrace ToTrace(double[][] chains)
    {
        int m = chains.Length, n = chains[0].Length;
        var samples = new float[m * n];
        for (int t = 0; t < n; t++)
        {
            for (int c = 0; c < m; c++)
                samples[t * m + c] = (float)chains[c][t];
        }
        return new ChainTrace(n, m, 1, samples, [], [], n, TimeSpan.Zero);
    }
}
