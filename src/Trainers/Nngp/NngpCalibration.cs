namespace Components.Trainers.Nngp;

/// <summary>
/// Temperature scaling of the classifier's posterior means: p(c | x) = softmax(β·μ(x))_c with one inverse temperature
/// β = 1/T fitted on the closed-form leave-one-out means of the training rows (which, unlike the training means, are
/// honest held-out predictions). β minimises the cross-entropy against Platt's (1999) smoothed targets: a row of class
/// y, which has N_y rows, targets t_y = (N_y + 1)/(N_y + 2) and (1 − t_y)/(K − 1) for each other class, so that β stays
/// finite when the leave-one-out means separate the classes (with 0/1 targets the loss would then decrease forever).
/// The loss f(β) = mean_i [logΣ_c exp(β μ_ic) − β Σ_c t_ic μ_ic] is convex in β (f″ = mean_i Var_{p_i}(μ_i) ≥ 0), so a
/// safeguarded 1-d Newton iteration on a bracket finds its minimum.
/// </summary>
internal static class NngpCalibration
{
    /// <summary>β is searched in [MinScale, MaxScale] / RMS(μ): near-uniform to near-hard probabilities.</summary>
    internal const double MinScale = 1e-3, MaxScale = 1e3;

    /// <summary>
    /// The inverse temperature β minimising <see cref="Objective"/> on rows of <paramref name="means"/>
    /// (rows × <paramref name="classes"/>, row-major) with true classes <paramref name="labels"/> (0-based), within
    /// [MinScale, MaxScale] / RMS(μ).
    /// </summary>
    internal static double FitInverseTemperature(ReadOnlySpan<double> means, ReadOnlySpan<int> labels, int classes)
    {
        int rows = labels.Length;
        if (rows == 0 || means.Length != rows * classes)
            throw new ArgumentException("Means and labels disagree in size.");
        var targets = Targets(labels, classes);
        double rms = 0;
        foreach (double v in means)
            rms += v * v;
        rms = Math.Sqrt(rms / means.Length);
        if (!double.IsFinite(rms) || rms == 0)
            return 1;
        double lo = MinScale / rms, hi = MaxScale / rms;
        if (Derivatives(means, labels, targets, classes, lo).First >= 0)
            return lo;
        if (Derivatives(means, labels, targets, classes, hi).First <= 0)
            return hi;
        double beta = Math.Clamp(1.0, lo, hi);
        for (int iter = 0; iter < 100; iter++)
        {
            var (g, h) = Derivatives(means, labels, targets, classes, beta);
            if (g > 0)
                hi = beta;
            else
                lo = beta;
            double next = h > 0 ? beta - g / h : double.NaN;
            if (!(next > lo && next < hi))
                next = 0.5 * (lo + hi);
            if (Math.Abs(next - beta) <= 1e-12 * beta || hi - lo <= 1e-12 * hi)
                return next;
            beta = next;
        }
        return beta;
    }

    /// <summary>Platt's smoothed target of a row's own class, (N_y + 1)/(N_y + 2), per class y (1 when there is one class).</summary>
    internal static double[] Targets(ReadOnlySpan<int> labels, int classes)
    {
        var counts = new int[classes];
        foreach (int y in labels)
            counts[y]++;
        return counts.Select(c => classes == 1 ? 1.0 : (c + 1.0) / (c + 2.0)).ToArray();
    }

    /// <summary>The fitted loss: mean cross-entropy of softmax(β·μ) against the smoothed targets.</summary>
    internal static double Objective(ReadOnlySpan<double> means, ReadOnlySpan<int> labels, int classes, double beta)
    {
        var targets = Targets(labels, classes);
        double total = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = means.Slice(i * classes, classes);
            total += LogSumExp(row, beta) - beta * TargetMean(row, labels[i], targets[labels[i]]);
        }
        return total / labels.Length;
    }

    /// <summary>Mean log-loss of softmax(β·μ) against the true classes (natural log).</summary>
    internal static double LogLoss(ReadOnlySpan<double> means, ReadOnlySpan<int> labels, int classes, double beta)
    {
        double total = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = means.Slice(i * classes, classes);
            total += LogSumExp(row, beta) - beta * row[labels[i]];
        }
        return total / labels.Length;
    }

    private static double LogSumExp(ReadOnlySpan<double> row, double beta)
    {
        double max = double.NegativeInfinity;
        foreach (double v in row)
            max = Math.Max(max, beta * v);
        double sum = 0;
        foreach (double v in row)
            sum += Math.Exp(beta * v - max);
        return max + Math.Log(sum);
    }

    /// <summary>Σ_c t_c μ_c for a row of class <paramref name="y"/> whose own-class target is <paramref name="t"/>.</summary>
    private static double TargetMean(ReadOnlySpan<double> row, int y, double t)
    {
        if (row.Length == 1)
            return row[0];
        double others = 0;
        for (int c = 0; c < row.Length; c++)
        {
            if (c != y)
                others += row[c];
        }
        return t * row[y] + (1 - t) / (row.Length - 1) * others;
    }

    /// <summary>f′(β) = mean(E_p[μ] − E_t[μ]) and f″(β) = mean(Var_p[μ]).</summary>
    private static (double First, double Second) Derivatives(ReadOnlySpan<double> means, ReadOnlySpan<int> labels, double[] targets, int classes, double beta)
    {
        double g = 0, h = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = means.Slice(i * classes, classes);
            double max = double.NegativeInfinity;
            foreach (double v in row)
                max = Math.Max(max, beta * v);
            double z = 0, m1 = 0, m2 = 0;
            foreach (double v in row)
            {
                double w = Math.Exp(beta * v - max);
                z += w;
                m1 += w * v;
                m2 += w * v * v;
            }
            m1 /= z;
            m2 /= z;
            g += m1 - TargetMean(row, labels[i], targets[labels[i]]);
            h += Math.Max(0, m2 - m1 * m1);
        }
        return (g / labels.Length, h / labels.Length);
    }

    /// <summary>Writes softmax(β·μ) of each row of <paramref name="means"/> (rows × classes) into <paramref name="probabilities"/>.</summary>
    internal static void Softmax(ReadOnlySpan<float> means, int classes, double beta, Span<float> probabilities)
    {
        for (int r = 0; r < means.Length / classes; r++)
        {
            var row = means.Slice(r * classes, classes);
            var dst = probabilities.Slice(r * classes, classes);
            double max = double.NegativeInfinity;
            foreach (float v in row)
                max = Math.Max(max, beta * v);
            double sum = 0;
            for (int c = 0; c < classes; c++)
                sum += Math.Exp(beta * row[c] - max);
            for (int c = 0; c < classes; c++)
                dst[c] = (float)(Math.Exp(beta * row[c] - max) / sum);
        }
    }
}
