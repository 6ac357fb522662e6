namespace Components.Transforms.Sensitivity;

/// <summary>
/// The rank statistics of the sensitivity study (Novak et al., ICLR 2018): Spearman's rank correlation with tied values
/// given their mean rank, a percentile bootstrap interval for it, and the AUROC of a score as a predictor of a binary
/// outcome (the Mann–Whitney U statistic over n₁n₂, ties counting one half). All exact, in double precision.
/// </summary>
public static class RankStatistics
{
    /// <summary>Ranks 1 … n of <paramref name="values"/>, tied values sharing the mean of their ranks.</summary>
    /// <exception cref="ArgumentException">A value is NaN.</exception>
    public static double[] Ranks(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int n = values.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            if (double.IsNaN(values[i]))
                throw new ArgumentException($"Value {i} is NaN; ranks need ordered values.", nameof(values));
            order[i] = i;
        }
        Array.Sort(order, (a, b) => values[a].CompareTo(values[b]));
        var ranks = new double[n];
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && values[order[end]] == values[order[start]])
                end++;
            double mean = (start + 1 + end) / 2.0; // mean of ranks start+1 … end
            for (int j = start; j < end; j++)
                ranks[order[j]] = mean;
            start = end;
        }
        return ranks;
    }

    /// <summary>
    /// Spearman's ρ: the Pearson correlation of the (mid-)ranks of <paramref name="x"/> and <paramref name="y"/>; NaN
    /// when either has all values equal.
    /// </summary>
    /// <exception cref="ArgumentException">Different lengths, fewer than 2 pairs, or a NaN value.</exception>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count)
            throw new ArgumentException($"x has {x.Count} values and y {y.Count}; a rank correlation needs pairs.", nameof(y));
        if (x.Count < 2)
            throw new ArgumentException("A rank correlation needs at least 2 pairs.", nameof(x));
        return Pearson(Ranks(x), Ranks(y));
    }

    /// <summary>Pearson's correlation of two equally long samples (NaN when either is constant).</summary>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count)
            throw new ArgumentException($"x has {x.Count} values and y {y.Count}.", nameof(y));
        int n = x.Count;
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++)
        {
            mx += x[i];
            my += y[i];
        }
        mx /= n;
        my /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>
    /// Percentile bootstrap interval of Spearman's ρ: <paramref name="resamples"/> resamples of the pairs with
    /// replacement (from a <see cref="Random"/> seeded with <paramref name="seed"/>); resamples whose ρ is undefined
    /// (a constant resample) are skipped. Returns the (1 − level)/2 and (1 + level)/2 quantiles.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 1 resample or a level outside (0, 1).</exception>
    public static (double Lower, double Upper) SpearmanBootstrap(IReadOnlyList<double> x, IReadOnlyList<double> y, int resamples = 2000, double level = 0.95, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(resamples);
        if (!(level > 0 && level < 1))
            throw new ArgumentOutOfRangeException(nameof(level), level, "The confidence level must lie in (0, 1).");
        Spearman(x, y); // validates
        int n = x.Count;
        var rng = new Random(seed);
        var rhos = new List<double>(resamples);
        var xs = new double[n];
        var ys = new double[n];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < n; i++)
            {
                int j = rng.Next(n);
                xs[i] = x[j];
                ys[i] = y[j];
            }
            double rho = Pearson(Ranks(xs), Ranks(ys));
            if (!double.IsNaN(rho))
                rhos.Add(rho);
        }
        if (rhos.Count == 0)
            return (double.NaN, double.NaN);
        rhos.Sort();
        return (Quantile(rhos, (1 - level) / 2), Quantile(rhos, (1 + level) / 2));
    }

    /// <summary>Linear-interpolation quantile (type 7) of sorted values.</summary>
    internal static double Quantile(IReadOnlyList<double> sorted, double q)
    {
        double h = (sorted.Count - 1) * q;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    /// <summary>
    /// AUROC of <paramref name="score"/> as a predictor of <paramref name="positive"/>: the probability that a random
    /// positive scores higher than a random negative, ties counting one half (Mann–Whitney U / (n₁n₂), from mid-ranks).
    /// </summary>
    /// <exception cref="ArgumentException">Different lengths, a NaN score, or no positive or no negative.</exception>
    public static double Auroc(IReadOnlyList<double> score, IReadOnlyList<bool> positive)
    {
        ArgumentNullException.ThrowIfNull(score);
        ArgumentNullException.ThrowIfNull(positive);
        if (score.Count != positive.Count)
            throw new ArgumentException($"{score.Count} scores and {positive.Count} outcomes.", nameof(positive));
        var ranks = Ranks(score);
        long n1 = 0;
        double rankSum = 0;
        for (int i = 0; i < ranks.Length; i++)
        {
            if (positive[i])
            {
                n1++;
                rankSum += ranks[i];
            }
        }
        long n0 = ranks.Length - n1;
        if (n1 == 0 || n0 == 0)
            throw new ArgumentException($"AUROC needs positives and negatives; got {n1} positive and {n0} negative.", nameof(positive));
        double u = rankSum - n1 * (n1 + 1) / 2.0;
        return u / ((double)n1 * n0);
    }
}
