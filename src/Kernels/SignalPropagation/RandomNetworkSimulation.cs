using Components.Kernels.Nngp;

namespace Components.Kernels.SignalPropagation;

/// <summary>
/// What <see cref="RandomNetworkSimulator.Run"/> measured: per network and layer l = 0..L the statistics
/// Q_a^l = ‖z_a^l‖²/N, Q_b^l = ‖z_b^l‖²/N and the cosine of z_a^l and z_b^l, with their Monte-Carlo means, standard
/// errors and the covariance of Q_a across layers.
/// </summary>
public sealed class RandomNetworkSimulation
{
    private readonly double[] _qa, _qb, _cos;

    internal RandomNetworkSimulation(NngpNonlinearity nonlinearity, int width, int depth, double weightVariance, double biasVariance,
        double inputVariance, double inputCorrelation, int samples, double[] qa, double[] qb, double[] cos)
    {
        Nonlinearity = nonlinearity;
        Width = width;
        Depth = depth;
        WeightVariance = weightVariance;
        BiasVariance = biasVariance;
        InputVariance = inputVariance;
        InputCorrelation = inputCorrelation;
        Samples = samples;
        _qa = qa;
        _qb = qb;
        _cos = cos;
        (VarianceMean, VarianceStdError) = MeanAndError(_qa);
        (SecondVarianceMean, _) = MeanAndError(_qb);
        (CorrelationMean, CorrelationStdError) = MeanAndError(_cos);
    }

    /// <summary>φ.</summary>
    public NngpNonlinearity Nonlinearity { get; }

    /// <summary>Width N.</summary>
    public int Width { get; }

    /// <summary>Depth L (layers 0..L are reported).</summary>
    public int Depth { get; }

    /// <summary>σ_w².</summary>
    public double WeightVariance { get; }

    /// <summary>σ_b².</summary>
    public double BiasVariance { get; }

    /// <summary>q⁰ of both inputs.</summary>
    public double InputVariance { get; }

    /// <summary>c⁰ of the two inputs.</summary>
    public double InputCorrelation { get; }

    /// <summary>Number of simulated networks.</summary>
    public int Samples { get; }

    /// <summary>Mean over networks of ‖z_a^l‖²/N, l = 0..L (the mean-field q^l up to O(1/N)).</summary>
    public double[] VarianceMean { get; }

    /// <summary>Standard error of <see cref="VarianceMean"/>.</summary>
    public double[] VarianceStdError { get; }

    /// <summary>Mean over networks of ‖z_b^l‖²/N.</summary>
    public double[] SecondVarianceMean { get; }

    /// <summary>Mean over networks of cos(z_a^l, z_b^l) (the mean-field c^l up to O(1/N)).</summary>
    public double[] CorrelationMean { get; }

    /// <summary>Standard error of <see cref="CorrelationMean"/>.</summary>
    public double[] CorrelationStdError { get; }

    /// <summary>Q_a^l = ‖z_a^l‖²/N of network <paramref name="sample"/> at layer <paramref name="layer"/>.</summary>
    /// <param name="sample">Network index in [0, Samples).</param>
    /// <param name="layer">Layer in [0, Depth].</param>
    public double Norm(int sample, int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sample);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(sample, Samples);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(layer, Depth);
        return _qa[sample * (Depth + 1) + layer];
    }

    /// <summary>
    /// The sample covariance Cov(Q_a^l, Q_a^m) over networks, (L + 1) × (L + 1), and the standard error of every entry
    /// (from the spread of the products of centred values). Multiply by <see cref="Width"/> to compare with
    /// <see cref="LatticeGaussianTheory.NormCovariance"/>.
    /// </summary>
    public (double[,] Covariance, double[,] StdError) NormCovariance()
    {
        int s = Samples, m = Depth + 1;
        var mean = VarianceMean;
        var sum = new double[m, m];
        var sumSq = new double[m, m];
        var d = new double[m];
        for (int i = 0; i < s; i++)
        {
            for (int l = 0; l < m; l++)
                d[l] = _qa[i * m + l] - mean[l];
            for (int l = 0; l < m; l++)
            {
                for (int k = l; k < m; k++)
                {
                    double p = d[l] * d[k];
                    sum[l, k] += p;
                    sumSq[l, k] += p * p;
                }
            }
        }
        var cov = new double[m, m];
        var err = new double[m, m];
        for (int l = 0; l < m; l++)
        {
            for (int k = l; k < m; k++)
            {
                double c = sum[l, k] / (s - 1);
                double meanP = sum[l, k] / s;
                double e = Math.Sqrt(Math.Max(0, sumSq[l, k] / s - meanP * meanP) / s);
                cov[l, k] = cov[k, l] = c;
                err[l, k] = err[k, l] = e;
            }
        }
        return (cov, err);
    }

    private (double[] Mean, double[] Error) MeanAndError(double[] values)
    {
        int s = Samples, m = Depth + 1;
        var mean = new double[m];
        var err = new double[m];
        for (int l = 0; l < m; l++)
        {
            double sum = 0, sq = 0;
            for (int i = 0; i < s; i++)
                sum += values[i * m + l];
            double mu = sum / s;
            for (int i = 0; i < s; i++)
            {
                double d = values[i * m + l] - mu;
                sq += d * d;
            }
            mean[l] = mu;
            err[l] = Math.Sqrt(sq / (s - 1) / s);
        }
        return (mean, err);
    }
}
