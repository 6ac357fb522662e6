using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Energies;

/// <summary>A user energy given as a TorchSharp function; gradients by autograd.</summary>
internal sealed class FunctionEnergy : EnergyFunction
{
    internal const string Kind = "Function";
    private readonly Func<Tensor, Tensor> _energy;

    public FunctionEnergy(string name, int dimension, Func<Tensor, Tensor> energy)
        : base(name, dimension)
        => _energy = energy;

    public override Tensor Energy(Tensor x)
    {
        CheckStates(x);
        return _energy(x);
    }

    internal override void Write(BinaryWriter writer)
    {
        writer.Write(Kind);
        writer.Write(Name);
        writer.Write(Dimension);
    }

    internal static EnergyFunction ReadBody(BinaryReader r)
    {
        var name = r.ReadString();
        int d = r.ReadInt32();
        if (!EnergyRegistry.TryGet(name, out var e))
        {
            throw new InvalidOperationException(
                $"The model samples the user energy '{name}' (dimension {d}), which is not defined in this process. Call " +
                $"EnergyFunction.FromFunction(\"{name}\", {d}, ...) with the same function before loading the model.");
        }
        if (e.Dimension != d)
        {
            throw new InvalidOperationException(
                $"The model samples the user energy '{name}' of dimension {d}, but the energy registered under that name has dimension {e.Dimension}.");
        }
        return e;
    }
}

/// <summary>Process-wide registry of user energies, so that saved models using them can be loaded.</summary>
internal static class EnergyRegistry
{
    private static readonly ConcurrentDictionary<string, EnergyFunction> s_energies = new(StringComparer.Ordinal);

    public static void Register(EnergyFunction energy) => s_energies[energy.Name] = energy;

    public static bool TryGet(string name, out EnergyFunction energy) => s_energies.TryGetValue(name, out energy!);
}
