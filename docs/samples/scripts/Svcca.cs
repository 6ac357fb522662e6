#:project ../../../src/Transforms/Components.Transforms.csproj
#:package TorchSharp-cpu@0.107.0
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false

// SVCCA sample: compare two "layers" that share a 3-dimensional latent signal.
// Run from the repository root: dotnet run docs/samples/scripts/Svcca.cs
using Components.Core;
using Components.Transforms.Svcca;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

var ml = new MLContext(seed: 0);
var rows = Layers(n: 2000, seed: 0);
var data = ml.Data.LoadFromEnumerable(rows);

// 1. ML.NET: fit on two activation columns, append the CCA-aligned projections of both.
var model = ml.Transforms.Svcca("LayerA", "LayerB", SvccaOutput.Both, varianceFraction: 0.99).Fit(data);
var r = model.Result;
Console.WriteLine($"kept dims: A {r.KeptA}/{r.NeuronsA} ({r.VarianceKeptA:P1} of variance), B {r.KeptB}/{r.NeuronsB} ({r.VarianceKeptB:P1})");
Console.WriteLine($"top ρ: {string.Join(", ", r.Coefficients.Take(5).Select(x => x.ToString("F4")))}");
Console.WriteLine($"mean ρ {r.Mean:F4}, thresholded mean (0.98 of Σρ) {r.ThresholdMean:F4}, PWCCA {r.Pwcca:F4}, linear CKA {r.LinearCka:F4}");

var first = ml.Data.CreateEnumerable<Projected>(model.Transform(data), reuseRowObject: false).First();
Console.WriteLine($"row 0 projections: A [{string.Join(", ", first.SvccaA.Take(3).Select(x => x.ToString("F3")))}, …], B [{string.Join(", ", first.SvccaB.Take(3).Select(x => x.ToString("F3")))}, …]");

// Save and load like any ML.NET model.
var path = Path.Combine(Path.GetTempPath(), "svcca-sample.zip");
ml.Model.Save(model, data.Schema, path);
var loaded = (SvccaTransformer)new MLContext().RegisterComponents().Model.Load(path, out _);
Console.WriteLine($"reloaded model mean ρ {loaded.Mean:F4}");

// 2. Math core without MLContext: rows = datapoints, columns = neurons.
var a = torch.tensor(rows.SelectMany(x => x.LayerA).ToArray(), [rows.Count, 40]);
var b = torch.tensor(rows.SelectMany(x => x.LayerB).ToArray(), [rows.Count, 30]);
Console.WriteLine($"plain CCA mean ρ {SvccaAnalysis.Cca(a, b).Mean:F4}; SVCCA with k = 3: {SvccaAnalysis.Compute(a, b, SvccaSettings.Default with { Dimensions = 3 }).Mean:F4}");
Console.WriteLine($"RBF CKA {Cka.Rbf(a.narrow(0, 0, 500), b.narrow(0, 0, 500)):F4}");

// 3. DFT-CCA on conv activations [N, H, W, C]: a circularly shifted, channel-mixed copy correlates perfectly.
var conv = torch.randn(200, 8, 8, 4, generator: new torch.Generator(1));
var shifted = torch.matmul(conv.roll([3, 2], [1, 2]), torch.eye(4) + 0.5f);
var dft = DftCca.Compute(conv, shifted);
Console.WriteLine($"DFT-CCA over {dft.Height}×{dft.Width} frequencies: mean ρ {dft.Mean:F6}, min ρ {dft.Minimum:F6}");

static List<Row> Layers(int n, int seed)
{
    var rng = new Random(seed);
    double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
    var wa = Enumerable.Range(0, 3 * 40).Select(_ => Normal()).ToArray();
    var wb = Enumerable.Range(0, 3 * 30).Select(_ => Normal()).ToArray();
    var rows = new List<Row>();
    for (int i = 0; i < n; i++)
    {
        var z = new[] { Normal(), Normal(), Normal() };
        rows.Add(new Row
        {
            LayerA = Enumerable.Range(0, 40).Select(j => (float)Math.Tanh(z[0] * wa[j] + z[1] * wa[40 + j] + z[2] * wa[80 + j] + 0.3 * Normal())).ToArray(),
            LayerB = Enumerable.Range(0, 30).Select(j => (float)(z[0] * wb[j] + z[1] * wb[30 + j] + z[2] * wb[60 + j] + 0.3 * Normal())).ToArray(),
        });
    }
    return rows;
}

public sealed class Row
{
    [VectorType(40)]
    public float[] LayerA { get; set; } = [];

    [VectorType(30)]
    public float[] LayerB { get; set; } = [];
}

public sealed class Projected
{
    public float[] SvccaA { get; set; } = [];

    public float[] SvccaB { get; set; } = [];
}
