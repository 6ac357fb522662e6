using Components.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Energies;

/// <summary>
/// The rough well (reference RoughWell): easy form <c>U(x) = ½ xᵀx + η Σ_i cos(x_i / η)</c> (gradient
/// <c>x − sin(x / η)</c>), hard form <c>½ xᵀx + η Σ_i cos(x_i / η²)</c> (gradient <c>x − sin(x / η²) / η</c>, the
/// reference's default).
/// </summary>
internal sealed class RoughWellEnergy : EnergyFunction
{
    internal const string Kind = "RoughWell";
    private readonly double _eta;
    private readonly bool _hard;

    public RoughWellEnergy(int dimension, double eta, bool hard)
        : base(hard ? "RoughWellHard" : "RoughWell", dimension)
    {
        if (!(eta > 0) || double.IsInfinity(eta))
            throw new ArgumentOutOfRangeException(nameof(eta), eta, "The ripple scale eta must be positive and finite.");
        _eta = eta;
        _hard = hard;
    }

    /// <summary>The ripple scale η.</summary>
    public double Eta => _eta;

    /// <summary>Whether the ripple is <c>cos(x/η²)</c> (hard) rather than <c>cos(x/η)</c>.</summary>
    public bool Hard => _hard;

    public override Tensor Energy(Tensor x) => EnergyAndGradient(x).Energy;

    public override (Tensor Energy, Tensor Gradient) EnergyAndGradient(Tensor x, bool createGraph = false)
    {
        CheckStates(x);
        using var scope = torch.NewDisposeScope();
        double period = _hard ? _eta * _eta : _eta;
        var scaled = x / (float)period;
        var u = 0.5f * x.square().sum(1) + (float)_eta * scaled.cos().sum(1);
        var g = x - (float)(_eta / period) * scaled.sin();
        return (u.MoveToOuterDisposeScope(), g.MoveToOuterDisposeScope());
    }

    internal override void Write(BinaryWriter writer)
    {
        writer.Write(Kind);
        writer.Write(Dimension);
        writer.Write(_eta);
        writer.Write(_hard);
    }

    internal static RoughWellEnergy ReadBody(BinaryReader r)
    {
        int d = r.ReadInt32();
        double eta = r.ReadDouble();
        bool hard = r.ReadBoolean();
        BinaryFormat.CheckDecode(d >= 1 && eta > 0 && double.IsFinite(eta), "rough well parameters");
        return new RoughWellEnergy(d, eta, hard);
    }
}

/// <summary>
/// Neal's funnel as in the reference GaussianFunnel: <c>U = ½ (v²/σ² + Σ x_i² e^{−c} + n (log 2π + c))</c> with
/// <c>v = x_0</c>, <c>c = clamp(v, −clip, clip)</c>, <c>n = d − 1</c>. Gradient by autograd.
/// </summary>
internal sealed class FunnelEnergy : EnergyFunction
{
    internal const string Kind = "Funnel";
    private readonly double _sigma;
    private readonly double _clip;

    public FunnelEnergy(int dimension, double sigma, double clip)
        : base("Funnel", dimension)
    {
        if (dimension < 2)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The funnel needs at least 2 dimensions.");
        if (!(sigma > 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "sigma must be positive and finite.");
        if (!(clip > 0) || double.IsInfinity(clip))
            throw new ArgumentOutOfRangeException(nameof(clip), clip, "clip must be positive and finite.");
        _sigma = sigma;
        _clip = clip;
    }

    public override bool HasExactSampler => true;

    public override Tensor Energy(Tensor x)
    {
        CheckStates(x);
        using var scope = torch.NewDisposeScope();
        var v = x.select(1, 0);
        var rest = x.narrow(1, 1, Dimension - 1);
        var c = v.clamp(-_clip, _clip);
        int n = Dimension - 1;
        var u = 0.5f * ((v / (float)_sigma).square() + rest.square().sum(1) * (-c).exp() + n * (c + (float)Math.Log(2 * Math.PI)));
        return u.MoveToOuterDisposeScope();
    }

    public override Tensor SampleExact(int count, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        using var scope = torch.NewDisposeScope();
        var v = torch.randn([count, 1], ScalarType.Float64, generator: generator) * _sigma;
        var z = torch.randn([count, Dimension - 1], ScalarType.Float64, generator: generator);
        var x = torch.cat([v, z * (0.5 * v.clamp(-_clip, _clip)).exp()], 1);
        return x.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    internal override void Write(BinaryWriter writer)
    {
        writer.Write(Kind);
        writer.Write(Dimension);
        writer.Write(_sigma);
        writer.Write(_clip);
    }

    internal static FunnelEnergy ReadBody(BinaryReader r)
    {
        int d = r.ReadInt32();
        double s = r.ReadDouble(), c = r.ReadDouble();
        BinaryFormat.CheckDecode(d >= 2 && s > 0 && c > 0 && double.IsFinite(s) && double.IsFinite(c), "funnel parameters");
        return new FunnelEnergy(d, s, c);
    }
}
