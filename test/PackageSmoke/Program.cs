// Consumer smoke test for the packed Components packages (run by .ci/package-smoke.sh).
// It defines its own torch-backed transformer through Components.Core's public API, runs it in an ML.NET pipeline,
// saves the model, checks that plain Model.Load names the missing RegisterComponents call, loads it in a new MLContext
// after the call and checks that the outputs agree. Exits 1 on any mismatch.
// If libLibTorchSharp.so was not patched on a system whose libstdc++ lacks GLIBCXX_3.4.32 (Debian 12), the first
// torch call throws TypeInitializationException and the app exits non-zero.
using Components.Core;
using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Schema;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;

const int Dim = 4;
int failures = 0;
void Check(bool ok, string what)
{
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
    if (!ok)
        failures++;
}

Console.WriteLine($"TorchSharp backend loaded: torch {torch.__version__}");

var rows = Enumerable.Range(0, 60).Select(i => new SmokeRow
{
    Raw = Enumerable.Range(0, Dim).Select(j => (float)(Math.Sin(0.37 * i * (j + 1)) * (j + 1) + 0.1 * j)).ToArray(),
    Label = (float)Math.Cos(0.21 * i),
}).ToArray();

var ml = new MLContext(seed: 1);
var data = ml.Data.LoadFromEnumerable(rows);
var pipeline = ml.Transforms.CopyColumns("Features", nameof(SmokeRow.Raw))
    .Append(new SmokeProjectionEstimator(ml, "Features"))
    .Append(ml.Regression.Trainers.Sdca(labelColumnName: "Label", featureColumnName: "Projection", maximumNumberOfIterations: 5));
var model = pipeline.Fit(data);
var before = ml.Data.CreateEnumerable<SmokeOutput>(model.Transform(data), reuseRowObject: false).ToArray();

// Independent properties of the torch computation: the projection is centred, ordered by variance, and Norm is its
// Euclidean norm.
for (int k = 0; k < 2; k++)
    Check(Math.Abs(before.Average(r => r.Projection[k])) < 1e-4, $"projection component {k} has mean 0 over the data");
double Var(int k) => before.Average(r => (double)r.Projection[k] * r.Projection[k]);
Check(Var(0) >= Var(1) && Var(0) > 0, $"component variances are ordered ({Var(0):F4} >= {Var(1):F4})");
Check(before.All(r => Math.Abs(r.Norm - MathF.Sqrt(r.Projection[0] * r.Projection[0] + r.Projection[1] * r.Projection[1])) < 1e-5),
    "Norm equals the Euclidean norm of Projection");

var path = Path.Combine(Path.GetTempPath(), $"components-smoke-{Environment.ProcessId}.zip");
try
{
    ml.Model.Save(model, data.Schema, path);
    // Nothing in this process has called RegisterComponents yet: plain Model.Load must fail naming the call.
    string? plainError = null;
    try
    {
        new MLContext().Model.Load(path, out _);
    }
    catch (Exception e)
    {
        plainError = e.GetBaseException().Message;
    }
    Check(plainError?.Contains("MLContext.RegisterComponents() before Model.Load") == true,
        $"Model.Load without RegisterComponents fails naming the call ({plainError ?? "it loaded"})");
    var ml2 = new MLContext(seed: 2).RegisterComponents();
    var loaded = ml2.Model.Load(path, out var inputSchema);
    Check(inputSchema.GetColumnOrNull(nameof(SmokeRow.Raw)) is not null, "loaded model keeps the input schema");
    var after = ml2.Data.CreateEnumerable<SmokeOutput>(loaded.Transform(ml2.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToArray();
    bool same = before.Length == after.Length && before.Zip(after).All(p =>
        p.First.Projection.SequenceEqual(p.Second.Projection) && p.First.Norm == p.Second.Norm && p.First.Score == p.Second.Score);
    Check(same, $"save -> load in a new MLContext gives identical outputs on {before.Length} rows");

    using var engine = ml2.Model.CreatePredictionEngine<SmokeRow, SmokeOutput>(loaded);
    var one = engine.Predict(rows[7]);
    // One row and a 60-row batch go through different matmul kernels: equal up to float rounding, not bit for bit.
    static bool Close(float a, float b) => Math.Abs(a - b) <= 1e-5f * Math.Max(1f, Math.Abs(b));
    Check(one.Projection.Zip(before[7].Projection).All(p => Close(p.First, p.Second)) && Close(one.Score, before[7].Score),
        "PredictionEngine on the loaded model matches the batch path (to float rounding)");
    (loaded as IDisposable)?.Dispose();
}
finally
{
    File.Delete(path);
    (model as IDisposable)?.Dispose();
}

Console.WriteLine($"row 0: Projection = [{before[0].Projection[0]:F5}, {before[0].Projection[1]:F5}], Norm = {before[0].Norm:F5}, Score = {before[0].Score:F5}");
Console.WriteLine(failures == 0 ? "PACKAGE SMOKE PASSED" : $"PACKAGE SMOKE FAILED ({failures} checks)");
return failures == 0 ? 0 : 1;

/// <summary>Input row.</summary>
public sealed class SmokeRow
{
    [VectorType(4)]
    public float[] Raw { get; set; } = [];

    public float Label { get; set; }
}

/// <summary>Output row.</summary>
public sealed class SmokeOutput
{
    [VectorType(2)]
    public float[] Projection { get; set; } = [];

    public float Norm { get; set; }

    public float Score { get; set; }
}

/// <summary>Fits the two leading principal directions with torch (SVD of the centred data).</summary>
public sealed class SmokeProjectionEstimator(MLContext ml, string features) : IEstimator<SmokeProjectionTransformer>
{
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ColumnRules.CheckVector(inputSchema, "feature", features);
        return SchemaShapes.Append(inputSchema, SchemaShapes.SingleVector("Projection"), SchemaShapes.Single("Norm"));
    }

    public SmokeProjectionTransformer Fit(IDataView input)
    {
        int d = ColumnRules.CheckVector(input.Schema, "feature", features);
        float[] weight, bias;
        using (var scope = torch.NewDisposeScope())
        {
            var x = DataLoading.LoadFeatures(input, features);
            var mean = x.mean([0]);
            var (_, _, vh) = torch.linalg.svd(x - mean, fullMatrices: false);
            var w = vh.narrow(0, 0, 2);
            weight = TensorData.ToSingleArray(w);
            bias = TensorData.ToSingleArray(-w.matmul(mean));
        }
        return new SmokeProjectionTransformer(ml, features, d, weight, bias);
    }
}

/// <summary>Appends Projection = W x + b (a torch Linear module) and its norm.</summary>
[ComponentModel(LoaderSignature)]
public sealed class SmokeProjectionTransformer : AppendColumnsTransformer
{
    private const string LoaderSignature = "SmokeProjection";
    private static readonly ModelVersion s_version = new("SMOKPROJ", 1, 1, LoaderSignature);
    private readonly string _features;
    private readonly int _d;
    private readonly torch.nn.Module<torch.Tensor, torch.Tensor> _linear;

    private SmokeProjectionTransformer(IHostEnvironment env, string features, int d)
        : base(env, "SmokeProjection")
    {
        _features = features;
        _d = d;
        _linear = torch.nn.Linear(d, 2);
        Inputs = [new InputColumn(features, d, "feature")];
        Outputs = [OutputColumn.Vector("Projection", 2), OutputColumn.Scalar("Norm")];
    }

    internal SmokeProjectionTransformer(IHostEnvironment env, string features, int d, float[] weight, float[] bias)
        : this(env, features, d)
    {
        using var _ = torch.no_grad();
        using var w = TensorData.FromSpan(weight, [2, d]);
        using var b = TensorData.FromSpan(bias, [2]);
        var p = _linear.parameters().ToArray(); // Linear: weight, bias
        p[0].copy_(w);
        p[1].copy_(b);
    }

    protected override IReadOnlyList<InputColumn> Inputs { get; }

    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    protected override void MapBatch(BatchData batch)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var x = TensorData.FromSpan(batch.Input(0), [batch.Rows, _d]);
        var y = _linear.forward(x);
        TensorData.CopyTo(y, batch.Output(0));
        TensorData.CopyTo(y.norm(1), batch.Output(1));
    }

    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(SmokeProjectionTransformer));
        w.Writer.Write(_features);
        w.Writer.Write(_d);
        w.SaveModule(_linear);
    }

    public static SmokeProjectionTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        var r = reader.Begin(s_version);
        var features = r.ReadString();
        int d = r.ReadInt32();
        BinaryFormat.CheckDecode(d > 0, "feature count");
        var t = new SmokeProjectionTransformer(env, features, d);
        reader.LoadModule(t._linear);
        return t;
    }

    protected override void Dispose(bool disposing) => _linear.Dispose();
}
