namespace Components.Samplers.Sampling;

/// <summary>
/// Recorded states of parallel Markov chains with their acceptance statistics and cost: the input of
/// <see cref="Diagnostics.McmcDiagnostics"/>.
/// </summary>
public sealed class ChainTrace
{
    private readonly float[] _samples;
    private readonly double[] _acceptProbability;
    private readonly double[] _acceptedFraction;

    /// <summary>Creates a trace from recorded values.</summary>
    /// <param name="steps">Recorded steps per chain.</param>
    /// <param name="chains">Number of chains.</param>
    /// <param name="dimension">State dimension.</param>
    /// <param name="samples">States, laid out <c>[step, chain, dimension]</c> (row-major).</param>
    /// <param name="acceptProbability">Mean acceptance probability of each recorded transition (may be empty).</param>
    /// <param name="acceptedFraction">Fraction of chains that accepted at each recorded transition (may be empty).</param>
    /// <param name="gradientEvaluations">Gradient evaluations per chain spent on the recorded steps.</param>
    /// <param name="elapsed">Wall-clock time of the recorded steps.</param>
    public ChainTrace(int steps, int chains, int dimension, float[] samples, double[] acceptProbability, double[] acceptedFraction,
        long gradientEvaluations, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(acceptProbability);
        ArgumentNullException.ThrowIfNull(acceptedFraction);
        if (steps < 1 || chains < 1 || dimension < 1)
            throw new ArgumentOutOfRangeException(nameof(steps), "A trace needs at least one step, chain and dimension.");
        if (samples.LongLength != (long)steps * chains * dimension)
            throw new ArgumentOutOfRangeException(nameof(samples), $"Expected {(long)steps * chains * dimension} values ([{steps}, {chains}, {dimension}]), got {samples.LongLength}.");
        Steps = steps;
        Chains = chains;
        Dimension = dimension;
        _samples = samples;
        _acceptProbability = acceptProbability;
        _acceptedFraction = acceptedFraction;
        GradientEvaluations = gradientEvaluations;
        Elapsed = elapsed;
    }

    /// <summary>Recorded steps per chain.</summary>
    public int Steps { get; }

    /// <summary>Number of parallel chains.</summary>
    public int Chains { get; }

    /// <summary>State dimension.</summary>
    public int Dimension { get; }

    /// <summary>All states, <c>[step, chain, dimension]</c> row-major.</summary>
    public ReadOnlySpan<float> Samples => _samples;

    /// <summary>State <paramref name="dim"/> of chain <paramref name="chain"/> at step <paramref name="step"/>.</summary>
    public float this[int step, int chain, int dim] => _samples[((long)step * Chains + chain) * Dimension + dim];

    /// <summary>Mean (over chains) Metropolis–Hastings acceptance probability of each recorded transition.</summary>
    public IReadOnlyList<double> AcceptanceProbability => _acceptProbability;

    /// <summary>Mean acceptance probability over all recorded transitions (NaN if none were recorded).</summary>
    public double MeanAcceptanceProbability => _acceptProbability.Length == 0 ? double.NaN : _acceptProbability.Average();

    /// <summary>Fraction of proposals accepted over all recorded transitions (NaN if none were recorded).</summary>
    public double AcceptanceRate => _acceptedFraction.Length == 0 ? double.NaN : _acceptedFraction.Average();

    /// <summary>Gradient evaluations per chain spent on the recorded steps.</summary>
    public long GradientEvaluations { get; }

    /// <summary>Wall-clock time spent on the recorded steps.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Coordinate <paramref name="dim"/> of every chain: <c>[chain][step]</c>.</summary>
    public double[][] Coordinate(int dim)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dim);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(dim, Dimension);
        var result = new double[Chains][];
        for (int c = 0; c < Chains; c++)
        {
            var series = new double[Steps];
            for (int t = 0; t < Steps; t++)
                series[t] = this[t, c, dim];
            result[c] = series;
        }
        return result;
    }

    /// <summary>The states of one chain, <c>[step][dimension]</c>.</summary>
    public float[][] Chain(int chain)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chain);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(chain, Chains);
        var result = new float[Steps][];
        for (int t = 0; t < Steps; t++)
        {
            var s = new float[Dimension];
            for (int j = 0; j < Dimension; j++)
                s[j] = this[t, chain, j];
            result[t] = s;
        }
        return result;
    }
}
