namespace Components.Trainers.Nngp;

/// <summary>
/// Temperature scaling of the classifier's posterior means: p(c | x) = softmax(β·μ(x))_c with one inverse temperature
/// β = 1/T fitted by minimising the mean log-loss of the closed-form leave-one-out means of the training rows
/// (which, unlike the training means, are honest held-out predictions). The loss
/// f(β) = mean_i [logΣ_c exp(β μ_ic) − β μ_i,y_i] is convex in β (f″ = mean_i Var_{p_i}(μ_i) ≥ 0), so a
/// safeguarded 1-d Newton iteration on a bracket finds its minimum.
/// </summary>
internal static class NngpCalibration
{
    /// <summary>β is searched in [MinScale, MaxScale] / RMS(μ): near-uniform to near-hard probabilities.</summary>
    internal const double MinScale = 1e-3, MaxScale = 1e3;

    /// <summary>
    /// The inverse temperature β minimising the mean log-loss of softmax(β·μ) on rows of <paramref name="means"/>
    /// (rows × <paramref name="classes"/>, row-major) with true classes <paramref name="labels"/> (0-based). When the
    /// means separate the classes perfectly the loss decreases forever and β stops at the bracket's top,
    /// MaxScale / RMS(μ); when they are no better than uniform it stops at MinScale / RMS(μ).
    /// </summary>
    internal static double FitInverseTemperature(ReadOnlySpan<double> means, ReadOnlySpan<int> labels, int classes)
    {
        int rows = labels.Length;
        if (rows == 0 || means.Length != rows * classes)
            throw new ArgumentException("Means and labels disagree in size.");
        double rms = 0;
        foreach (double v in means)
            rms += v * v;
        rms = Math.Sqrt(rms / means.Length);
        if (!double.IsFinite(rms) || rms == 0)
            return 1;
        double lo = MinScale / rms, hi = MaxScale / rms;
        if (Derivatives(means, labels, classes, lo).First >= 0)
            return lo;
        if (Derivatives(means, labels, classes, hi).First <= 0)
            return hi;
        double beta = Math.Clamp(1.0, lo, hi);
        for (int iter = 0; iter < 100; iter++)
        {
            var (g, h) = Derivatives(means, labels, classes, beta);
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

    /// <summary>Mean log-loss of softmax(β·μ) (natural log).</summary>
    internal static double LogLoss(ReadOnlySpan<double> means, ReadOnlySpan<int> labels, int classes, double beta)
    {
        double total = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = means.Slice(i * classes, classes);
            double max = double.NegativeInfinity;
            foreach (double v in row)
                max = Math.Max(max, beta * v);
            double sum = 0;
            foreach (double v in row)
                sum += Math.Exp(beta * v - max);
            total += max + Math.Log(sum) - beta * row[labels[i]];
        }
        return total / labels.Length;
    }

    /// <summary>f′(β) = mean(E_p[μ] − μ_y) and f″(β) = mean(Var_p[μ]).</summary>
    private static (double First, double Second) Derivatives(ReadOnlySpan<double> means, ReadOnlySpan<int> labels, int classes, double beta)
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
            g += m1 - row[labels[i]];
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
