using Components.Core.Persistence;
using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Energies;

/// <summary>
/// A mixture of isotropic Gaussians, <c>U(x) = −log Σ_k π_k N(x; μ_k, σ_k² I)</c>, with the closed-form gradient
/// <c>Σ_k w_k(x) (x − μ_k) / σ_k²</c> (w = posterior component weights).
/// </summary>
internal sealed class MixtureEnergy : EnergyFunction
{
    internal const string Kind = "Mixture";
    private readonly double[][] _means;
    private readonly double[] _variances;
    private readonly double[] _weights;
    private readonly DeviceConstants _constants;

    public MixtureEnergy(string name, double[][] means, double[] variances, double[] weights)
        : base(name, CheckMeans(means))
    {
        ArgumentNullException.ThrowIfNull(variances);
        ArgumentNullException.ThrowIfNull(weights);
        int k = means.Length, d = Dimension;
        if (variances.Length != k || weights.Length != k)
            throw new ArgumentOutOfRangeException(nameof(variances), $"A mixture of {k} components needs {k} variances and {k} weights.");
        if (!variances.All(v => v > 0 && double.IsFinite(v)))
            throw new ArgumentOutOfRangeException(nameof(variances), "Component variances must be positive and finite.");
        if (!weights.All(w => w > 0 && double.IsFinite(w)))
            throw new ArgumentOutOfRangeException(nameof(weights), "Mixture weights must be positive and finite.");
        double total = weights.Sum();
        _means = means.Select(m => (double[])m.Clone()).ToArray();
        _variances = (double[])variances.Clone();
        _weights = weights.Select(w => w / total).ToArray();
        var mu = _means.SelectMany(m => m).Select(v => (float)v).ToArray();
        var inv = _variances.Select(v => (float)(1 / v)).ToArray();
        var logc = Enumerable.Range(0, k).Select(i => (float)(Math.Log(_weights[i]) - 0.5 * d * Math.Log(2 * Math.PI * _variances[i]))).ToArray();
        _constants = new DeviceConstants(dev =>
            [TensorData.FromSpan(mu, [1, k, d], dev), TensorData.FromSpan(inv, [1, k], dev), TensorData.FromSpan(logc, [1, k], dev)]);
    }

    private static int CheckMeans(double[][] means)
    {
        ArgumentNullException.ThrowIfNull(means);
        if (means.Length == 0 || means.Any(m => m is null || m.Length == 0) || means.Any(m => m.Length != means[0].Length))
            throw new ArgumentOutOfRangeException(nameof(means), "A mixture needs one or more means of the same positive length.");
        if (!means.SelectMany(m => m).All(double.IsFinite))
            throw new ArgumentOutOfRangeException(nameof(means), "Component means must be finite.");
        return means[0].Length;
    }

    public override double? CovarianceTrace
    {
        get
        {
            // E|x|² − |E x|² of the mixture.
            int d = Dimension;
            double second = 0;
            var mean = new double[d];
            for (int k = 0; k < _means.Length; k++)
            {
                second += _weights[k] * (d * _variances[k] + _means[k].Sum(v => v * v));
                for (int j = 0; j < d; j++)
                    mean[j] += _weights[k] * _means[k][j];
            }
            return second - mean.Sum(v => v * v);
        }
    }

    public override bool HasExactSampler => true;

    public override IReadOnlyList<double[]>? ModeCentres => _means.Select(m => (double[])m.Clone()).ToArray();

    public override Tensor Energy(Tensor x) => EnergyAndGradient(x).Energy;

    public override (Tensor Energy, Tensor Gradient) EnergyAndGradient(Tensor x, bool createGraph = false)
    {
        CheckStates(x);
        using var scope = torch.NewDisposeScope();
        var c = _constants.Get(x.device);
        var diff = x.unsqueeze(1) - c[0];                  // [n, K, d]
        var sq = diff.square().sum(2);                     // [n, K]
        var logits = c[2] - 0.5f * sq * c[1];              // [n, K]
        var u = -torch.logsumexp(logits, 1);
        var w = torch.softmax(logits, 1) * c[1];           // [n, K]
        var g = (w.unsqueeze(2) * diff).sum(1);            // [n, d]
        return (u.MoveToOuterDisposeScope(), g.MoveToOuterDisposeScope());
    }

    public override Tensor SampleExact(int count, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        using var scope = torch.NewDisposeScope();
        int k = _means.Length, d = Dimension;
        var probs = torch.tensor(_weights, ScalarType.Float64);
        var comp = torch.multinomial(probs, count, replacement: true, generator: generator);   // [count]
        var mu = torch.tensor(_means.SelectMany(m => m).ToArray(), [k, d], ScalarType.Float64).index_select(0, comp);
        var sd = torch.tensor(_variances.Select(Math.Sqrt).ToArray(), ScalarType.Float64).index_select(0, comp).unsqueeze(1);
        var z = torch.randn([count, d], ScalarType.Float64, generator: generator);
        return (mu + sd * z).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    internal override void Write(BinaryWriter writer)
    {
        writer.Write(Kind);
        writer.Write(Name);
        writer.Write(_means.Length);
        writer.Write(Dimension);
        foreach (var m in _means)
            writer.WriteDoubles(m);
        writer.WriteDoubles(_variances);
        writer.WriteDoubles(_weights);
    }

    internal static MixtureEnergy ReadBody(BinaryReader r)
    {
        var name = r.ReadString();
        int k = r.ReadInt32(), d = r.ReadInt32();
        BinaryFormat.CheckDecode(k >= 1 && k <= 1 << 16 && d >= 1 && d <= 1 << 20, "mixture size");
        var means = new double[k][];
        for (int i = 0; i < k; i++)
            means[i] = ReadFinite(r, d, "mixture mean");
        var v = ReadFinite(r, k, "mixture variances");
        var w = ReadFinite(r, k, "mixture weights");
        BinaryFormat.CheckDecode(v.All(x => x > 0) && w.All(x => x > 0), "mixture parameters");
        return new MixtureEnergy(name, means, v, w);
    }
}
