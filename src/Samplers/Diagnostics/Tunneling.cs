using Components.Samplers.Sampling;

namespace Components.Samplers.Diagnostics;

/// <summary>
/// Mode hopping of chains on a multimodal target, as the reference L2HMC code measures it
/// (<c>utils/tunneling.py</c>, <c>find_tunneling_events</c>): each recorded state is assigned to the nearest of
/// the given mode centres (Euclidean distance, first centre on ties); a tunnelling event is a pair of consecutive
/// recorded states assigned to different modes; a chain's tunnelling rate is its events ÷ (steps − 1).
/// </summary>
public static class Tunneling
{
    /// <summary>Nearest-centre mode of every recorded state, <c>[chain][step]</c>.</summary>
    /// <param name="trace">Chains.</param>
    /// <param name="centres">Mode centres, each of the trace's dimension.</param>
    public static int[][] Modes(ChainTrace trace, IReadOnlyList<double[]> centres)
    {
        ArgumentNullException.ThrowIfNull(trace);
        CheckCentres(centres, trace.Dimension);
        var modes = new int[trace.Chains][];
        for (int c = 0; c < trace.Chains; c++)
        {
            var row = modes[c] = new int[trace.Steps];
            for (int t = 0; t < trace.Steps; t++)
            {
                int best = 0;
                double bestDistance = double.PositiveInfinity;
                for (int k = 0; k < centres.Count; k++)
                {
                    double s = 0;
                    for (int j = 0; j < trace.Dimension; j++)
                    {
                        double diff = trace[t, c, j] - centres[k][j];
                        s += diff * diff;
                    }
                    if (!double.IsFinite(s))
                        throw new ArgumentException($"Chain {c} has a non-finite state at step {t}.", nameof(trace));
                    if (s < bestDistance)
                    {
                        bestDistance = s;
                        best = k;
                    }
                }
                row[t] = best;
            }
        }
        return modes;
    }

    /// <summary>
    /// Tunnelling rate of each chain: the fraction of its consecutive recorded pairs whose nearest centres differ
    /// (reference <c>find_tunneling_events</c>).
    /// </summary>
    /// <param name="trace">Chains with at least two recorded steps.</param>
    /// <param name="centres">Mode centres, each of the trace's dimension.</param>
    public static double[] Rates(ChainTrace trace, IReadOnlyList<double[]> centres)
    {
        ArgumentNullException.ThrowIfNull(trace);
        if (trace.Steps < 2)
            throw new ArgumentOutOfRangeException(nameof(trace), trace.Steps, "A tunnelling rate needs at least two recorded steps.");
        return Modes(trace, centres).Select(m =>
        {
            int events = 0;
            for (int t = 1; t < m.Length; t++)
                events += m[t] != m[t - 1] ? 1 : 0;
            return (double)events / (m.Length - 1);
        }).ToArray();
    }

    /// <summary>Mean and (population) standard deviation over chains of <see cref="Rates"/>, as the reference reports.</summary>
    /// <param name="trace">Chains with at least two recorded steps.</param>
    /// <param name="centres">Mode centres, each of the trace's dimension.</param>
    public static (double Mean, double StandardDeviation) MeanRate(ChainTrace trace, IReadOnlyList<double[]> centres)
    {
        var rates = Rates(trace, centres);
        double mean = rates.Average();
        return (mean, Math.Sqrt(rates.Sum(r => (r - mean) * (r - mean)) / rates.Length));
    }

    private static void CheckCentres(IReadOnlyList<double[]> centres, int dimension)
    {
        ArgumentNullException.ThrowIfNull(centres);
        if (centres.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(centres), "At least one mode centre is needed.");
        for (int k = 0; k < centres.Count; k++)
        {
            if (centres[k] is null || centres[k].Length != dimension)
                throw new ArgumentOutOfRangeException(nameof(centres), $"Centre {k} must have {dimension} coordinates (the trace's dimension), has {centres[k]?.Length.ToString() ?? "none"}.");
            if (!centres[k].All(double.IsFinite))
                throw new ArgumentOutOfRangeException(nameof(centres), $"Centre {k} has a non-finite coordinate.");
        }
    }
}
