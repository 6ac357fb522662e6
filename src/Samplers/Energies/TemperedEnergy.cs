using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Energies;

/// <summary>The energy divided by a temperature, <c>U(x)/τ</c> (training-time annealing; never saved).</summary>
internal sealed class TemperedEnergy : EnergyFunction
{
    private readonly EnergyFunction _inner;
    private readonly float _inverse;

    public TemperedEnergy(EnergyFunction inner, double temperature)
        : base(inner.Name, inner.Dimension)
    {
        _inner = inner;
        _inverse = (float)(1 / temperature);
    }

    public override Tensor Energy(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return (_inner.Energy(x) * _inverse).MoveToOuterDisposeScope();
    }

    public override (Tensor Energy, Tensor Gradient) EnergyAndGradient(Tensor x, bool createGraph = false)
    {
        using var scope = torch.NewDisposeScope();
        var (u, g) = _inner.EnergyAndGradient(x, createGraph);
        return ((u * _inverse).MoveToOuterDisposeScope(), (g * _inverse).MoveToOuterDisposeScope());
    }

    internal override void Write(BinaryWriter writer) => throw new NotSupportedException("A tempered energy is a training device and is not saved.");
}
