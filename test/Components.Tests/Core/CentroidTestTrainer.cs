using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Core.Trainers;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Core;

/// <summary>
/// A minimal torch-backed nearest-centroid trainer that exercises the Core plumbing end to end (bulk loading,
/// the multiclass output contract, the trainer contracts, batched mapping, persistence). Test-only.
/// </summary>
public sealed class CentroidTestTrainer : ITrainerEstimator<CentroidTestModel, CentroidTestParameters>
{
    private readonly IHostEnvironment _env;
    private readonly string _features;
    private readonly string _label;

    public CentroidTestTrainer(IHostEnvironment env, string features = "Features", string label = "Label")
    {
        _env = env;
        _features = features;
        _label = label;
    }

    public TrainerInfo Info { get; } = Components.Core.Internal.MlNetShim.CreateTrainerInfo(normalization: false, caching: false, supportsValidation: false);

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
        => PredictionColumns.MulticlassShape(inputSchema, _features, _label);

    public CentroidTestModel Fit(IDataView input)
    {
        ColumnRules.CheckVector(input.Schema, "feature", _features);
        ColumnRules.CheckKey(input.Schema, "label", _label);
        using var scope = torch.NewDisposeScope();
        using var x = DataLoading.LoadFeatures(input, _features);
        var (y, names) = DataLoading.LoadKeyLabels(input, _label);
        using (y)
        {
            int k = names.Length;
            var centroids = torch.zeros(k, x.shape[1]).index_add(0, y, x, 1) / torch.bincount(y, minlength: k).clamp_min(1).unsqueeze(1).to(ScalarType.Float32);
            return new CentroidTestModel(_env, _features, (int)x.shape[1], names, TensorData.ToSingleArray(centroids));
        }
    }
}

/// <summary>The centroids, [classes × features] row-major.</summary>
public sealed class CentroidTestParameters(float[] centroids)
{
    public IReadOnlyList<float> Centroids { get; } = centroids;
}

[ComponentModel(LoaderSignature)]
public sealed class CentroidTestModel : SingleFeaturePredictionTransformer<CentroidTestParameters>
{
    internal const string LoaderSignature = "CentroidTestModel";
    private static readonly ModelVersion s_version = new("CENTTEST", 1, 1, LoaderSignature);
    private readonly string _features;
    private readonly int _d;
    private readonly string[] _names;
    private readonly float[] _centroids;
    private readonly Tensor _c;

    internal CentroidTestModel(IHostEnvironment env, string features, int d, string[] names, float[] centroids)
        : base(env, "CentroidTestModel", new CentroidTestParameters(centroids), features, d)
    {
        _features = features;
        _d = d;
        _names = names;
        _centroids = centroids;
        _c = TensorData.FromSpan(centroids, [names.Length, d]).DetachFromDisposeScope(); // long-lived: owned by this model
        Outputs = PredictionColumns.Multiclass(names);
    }

    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    protected override int BatchSize => 7; // odd on purpose: exercises partial batches

    protected internal override void MapBatch(BatchData batch)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, _d]);
        var score = -torch.cdist(x, _c);
        TensorData.CopyTo(score, batch.Output(0));
        PredictionColumns.ArgMaxKeys(batch.Output(0), _names.Length, batch.Output(1));
    }

    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(CentroidTestModel));
        w.Writer.Write(_features);
        w.Writer.Write(_d);
        w.Writer.WriteStrings(_names);
        w.SaveBinaryStream("Centroids.bin", bw => bw.WriteSingles(_centroids));
    }

    public static CentroidTestModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        var r = reader.Begin(s_version);
        var features = r.ReadString();
        int d = r.ReadInt32();
        var names = r.ReadStrings();
        float[]? c = null;
        BinaryFormat.CheckDecode(reader.TryLoadBinaryStream("Centroids.bin", br => c = br.ReadSingles()), "missing centroids");
        BinaryFormat.CheckDecode(c!.Length == d * names.Length, "centroid count");
        return new CentroidTestModel(env, features, d, names, c);
    }

    protected override void Dispose(bool disposing)
    {
        _c.Dispose();
        base.Dispose(disposing);
    }
}
