#:project ../../../../src/Trainers/Components.Trainers.csproj
#:project ../../../../src/Transforms/Components.Transforms.csproj
#:project ../../../../src/Samplers/Components.Samplers.csproj
#:package TorchSharp-cpu@0.107.0
#:property PublishAot=false

// Writes the legacy model fixtures (see README.md beside this file): tiny models trained with fixed seeds, saved
// with ml.Model.Save, plus their input rows and the outputs the saving code produced for them.
// It is written against the API of the commit named in README.md and is not compiled with the test project; run it
// from a checkout of that commit:  dotnet run test/Components.Tests/Fixtures/Models/MakeLegacyFixtures.cs [outDir]
using System.Text.Json;
using Components.Samplers;
using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Components.Samplers.L2hmc;
using Components.Trainers.NeuralNetwork;
using Components.Trainers.Nngp;
using Components.Transforms.Svcca;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

torch.set_num_threads(1);
var outDir = args.Length > 0 ? args[0] : Path.Combine(Path.GetDirectoryName(ScriptPath())!, ".");
Directory.CreateDirectory(outDir);
var rng = new Random(20261201);

float[][] Gauss(int n, int d, double sigma = 1) =>
    Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => (float)(sigma * Normal(rng))).ToArray()).ToArray();

// Three blobs in 4 dimensions (classes a, b, c), and a smooth regression target.
(float[][] X, string[] Labels) Blobs(int n)
{
    var centres = new[] { new[] { 2f, 0, 0, 1 }, new[] { -2f, 1, 0, 0 }, new[] { 0f, -2, 1, -1 } };
    var x = new float[n][];
    var y = new string[n];
    for (int i = 0; i < n; i++)
    {
        int c = i % 3;
        x[i] = centres[c].Select(m => (float)(m + 0.7 * Normal(rng))).ToArray();
        y[i] = ((char)('a' + c)).ToString();
    }
    return (x, y);
}

IDataView Keyed(MLContext ml, float[][] x, string[] labels)
{
    var rows = x.Zip(labels, (f, l) => new ClassRow { Features = f, Label = l }).ToList();
    var data = ml.Data.LoadFromEnumerable(rows, Vector<ClassRow>(nameof(ClassRow.Features), 4));
    var keys = ml.Data.LoadFromEnumerable(new[] { "a", "b", "c" }.Select(l => new LabelRow { Label = l }));
    return ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(data).Transform(data);
}

IDataView Regression(MLContext ml, float[][] x)
{
    var rows = x.Select(f => new RegRow { Features = f, Label = (float)(Math.Sin(f[0]) + 0.5 * f[1] * f[2] + 3) }).ToList();
    return ml.Data.LoadFromEnumerable(rows, Vector<RegRow>(nameof(RegRow.Features), 4));
}

var fixtures = new List<string>();

// NeuralNetwork, multiclass MLP (and LayerActivations of it).
{
    var ml = new MLContext(seed: 1);
    var (x, y) = Blobs(60);
    var train = Keyed(ml, x, y);
    using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassOptions
    {
        HiddenLayerWidths = [8, 6],
        NumberOfEpochs = 3,
        BatchSize = 16,
        Seed = 1,
    }).Fit(train);
    var inputs = new[] { ("Features", Blobs(10).X) };
    Record(ml, "NeuralNetworkMulticlass", model, train.Schema, inputs);
    using var layers = ml.Transforms.LayerActivations(model, 1, 2).Fit(train);
    Record(ml, "LayerActivations", layers, train.Schema, inputs);
}

// NeuralNetwork, regression MLP.
{
    var ml = new MLContext(seed: 2);
    var train = Regression(ml, Gauss(60, 4));
    using var model = ml.Regression.Trainers.NeuralNetwork(new NeuralNetworkRegressionOptions
    {
        HiddenLayerWidths = [8],
        Activation = NeuralNetworkActivation.Tanh,
        NumberOfEpochs = 3,
        Seed = 2,
    }).Fit(train);
    Record(ml, "NeuralNetworkRegression", model, train.Schema, [("Features", Gauss(10, 4))]);
}

// NNGP, multiclass and regression (with the Variance column).
{
    var ml = new MLContext(seed: 3);
    var (x, y) = Blobs(30);
    var train = Keyed(ml, x, y);
    using var model = ml.MulticlassClassification.Trainers.Nngp(new NngpMulticlassTrainer.Options { Depth = 2 }).Fit(train);
    Record(ml, "NngpMulticlass", model, train.Schema, [("Features", Blobs(10).X)]);
}
{
    var ml = new MLContext(seed: 4);
    var train = Regression(ml, Gauss(30, 4));
    using var model = ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options { Depth = 2, Regularizer = 1e-3 }).Fit(train);
    Record(ml, "NngpRegression", model, train.Schema, [("Features", Gauss(10, 4))]);
}

// SVCCA: two views sharing a 2-d latent.
{
    var ml = new MLContext(seed: 5);
    (float[][] A, float[][] B) Views(int n)
    {
        var z = Gauss(n, 2);
        var a = z.Select(r => new[] { r[0], r[1], r[0] - r[1], (float)(0.3 * Normal(rng)), r[0] + (float)(0.1 * Normal(rng)) }).ToArray();
        var b = z.Select(r => new[] { r[1] + (float)(0.1 * Normal(rng)), 2 * r[0], (float)(0.5 * Normal(rng)), r[0] + r[1] }).ToArray();
        return (a, b);
    }
    var (ta, tb) = Views(80);
    var train = ml.Data.LoadFromEnumerable(ta.Zip(tb, (a, b) => new TwoViews { A = a, B = b }).ToList(), TwoViewsSchema(5, 4));
    using var model = ml.Transforms.Svcca("ActivationsA", "ActivationsB").Fit(train);
    var (va, vb) = Views(10);
    Record(ml, "Svcca", model, train.Schema, [("ActivationsA", va), ("ActivationsB", vb)]);
}

// HMC on a correlated 2-d Gaussian, with step-size adaptation.
var gaussian = EnergyFunction.Gaussian([0.5, -0.5], new double[,] { { 1.0, 0.3 }, { 0.3, 0.5 } });
{
    var ml = new MLContext(seed: 6);
    var train = ml.Data.LoadFromEnumerable(Gauss(8, 2).Select(r => new StateRow { Features = r }).ToList(), Vector<StateRow>(nameof(StateRow.Features), 2));
    var model = ml.Samplers.Hmc(new HmcOptions { Energy = gaussian, AdaptationSteps = 20, Chains = 8, Transitions = 3, LeapfrogSteps = 4, Seed = 6 }).Fit(train);
    Record(ml, "Hmc", model, train.Schema, [("Features", Gauss(10, 2))]);
}

// L2HMC (tiny network, few training steps) on the same target.
{
    var ml = new MLContext(seed: 7);
    var train = ml.Data.LoadFromEnumerable(Gauss(8, 2).Select(r => new StateRow { Features = r }).ToList(), Vector<StateRow>(nameof(StateRow.Features), 2));
    using var model = ml.Samplers.L2hmc(new L2hmcOptions
    {
        Energy = gaussian,
        TrainingSteps = 8,
        Chains = 8,
        LeapfrogSteps = 3,
        HiddenUnits = 6,
        Transitions = 2,
        Seed = 7,
    }).Fit(train);
    Record(ml, "L2hmc", model, train.Schema, [("Features", Gauss(10, 2))]);
}

Console.WriteLine($"Wrote {fixtures.Count} fixtures to {Path.GetFullPath(outDir)}: {string.Join(", ", fixtures)}");
return 0;

void Record(MLContext ml, string name, ITransformer model, DataViewSchema trainSchema, (string Column, float[][] Rows)[] inputs)
{
    var zip = Path.Combine(outDir, name + ".zip");
    using (var file = File.Create(zip))
        ml.Model.Save(model, trainSchema, file);

    var input = InputView(ml, inputs);
    var output = model.Transform(input);
    var columns = new List<object>();
    foreach (var col in output.Schema)
    {
        if (col.IsHidden || input.Schema.GetColumnOrNull(col.Name) is not null)
            continue;
        var (kind, rows) = ReadColumn(output, col);
        columns.Add(new { name = col.Name, kind, rows });
    }
    var json = new
    {
        model = name + ".zip",
        inputs = inputs.Select(i => new { name = i.Column, size = i.Rows[0].Length, rows = i.Rows }).ToArray(),
        outputs = columns,
    };
    File.WriteAllText(Path.Combine(outDir, name + ".json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = false }) + "\n");
    fixtures.Add(name);
}

static IDataView InputView(MLContext ml, (string Column, float[][] Rows)[] inputs)
{
    if (inputs.Length == 1)
    {
        var def = Vector<StateRow>(nameof(StateRow.Features), inputs[0].Rows[0].Length);
        def[0].ColumnName = inputs[0].Column;
        return ml.Data.LoadFromEnumerable(inputs[0].Rows.Select(r => new StateRow { Features = r }).ToList(), def);
    }
    var two = TwoViewsSchema(inputs[0].Rows[0].Length, inputs[1].Rows[0].Length);
    two[0].ColumnName = inputs[0].Column;
    two[1].ColumnName = inputs[1].Column;
    return ml.Data.LoadFromEnumerable(inputs[0].Rows.Zip(inputs[1].Rows, (a, b) => new TwoViews { A = a, B = b }).ToList(), two);
}

static (string Kind, object Rows) ReadColumn(IDataView data, DataViewSchema.Column col)
{
    using var cursor = data.GetRowCursor([col]);
    switch (col.Type)
    {
        case VectorDataViewType v when v.ItemType == NumberDataViewType.Single:
            {
                var g = cursor.GetGetter<VBuffer<float>>(col);
                var buf = default(VBuffer<float>);
                var rows = new List<float[]>();
                while (cursor.MoveNext())
                {
                    g(ref buf);
                    rows.Add(buf.DenseValues().ToArray());
                }
                return ("SingleVector", rows);
            }
        case NumberDataViewType t when t == NumberDataViewType.Single:
            {
                var g = cursor.GetGetter<float>(col);
                float x = 0;
                var rows = new List<float[]>();
                while (cursor.MoveNext())
                {
                    g(ref x);
                    rows.Add([x]);
                }
                return ("Single", rows);
            }
        case KeyDataViewType:
            {
                var g = cursor.GetGetter<uint>(col);
                uint x = 0;
                var rows = new List<uint[]>();
                while (cursor.MoveNext())
                {
                    g(ref x);
                    rows.Add([x]);
                }
                return ("Key", rows);
            }
        default:
            throw new NotSupportedException($"Column '{col.Name}' has type {col.Type}.");
    }
}

static SchemaDefinition Vector<T>(string member, int size)
{
    var def = SchemaDefinition.Create(typeof(T));
    def[member].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
    return def;
}

static SchemaDefinition TwoViewsSchema(int sizeA, int sizeB)
{
    var def = SchemaDefinition.Create(typeof(TwoViews));
    def[nameof(TwoViews.A)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, sizeA);
    def[nameof(TwoViews.B)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, sizeB);
    def[nameof(TwoViews.A)].ColumnName = "ActivationsA";
    def["B"].ColumnName = "ActivationsB";
    return def;
}

static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

static string ScriptPath([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;

sealed class ClassRow
{
    public float[] Features { get; set; } = [];

    public string Label { get; set; } = "";
}

sealed class LabelRow
{
    public string Label { get; set; } = "";
}

sealed class RegRow
{
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}

sealed class StateRow
{
    public float[] Features { get; set; } = [];
}

sealed class TwoViews
{
    public float[] A { get; set; } = [];

    public float[] B { get; set; } = [];
}
