using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>Which side of a comparison.</summary>
public enum SvccaSide
{
    /// <summary>The first representation (A).</summary>
    A,

    /// <summary>The second representation (B).</summary>
    B,
}

/// <summary>
/// Result of SVCCA between two representations A [N, p] and B [N, q] (rows = datapoints, columns = neurons).
/// Immutable; all matrices are managed float64 copies.
/// </summary>
/// <remarks>
/// The canonical variates are <c>zA = (a − MeanA)·ProjectionA</c> and <c>zB = (b − MeanB)·ProjectionB</c>
/// (row vectors a, b); component i of zA and component i of zB have correlation <c>Coefficients[i]</c> and unit
/// variance (exactly when ε = 0), and different components are uncorrelated.
/// </remarks>
public sealed class SvccaResult
{
    private readonly double[] _rho;
    private readonly double[] _meanA;
    private readonly double[] _meanB;
    private readonly double[,] _projA;
    private readonly double[,] _projB;
    private readonly double[] _pwccaWeights;

    internal SvccaResult(double[] rho, double threshold, long datapoints, int neuronsA, int neuronsB, int keptA, int keptB,
        double varianceKeptA, double varianceKeptB, double[] meanA, double[] meanB, double[,] projA, double[,] projB,
        double[] pwccaWeights, SvccaSide pwccaSide, double linearCka)
    {
        _rho = rho;
        Threshold = threshold;
        Datapoints = datapoints;
        NeuronsA = neuronsA;
        NeuronsB = neuronsB;
        KeptA = keptA;
        KeptB = keptB;
        VarianceKeptA = varianceKeptA;
        VarianceKeptB = varianceKeptB;
        _meanA = meanA;
        _meanB = meanB;
        _projA = projA;
        _projB = projB;
        _pwccaWeights = pwccaWeights;
        PwccaSide = pwccaSide;
        LinearCka = linearCka;
        Mean = rho.Length == 0 ? 0 : rho.Average();
        Sum = rho.Sum();
        ThresholdCount = ThresholdIndex(rho, threshold);
        ThresholdMean = ThresholdCount == 0 ? 0 : rho.Take(ThresholdCount).Average();
        double pw = 0;
        for (int i = 0; i < rho.Length; i++)
            pw += pwccaWeights[i] * rho[i];
        Pwcca = pw;
    }

    /// <summary>Canonical correlation coefficients ρ, sorted descending, each in [0, 1]; min(KeptA, KeptB) of them.</summary>
    public IReadOnlyList<double> Coefficients => _rho;

    /// <summary>Mean of <see cref="Coefficients"/> (the SVCCA similarity).</summary>
    public double Mean { get; }

    /// <summary>Sum of <see cref="Coefficients"/>.</summary>
    public double Sum { get; }

    /// <summary>The threshold used for <see cref="ThresholdMean"/>.</summary>
    public double Threshold { get; }

    /// <summary>Number of leading coefficients averaged by <see cref="ThresholdMean"/>.</summary>
    public int ThresholdCount { get; }

    /// <summary>
    /// The reference's summary statistic (<c>cca_core.py</c> <c>mean</c>): the mean of the first i coefficients, i the
    /// smallest index with Σρ[:i] ≥ <see cref="Threshold"/>·Σρ (all of them if none).
    /// </summary>
    public double ThresholdMean { get; }

    /// <summary>
    /// Projection-weighted CCA (Morcos et al. 2018): Σ αᵢρᵢ, αᵢ ∝ Σⱼ |⟨hᵢ, aⱼ⟩| with hᵢ the orthonormalised canonical
    /// variates and aⱼ the centred neurons of the side with fewer kept dimensions (<see cref="PwccaSide"/>).
    /// </summary>
    public double Pwcca { get; }

    /// <summary>The PWCCA weights α (sum 1), aligned with <see cref="Coefficients"/>.</summary>
    public IReadOnlyList<double> PwccaWeights => _pwccaWeights;

    /// <summary>The side whose neurons weight PWCCA (the one with fewer kept dimensions; A on ties).</summary>
    public SvccaSide PwccaSide { get; }

    /// <summary>Linear CKA of the two (unreduced) representations, a by-product of the covariances.</summary>
    public double LinearCka { get; }

    /// <summary>Number of datapoints (rows).</summary>
    public long Datapoints { get; }

    /// <summary>Neurons (columns) of A.</summary>
    public int NeuronsA { get; }

    /// <summary>Neurons (columns) of B.</summary>
    public int NeuronsB { get; }

    /// <summary>Directions of A kept by the SVD step (its numerical rank when there is no SVD step).</summary>
    public int KeptA { get; }

    /// <summary>Directions of B kept by the SVD step.</summary>
    public int KeptB { get; }

    /// <summary>Fraction of A's variance (Σs²) held by the kept directions.</summary>
    public double VarianceKeptA { get; }

    /// <summary>Fraction of B's variance (Σs²) held by the kept directions.</summary>
    public double VarianceKeptB { get; }

    /// <summary>Number of canonical directions, min(KeptA, KeptB).</summary>
    public int Components => _rho.Length;

    /// <summary>Per-neuron mean of A (length NeuronsA).</summary>
    public IReadOnlyList<double> MeanA => _meanA;

    /// <summary>Per-neuron mean of B (length NeuronsB).</summary>
    public IReadOnlyList<double> MeanB => _meanB;

    /// <summary>A copy of A's projection matrix [NeuronsA, Components]: centred neurons → canonical variates.</summary>
    public double[,] ProjectionA => (double[,])_projA.Clone();

    /// <summary>A copy of B's projection matrix [NeuronsB, Components].</summary>
    public double[,] ProjectionB => (double[,])_projB.Clone();

    internal double[] MeanAArray => _meanA;

    internal double[] MeanBArray => _meanB;

    internal double[,] ProjectionAArray => _projA;

    internal double[,] ProjectionBArray => _projB;

    internal double[] CoefficientArray => _rho;

    internal double[] PwccaWeightArray => _pwccaWeights;

    /// <summary>
    /// The canonical variates ("CCA directions") of <paramref name="data"/> [n, NeuronsA or NeuronsB] for
    /// <paramref name="side"/>: a new float64 tensor [n, Components] on the data's device.
    /// </summary>
    public Tensor Project(Tensor data, SvccaSide side)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (mean, proj, p) = side == SvccaSide.A ? (_meanA, _projA, NeuronsA) : (_meanB, _projB, NeuronsB);
        if (data.dim() != 2 || data.shape[1] != p)
            throw new ArgumentException($"Expected a [n, {p}] tensor for side {side}, got [{string.Join(", ", data.shape)}].", nameof(data));
        using var scope = torch.NewDisposeScope();
        var mu = torch.tensor(mean, ScalarType.Float64, data.device);
        var w = ToTensor(proj, data.device);
        return torch.matmul(data.to(ScalarType.Float64) - mu, w).MoveToOuterDisposeScope();
    }

    internal static Tensor ToTensor(double[,] m, Device device)
    {
        var flat = new double[m.Length];
        Buffer.BlockCopy(m, 0, flat, 0, m.Length * sizeof(double));
        return TensorData.FromSpan(flat, [m.GetLength(0), m.GetLength(1)], device);
    }

    /// <summary>The reference's <c>sum_threshold</c>: smallest i in [0, n) with Σρ[:i] ≥ t·Σρ, else n.</summary>
    internal static int ThresholdIndex(IReadOnlyList<double> rho, double threshold)
    {
        double total = 0;
        foreach (var r in rho)
            total += r;
        if (!(total > 0))
            return rho.Count;
        double prefix = 0;
        for (int i = 0; i < rho.Count; i++)
        {
            if (prefix / total >= threshold)
                return i;
            prefix += rho[i];
        }
        return rho.Count;
    }

    /// <inheritdoc/>
    public override string ToString()
        => $"SVCCA mean ρ {Mean:F4} (threshold mean {ThresholdMean:F4}, PWCCA {Pwcca:F4}) over {Components} directions; kept {KeptA}/{NeuronsA} and {KeptB}/{NeuronsB}";
}
