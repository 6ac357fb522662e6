namespace Components.Transforms.Svcca;

/// <summary>Result of <see cref="DftCca"/>: canonical correlations at every kept 2-D spatial frequency.</summary>
public sealed class DftCcaResult
{
    private readonly double[][] _rho;
    private readonly double[] _means;

    internal DftCcaResult(int height, int width, double[][] rho)
    {
        Height = height;
        Width = width;
        _rho = rho;
        _means = rho.Select(r => r.Length == 0 ? 0 : r.Average()).ToArray();
        Mean = _means.Average();
        Minimum = rho.SelectMany(r => r).DefaultIfEmpty(0).Min();
    }

    /// <summary>Frequencies along the height axis (the smaller of the two inputs' heights).</summary>
    public int Height { get; }

    /// <summary>Frequencies along the width axis.</summary>
    public int Width { get; }

    /// <summary>
    /// ρ (descending) at frequency index (<paramref name="i"/>, <paramref name="j"/>), in numpy's <c>fft2</c> order
    /// (0, 1, …, then the negative frequencies).
    /// </summary>
    public IReadOnlyList<double> CoefficientsAt(int i, int j) => _rho[Index(i, j)];

    /// <summary>Mean ρ at frequency (<paramref name="i"/>, <paramref name="j"/>).</summary>
    public double MeanAt(int i, int j) => _means[Index(i, j)];

    /// <summary>Mean over frequencies of the per-frequency mean ρ.</summary>
    public double Mean { get; }

    /// <summary>The smallest coefficient over all frequencies.</summary>
    public double Minimum { get; }

    private int Index(int i, int j)
    {
        if ((uint)i >= (uint)Height)
            throw new ArgumentOutOfRangeException(nameof(i), i, $"Must be in [0, {Height}).");
        if ((uint)j >= (uint)Width)
            throw new ArgumentOutOfRangeException(nameof(j), j, $"Must be in [0, {Width}).");
        return i * Width + j;
    }
}
