using Components.Transforms.Sensitivity;

namespace Components.Tests.Transforms.Sensitivity;

/// <summary><see cref="RankStatistics"/>: mid-ranks, Spearman against closed forms, AUROC against a pair count, the bootstrap interval.</summary>
public sealed class RankStatisticsTests
{
    [Fact]
    public void TiedValuesShareTheirMeanRank()
    {
        Assert.Equal([3, 1.5, 4, 1.5, 5], RankStatistics.Ranks([3, 1, 4, 1, 5]));
        Assert.Equal([2, 2, 2], RankStatistics.Ranks([7, 7, 7]));
    }

    [Fact]
    public void SpearmanWithoutTiesIsTheClosedForm()
    {
        // ρ = 1 − 6 Σ d² / (n (n² − 1)) for distinct values.
        var rng = new Random(3);
        const int n = 30;
        double[] x = Enumerable.Range(0, n).Select(_ => rng.NextDouble()).ToArray();
        double[] y = x.Select(v => v + 0.5 * rng.NextDouble()).ToArray();
        var rx = RankStatistics.Ranks(x);
        var ry = RankStatistics.Ranks(y);
        double d2 = Enumerable.Range(0, n).Sum(i => (rx[i] - ry[i]) * (rx[i] - ry[i]));
        Assert.Equal(1 - 6 * d2 / (n * (n * n - 1.0)), RankStatistics.Spearman(x, y), 12);
        Assert.Equal(1.0, RankStatistics.Spearman(x, x.Select(Math.Exp).ToArray()), 12); // invariant to monotone maps
        Assert.Equal(-1.0, RankStatistics.Spearman(x, x.Select(v => -v * v * v).ToArray()), 12);
    }

    [Fact]
    public void SpearmanWithTiesIsPearsonOfTheMidRanks()
    {
        // x ranks [1, 2.5, 2.5, 4], y ranks [1, 3, 2, 4]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5, ρ = 4.5/√22.5.
        Assert.Equal(4.5 / Math.Sqrt(22.5), RankStatistics.Spearman([1, 2, 2, 3], [10, 30, 20, 40]), 12);
        Assert.True(double.IsNaN(RankStatistics.Spearman([1, 1, 1], [1, 2, 3])));
    }

    [Fact]
    public void AurocIsTheFractionOfCorrectlyOrderedPairs()
    {
        var rng = new Random(5);
        const int n = 200;
        double[] score = Enumerable.Range(0, n).Select(_ => (double)rng.Next(20)).ToArray(); // many ties
        bool[] positive = score.Select(s => rng.NextDouble() < 0.2 + s / 40).ToArray();
        double pairs = 0, wins = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                if (!positive[i] || positive[j])
                    continue;
                pairs++;
                wins += score[i] > score[j] ? 1 : score[i] == score[j] ? 0.5 : 0;
            }
        }
        Assert.Equal(wins / pairs, RankStatistics.Auroc(score, positive), 12);
        Assert.Equal(1.0, RankStatistics.Auroc([1, 2, 3, 4], [false, false, true, true]));
        Assert.Equal(0.0, RankStatistics.Auroc([1, 2, 3, 4], [true, true, false, false]));
        Assert.Equal(0.5, RankStatistics.Auroc([2, 2, 2, 2], [true, false, true, false]));
    }

    [Fact]
    public void BootstrapIntervalCoversThePopulationSpearman()
    {
        // Bivariate normal with correlation r: Spearman's ρ is (6/π) asin(r/2).
        var rng = new Random(11);
        const int n = 300;
        const double r = 0.6;
        var x = new double[n];
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double u = Gaussian(rng), v = Gaussian(rng);
            x[i] = u;
            y[i] = r * u + Math.Sqrt(1 - r * r) * v;
        }
        double population = 6 / Math.PI * Math.Asin(r / 2);
        var (lower, upper) = RankStatistics.SpearmanBootstrap(x, y, resamples: 1000, seed: 2);
        double rho = RankStatistics.Spearman(x, y);
        Assert.InRange(rho, lower, upper);
        Assert.InRange(population, lower, upper);
        Assert.InRange(upper - lower, 0.05, 0.3); // about 4 standard errors of ρ, (1 − ρ²)/√n ≈ 0.039 each
        Assert.Equal((lower, upper), RankStatistics.SpearmanBootstrap(x, y, resamples: 1000, seed: 2)); // seeded
        Assert.Equal((1.0, 1.0), RankStatistics.SpearmanBootstrap([1, 2, 3, 4, 5], [2, 4, 6, 8, 10], resamples: 50));
    }

    [Fact]
    public void BadInputsFailClearly()
    {
        Assert.Throws<ArgumentException>(() => RankStatistics.Ranks([1, double.NaN]));
        Assert.Throws<ArgumentException>(() => RankStatistics.Spearman([1, 2], [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => RankStatistics.Spearman([1], [1]));
        Assert.Contains("positive", Assert.Throws<ArgumentException>(() => RankStatistics.Auroc([1, 2], [false, false])).Message);
        Assert.Throws<ArgumentException>(() => RankStatistics.Auroc([1, 2], [true]));
        Assert.Throws<ArgumentOutOfRangeException>(() => RankStatistics.SpearmanBootstrap([1, 2, 3], [1, 2, 3], resamples: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RankStatistics.SpearmanBootstrap([1, 2, 3], [1, 2, 3], level: 1));
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
