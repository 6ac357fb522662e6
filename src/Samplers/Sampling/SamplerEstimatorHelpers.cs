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
    public static void CheckCommonOptions(SamplerOptions o)
    {
        Guard.CheckUserArg(o.Energy is not null, nameof(o.Energy), "An energy function is required.");
        CheckColumnNames(o.InitialStateColumnName, o.OutputColumnName, o.AcceptanceColumnName);
        Guard.CheckUserArg(o.Transitions >= 1, nameof(o.Transitions), "Must be at least 1.");
        Guard.CheckUserArg(o.LeapfrogSteps >= 1, nameof(o.LeapfrogSteps), "Must be at least 1.");
        Guard.CheckUserArg(o.StepSize > 0 && double.IsFinite(o.StepSize), nameof(o.StepSize), "Must be positive and finite.");
        Guard.CheckUserArg(o.Chains >= 1, nameof(o.Chains), "Must be at least 1.");
        Guard.CheckUserArg(o.LogInterval >= 1, nameof(o.LogInterval), "Must be at least 1.");
        if (o.Device is not null)
            DeviceResolver.Parse(o.Device);
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
