using Components.Core.Persistence;
using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Energies;

/// <summary>A Gaussian target <c>U(x) = ½ (x − μ)ᵀ Σ⁻¹ (x − μ)</c> with a closed-form gradient <c>Σ⁻¹ (x − μ)</c>.</summary>
internal sealed class GaussianEnergy : EnergyFunction
{
    internal const string Kind = "Gaussian";
    private readonly double[] _mean;
    private readonly double[,] _covariance;
    private readonly double[,] _cholesky;
    private readonly DeviceConstants _constants;

    public GaussianEnergy(string name, double[] mean, double[,] covariance)
        : base(name, mean?.Length ?? throw new ArgumentNullException(nameof(mean)))
    {
        ArgumentNullException.ThrowIfNull(covariance);
        int d = mean.Length;
        if (covariance.GetLength(0) != d || covariance.GetLength(1) != d)
            throw new ArgumentOutOfRangeException(nameof(covariance), $"The covariance must be {d} x {d} to match the mean.");
        if (!mean.All(double.IsFinite) || !covariance.Cast<double>().All(double.IsFinite))
            throw new ArgumentOutOfRangeException(nameof(covariance), "The mean and covariance must be finite.");
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < i; j++)
            {
                if (Math.Abs(covariance[i, j] - covariance[j, i]) > 1e-9 * (Math.Abs(covariance[i, j]) + Math.Abs(covariance[j, i]) + 1e-300))
                    throw new ArgumentOutOfRangeException(nameof(covariance), $"The covariance must be symmetric (entries [{i},{j}] and [{j},{i}] differ).");
            }
        }
        _cholesky = DenseAlgebra.Cholesky(covariance)
            ?? throw new ArgumentOutOfRangeException(nameof(covariance), "The covariance must be positive definite (its Cholesky factorisation failed).");
        _mean = (double[])mean.Clone();
        _covariance = (double[,])covariance.Clone();
        var precision = DenseAlgebra.InverseFromCholesky(_cholesky);
        var mu = DenseAlgebra.ToSingles(_mean);
        var p = DenseAlgebra.ToSingles(precision);
        _constants = new DeviceConstants(dev => [TensorData.FromSpan(mu, [1, d], dev), TensorData.FromSpan(p, [d, d], dev)]);
    }

    public override double? CovarianceTrace => Enumerable.Range(0, Dimension).Sum(i => _covariance[i, i]);

    public override bool HasExactSampler => true;

    /// <summary>The mean μ.</summary>
    public IReadOnlyList<double> Mean => _mean;

    /// <summary>The covariance Σ (a copy).</summary>
    public double[,] Covariance => (double[,])_covariance.Clone();

    public override Tensor Energy(Tensor x) => EnergyAndGradient(x).Energy;

    public override (Tensor Energy, Tensor Gradient) EnergyAndGradient(Tensor x, bool createGraph = false)
    {
        CheckStates(x);
        using var scope = torch.NewDisposeScope();
        var c = _constants.Get(x.device);
        var diff = x - c[0];
        var g = diff.matmul(c[1]);
        var u = 0.5f * (diff * g).sum(1);
        return (u.MoveToOuterDisposeScope(), g.MoveToOuterDisposeScope());
    }

    public override Tensor SampleExact(int count, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        using var scope = torch.NewDisposeScope();
        int d = Dimension;
        var z = torch.randn([count, d], ScalarType.Float64, generator: generator);
        var l64 = torch.tensor(Flatten(_cholesky), [d, d], ScalarType.Float64);
        var mu = torch.tensor(_mean, [1, d], ScalarType.Float64);
        var x = z.matmul(l64.t()) + mu;
        return x.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    internal override void Write(BinaryWriter writer)
    {
        writer.Write(Kind);
        writer.Write(Name);
        writer.WriteDoubles(_mean);
        writer.WriteDoubles(Flatten(_covariance));
    }

    internal static GaussianEnergy ReadBody(BinaryReader r)
    {
        var name = r.ReadString();
        var mean = r.ReadDoubles(1 << 20);
        BinaryFormat.CheckDecode(mean.Length >= 1 && mean.All(double.IsFinite), "Gaussian mean");
        int d = mean.Length;
        var flat = ReadFinite(r, d * d, "Gaussian covariance");
        var cov = new double[d, d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
                cov[i, j] = flat[i * d + j];
        }
        try
        {
            return new GaussianEnergy(name, mean, cov);
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"Corrupt model file: invalid Gaussian energy ({e.Message}).");
        }
    }

    private static double[] Flatten(double[,] a)
    {
        int r = a.GetLength(0), c = a.GetLength(1);
        var f = new double[r * c];
        for (int i = 0; i < r; i++)
        {
            for (int j = 0; j < c; j++)
                f[i * c + j] = a[i, j];
        }
        return f;
    }
}

/// <summary>A Gaussian with diagonal covariance (the paper's ICG), gradient <c>(x − μ) / σ²</c> elementwise.</summary>
internal sealed class DiagonalGaussianEnergy : EnergyFunction
{
    internal const string Kind = "DiagonalGaussian";
    private readonly double[] _mean;
    private readonly double[] _variances;
    private readonly DeviceConstants _constants;

    public DiagonalGaussianEnergy(string name, double[] mean, double[] variances)
        : base(name, mean.Length)
    {
        if (variances.Length != mean.Length)
            throw new ArgumentOutOfRangeException(nameof(variances), "One variance per coordinate is required.");
        if (!mean.All(double.IsFinite) || !variances.All(v => v > 0 && double.IsFinite(v)))
            throw new ArgumentOutOfRangeException(nameof(variances), "The mean must be finite and the variances positive and finite.");
        _mean = (double[])mean.Clone();
        _variances = (double[])variances.Clone();
        var mu = DenseAlgebra.ToSingles(_mean);
        var inv = _variances.Select(v => (float)(1 / v)).ToArray();
        int d = mean.Length;
        _constants = new DeviceConstants(dev => [TensorData.FromSpan(mu, [1, d], dev), TensorData.FromSpan(inv, [1, d], dev)]);
    }

    public override double? CovarianceTrace => _variances.Sum();

    public override bool HasExactSampler => true;

    /// <summary>The variances.</summary>
    public IReadOnlyList<double> Variances => _variances;

    public override Tensor Energy(Tensor x) => EnergyAndGradient(x).Energy;

    public override (Tensor Energy, Tensor Gradient) EnergyAndGradient(Tensor x, bool createGraph = false)
    {
        CheckStates(x);
        using var scope = torch.NewDisposeScope();
        var c = _constants.Get(x.device);
        var diff = x - c[0];
        var g = diff * c[1];
        var u = 0.5f * (diff * g).sum(1);
        return (u.MoveToOuterDisposeScope(), g.MoveToOuterDisposeScope());
    }

    public override Tensor SampleExact(int count, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        using var scope = torch.NewDisposeScope();
        int d = Dimension;
        var z = torch.randn([count, d], ScalarType.Float64, generator: generator);
        var sd = torch.tensor(_variances.Select(Math.Sqrt).ToArray(), [1, d], ScalarType.Float64);
        var mu = torch.tensor(_mean, [1, d], ScalarType.Float64);
        return (z * sd + mu).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    internal override void Write(BinaryWriter writer)
    {
        writer.Write(Kind);
        writer.Write(Name);
        writer.WriteDoubles(_mean);
        writer.WriteDoubles(_variances);
    }

    internal static DiagonalGaussianEnergy ReadBody(BinaryReader r)
    {
        var name = r.ReadString();
        var mean = r.ReadDoubles(1 << 24);
        BinaryFormat.CheckDecode(mean.Length >= 1 && mean.All(double.IsFinite), "Gaussian mean");
        var v = ReadFinite(r, mean.Length, "Gaussian variances");
        BinaryFormat.CheckDecode(v.All(x => x > 0), "Gaussian variances");
        return new DiagonalGaussianEnergy(name, mean, v);
    }
}
