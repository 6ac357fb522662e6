#:project ../../../src/Transforms/Components.Transforms.csproj
#:package TorchSharp-cpu@0.107.0
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// The sweep behind the MetaLearnedFeaturizer defaults (docs/transforms/meta-learned-featurizer.md, "Choosing the defaults").
// Run: dotnet run docs/samples/studies/MetaLearnedFeaturizerDefaults.cs -- 784:0:0.01:64 784:10:0.01:64 196:25:0.01:64 ...
// (each argument: input size 784 or 196 (2×2 pooled) : inner steps : learning rate : batch). Not run by CI.
using Components.Core;
using Components.Core.Data;
using Components.Transforms.MetaLearnedFeaturizer;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

torch.set_num_threads(1);
var ml = new MLContext(seed: 0);
var data = FashionMnist.Load(ml, trainRows: 5000, testRows: 2000);
var trainImgs = ml.Data.CreateEnumerable<Image>(data.Train, reuseRowObject: false).ToList();
var testImgs = ml.Data.CreateEnumerable<Image>(data.Test, reuseRowObject: false).ToList();
int draws = 5;
foreach (var cfg in args)
{
    // cfg: pool:steps:lr:batch
    var p = cfg.Split(':');
    bool pool = p[0] == "196"; int steps = int.Parse(p[1]); double lr = double.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture); int batch = int.Parse(p[3]);
    string raw = p.Length > 4 ? p[4] : "";
    Func<Image, Shot> of = pool ? (i => Shot.Of(i, Pool(i.Features))) : (i => Shot.Of(i, i.Features));
    var trainRows = trainImgs.Select(of).ToList();
    var testRows = testImgs.Select(of).ToList();
    var trainDv = pool ? ml.Data.LoadFromEnumerable(trainRows, SchemaFor(196)) : ml.Data.LoadFromEnumerable(trainRows, SchemaFor(784));
    var testDv = pool ? ml.Data.LoadFromEnumerable(testRows, SchemaFor(196)) : ml.Data.LoadFromEnumerable(testRows, SchemaFor(784));
    var toKey = ml.Transforms.Conversion.MapValueToKey("Label", "Class", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(testDv);
    var clock = System.Diagnostics.Stopwatch.StartNew();
    var cpu0 = System.Diagnostics.Process.GetCurrentProcess().UserProcessorTime;
    var accsAll = new List<double>();
    foreach (var seed in new[] { 1, 2 })
    {
        using var model = ml.Transforms.MetaLearnedFeaturizer(new MetaLearnedFeaturizerEstimator.Options { InnerSteps = steps, LearningRate = lr, BatchSize = batch, Seed = seed }).Fit(trainDv);
        var col = raw == "raw" ? "Features" : "MetaLearnedFeatures";
        var ft = ml.Data.Cache(model.Transform(toKey.Transform(testDv)));
        for (int d = 0; d < draws; d++)
        {
            var rng = new Random(d);
            var shots = toKey.Transform(ml.Data.LoadFromEnumerable(trainRows.GroupBy(r => r.Class).OrderBy(g => g.Key).SelectMany(g => g.OrderBy(_ => rng.Next()).Take(10)).ToList(), pool ? SchemaFor(196) : SchemaFor(784)));
            var probe = ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(labelColumnName: "Label", featureColumnName: col).Fit(model.Transform(shots));
            accsAll.Add(ml.MulticlassClassification.Evaluate(probe.Transform(ft)).MicroAccuracy);
        }
        if (raw == "raw") break;
    }
    double mean = accsAll.Average(), sd = Math.Sqrt(accsAll.Sum(a => (a - mean) * (a - mean)) / (accsAll.Count - 1));
    Console.WriteLine($"{cfg}: acc {mean:F3} ± {sd:F3} (n={accsAll.Count}) wall {clock.Elapsed.TotalSeconds:F1}s load {File.ReadAllText("/proc/loadavg").Trim()}");
}

static float[] Pool(float[] x) { var y = new float[196]; for (int r = 0; r < 14; r++) for (int c = 0; c < 14; c++) y[r * 14 + c] = (x[(2*r)*28+2*c] + x[(2*r)*28+2*c+1] + x[(2*r+1)*28+2*c] + x[(2*r+1)*28+2*c+1]) / 4; return y; }
static SchemaDefinition SchemaFor(int n) { var s = SchemaDefinition.Create(typeof(Shot)); s["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, n); return s; }

sealed class Image { [KeyType(10)] public uint Label { get; set; } [VectorType(784)] public float[] Features { get; set; } = []; }
sealed class Shot { public uint Class { get; set; } public float[] Features { get; set; } = []; public static Shot Of(Image i, float[] f) => new() { Class = i.Label - 1, Features = f }; }
