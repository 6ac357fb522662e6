using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>
/// A fitted SVCCA model: appends the canonical variates (x − mean)·Projection of column A and/or B, each of width
/// <see cref="SvccaResult.Components"/>, whose i-th slots correlate with ρᵢ on the fitting data. Exposes the full
/// <see cref="Result"/> (ρ, means, PWCCA, kept dimensions). Persisted by <c>ml.Model.Save</c>; call
/// <c>ml.RegisterComponents()</c> before <c>ml.Model.Load</c>.
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class SvccaTransformer : AppendColumnsTransformer
{
    internal const string LoaderSignature = "SvccaTransformer";
    private static readonly ModelVersion s_version = new("SVCCATRF", 1, 1, LoaderSignature);
    private readonly string _columnA;
    private readonly string _columnB;
    private readonly string _outputA;
    private readonly string _outputB;
    private readonly SvccaOutput _output;
    private readonly (Tensor Mean, Tensor Projection, int Neurons)[] _maps;

    internal SvccaTransformer(IHostEnvironment env, string columnA, string columnB, string outputA, string outputB, SvccaOutput output, SvccaResult result)
        : base(env, "SvccaTransformer")
    {
        _columnA = columnA;
        _columnB = columnB;
        _outputA = outputA;
        _outputB = outputB;
        _output = output;
        Result = result;
        var inputs = new List<InputColumn>();
        var outputs = new List<OutputColumn>();
        var maps = new List<(Tensor, Tensor, int)>();
        if (output != SvccaOutput.B)
        {
            inputs.Add(new InputColumn(columnA, result.NeuronsA, "activation A"));
            outputs.Add(OutputColumn.Vector(outputA, result.Components));
            maps.Add(Map(result.MeanAArray, result.ProjectionAArray));
        }
        if (output != SvccaOutput.A)
        {
            inputs.Add(new InputColumn(columnB, result.NeuronsB, "activation B"));
            outputs.Add(OutputColumn.Vector(outputB, result.Components));
            maps.Add(Map(result.MeanBArray, result.ProjectionBArray));
        }
        Inputs = inputs;
        Outputs = outputs;
        _maps = maps.ToArray();
    }

    /// <summary>The SVCCA result on the fitting data: ρ, means, PWCCA, kept dimensions, projections.</summary>
    public SvccaResult Result { get; }

    /// <summary>Canonical correlations ρ, descending.</summary>
    public IReadOnlyList<double> Coefficients => Result.Coefficients;

    /// <summary>Mean ρ (the SVCCA similarity).</summary>
    public double Mean => Result.Mean;

    /// <summary>The reference's thresholded mean (0.98 of Σρ by default).</summary>
    public double ThresholdMean => Result.ThresholdMean;

    /// <summary>Projection-weighted CCA.</summary>
    public double Pwcca => Result.Pwcca;

    /// <summary>Directions kept by the SVD step for A.</summary>
    public int KeptA => Result.KeptA;

    /// <summary>Directions kept by the SVD step for B.</summary>
    public int KeptB => Result.KeptB;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    private static (Tensor, Tensor, int) Map(double[] mean, double[,] projection)
    {
        var mu = torch.tensor(mean, ScalarType.Float64).DetachFromDisposeScope();
        var w = SvccaResult.ToTensor(projection, torch.CPU).DetachFromDisposeScope();
        return (mu, w, mean.Length);
    }

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        for (int i = 0; i < _maps.Length; i++)
        {
            var (mean, projection, neurons) = _maps[i];
            var x = TensorData.FromSpan(batch.Input(i), [batch.Rows, neurons]).to(ScalarType.Float64);
            var z = torch.matmul(x - mean, projection);
            TensorData.CopyTo(z, batch.Output(i));
        }
    }

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        // *** Binary format ***
        // string: column A, column B, output A, output B; int: output mode
        // stream "Svcca.bin": the SvccaResult (see SvccaResultFormat)
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(SvccaTransformer));
        w.Writer.Write(_columnA);
        w.Writer.Write(_columnB);
        w.Writer.Write(_outputA);
        w.Writer.Write(_outputB);
        w.Writer.Write((int)_output);
        w.SaveBinaryStream("Svcca.bin", bw => SvccaResultFormat.Write(bw, Result));
    }

    /// <summary>Loads a model written by <see cref="SaveModel"/> (called by <c>ml.Model.Load</c>).</summary>
    public static SvccaTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        var columnA = r.ReadString();
        var columnB = r.ReadString();
        var outputA = r.ReadString();
        var outputB = r.ReadString();
        var output = (SvccaOutput)r.ReadInt32();
        BinaryFormat.CheckDecode(Enum.IsDefined(output), "output mode");
        SvccaResult? result = null;
        BinaryFormat.CheckDecode(reader.TryLoadBinaryStream("Svcca.bin", br => result = SvccaResultFormat.Read(br)), "missing Svcca.bin");
        return new SvccaTransformer(env, columnA, columnB, outputA, outputB, output, result!);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        foreach (var (mean, projection, _) in _maps)
        {
            mean.Dispose();
            projection.Dispose();
        }
    }
}
