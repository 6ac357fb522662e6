using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Samplers.Energies;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Sampling;

/// <summary>Validation and data loading shared by the sampler estimators.</summary>
internal static class SamplerEstimatorHelpers
{
    public const string InitialStateRole = "initial state";

    /// <summary>Validates the options HMC and L2HMC share (messages name the option).</summary>
    public static void CheckCommonOptions(EnergyFunction? energy, string input, string output, string acceptance, int transitions,
        int leapfrogSteps, double stepSize, int chains, int logInterval, string? device)
    {
        Guard.CheckUserArg(energy is not null, "Energy", "An energy function is required.");
        CheckColumnNames(input, output, acceptance);
        Guard.CheckUserArg(transitions >= 1, "Transitions", "Must be at least 1.");
        Guard.CheckUserArg(leapfrogSteps >= 1, "LeapfrogSteps", "Must be at least 1.");
        Guard.CheckUserArg(stepSize > 0 && double.IsFinite(stepSize), "StepSize", "Must be positive and finite.");
        Guard.CheckUserArg(chains >= 1, "Chains", "Must be at least 1.");
        Guard.CheckUserArg(logInterval >= 1, "LogInterval", "Must be at least 1.");
        if (device is not null)
            DeviceResolver.Parse(device);
    }

    public static void CheckColumnNames(string input, string output, string acceptance)
    {
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(input), "InitialStateColumnName", "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(output), "OutputColumnName", "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(acceptance), "AcceptanceColumnName", "Must be a column name.");
        Guard.CheckUserArg(output != acceptance, "AcceptanceColumnName", "Must differ from OutputColumnName.");
    }

    public static SchemaShape OutputShape(SchemaShape input, string initialState, string output, string acceptance)
    {
        ColumnRules.CheckVector(input, InitialStateRole, initialState);
        return SchemaShapes.Append(input, SchemaShapes.SingleVector(output), SchemaShapes.Single(acceptance));
    }

    /// <summary>
    /// Loads the initial states (rows × d), checks the energy and its gradient there, and cycles the rows to
    /// <paramref name="chains"/> chains on <paramref name="device"/>.
    /// </summary>
    public static Tensor LoadChains(IDataView input, string column, EnergyFunction energy, int chains, Device device, CancellationToken cancellation)
    {
        ColumnRules.CheckVector(input.Schema, InitialStateRole, column, energy.Dimension);
        using var scope = torch.NewDisposeScope();
        var x = DataLoading.LoadFeatures(input, column, InitialStateRole, rejectNonFinite: true, cancellation).to(device);
        using (torch.no_grad())
            ChainState.Initialize(energy, x, i => $"column '{column}', row {i}");
        var idx = torch.arange(chains, ScalarType.Int64, device) % x.shape[0];
        return x.index_select(0, idx).MoveToOuterDisposeScope();
    }
}
