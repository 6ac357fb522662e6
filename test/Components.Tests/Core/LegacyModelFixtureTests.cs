using System.Text.Json;
using Components.Core;
using Components.Tests.Harness;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Core;

/// <summary>
/// Models saved by an earlier version of the suite (test/Components.Tests/Fixtures/Models, see its README) still load
/// in a fresh MLContext and give the outputs that version recorded for the same input rows.
/// </summary>
public sealed class LegacyModelFixtureTests
{
    // The recorded outputs are float32 values written in round-trip form; the slack covers only BLAS kernels that may
    // sum in another order on another CPU.
    private const double Tolerance = 1e-5;

    public static TheoryData<string> Fixtures() =>
        ["NeuralNetworkMulticlass", "NeuralNetworkRegression", "LayerActivations", "NngpMulticlass", "NngpRegression", "Svcca", "Hmc", "L2hmc"];

    internal static string FixtureDirectory => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Models");

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LegacyModelLoadsAndReproducesItsRecordedOutputs(string name)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDirectory, name + ".json")));
        var root = json.RootElement;
        var ml = new MLContext(seed: 99).RegisterComponents();
        using var file = File.OpenRead(Path.Combine(FixtureDirectory, root.GetProperty("model").GetString()!));
        var model = ml.Model.Load(file, out var inputSchema);
        Assert.NotNull(inputSchema);
        try
        {
            var output = model.Transform(InputView(ml, root.GetProperty("inputs")));
            var outputs = root.GetProperty("outputs").EnumerateArray().ToArray();
            Assert.NotEmpty(outputs);
            foreach (var col in outputs)
            {
                var colName = col.GetProperty("name").GetString()!;
                var expected = col.GetProperty("rows").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToList();
                var actual = EstimatorHarness.ReadColumn(output, colName);
                Assert.Equal(expected.Count, actual.Count);
                for (int r = 0; r < expected.Count; r++)
                {
                    Assert.Equal(expected[r].Length, actual[r].Length);
                    for (int s = 0; s < expected[r].Length; s++)
                    {
                        double e = expected[r][s], a = actual[r][s];
                        Assert.True(Math.Abs(e - a) <= Tolerance * (1 + Math.Abs(e)),
                            $"{name}: column {colName}, row {r}, slot {s}: {a}, recorded {e}.");
                    }
                }
            }
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>The fixture's input rows as an IDataView of one or two known-size Single vector columns.</summary>
    internal static IDataView InputView(MLContext ml, JsonElement inputs)
    {
        var cols = inputs.EnumerateArray().Select(i => (
            Name: i.GetProperty("name").GetString()!,
            Size: i.GetProperty("size").GetInt32(),
            Rows: i.GetProperty("rows").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray())).ToArray();
        Assert.InRange(cols.Length, 1, 2);
        var def = SchemaDefinition.Create(typeof(InputRow));
        def[nameof(InputRow.A)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, cols[0].Size);
        def[nameof(InputRow.B)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, cols.Length > 1 ? cols[1].Size : 1);
        def[nameof(InputRow.A)].ColumnName = cols[0].Name;
        if (cols.Length > 1)
            def[nameof(InputRow.B)].ColumnName = cols[1].Name;
        else
            def.Remove(def[nameof(InputRow.B)]);
        var rows = cols[0].Rows.Select((r, i) => new InputRow { A = r, B = cols.Length > 1 ? cols[1].Rows[i] : [0f] }).ToList();
        return ml.Data.LoadFromEnumerable(rows, def);
    }

    private sealed class InputRow
    {
        public float[] A { get; set; } = [];

        public float[] B { get; set; } = [];
    }
}
