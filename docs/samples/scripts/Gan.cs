#:project ../../../src/Trainers/Components.Trainers.csproj
#:package TorchSharp-cpu@0.107.0
#:property PublishAot=false

// A GAN with a density-ratio discriminator and an f-divergence generator objective on the 8-Gaussian ring: train,
// draw samples, measure modes and KL, score rows with the discriminator's log density ratio, save/load.
// Run: dotnet run docs/samples/scripts/Gan.cs
using Components.Core;
using Components.Trainers;
using Components.Trainers.Gan;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

// Small networks and batches: one intra-op thread is fastest (see docs/benchmarks.md).
TorchSharp.torch.set_num_threads(1);
var ml = new MLContext(seed: 0);
ml.Log += (_, e) =>
{
    if (e.Source.StartsWith(nameof(GanEstimator), StringComparison.Ordinal) && e.Kind == ChannelMessageKind.Info && e.RawMessage.StartsWith("Generator step", StringComparison.Ordinal))
        Console.WriteLine($"  [log] {e.RawMessage}");
};

// Data: 10,000 points of 8 Gaussians (σ = 0.1) on a circle of radius 2.
var centers = GanToyData.RingCenters();
var points = GanToyData.Sample(centers, 0.1, 10000, seed: 1).Select(p => new Point { Features = p }).ToList();
var data = ml.Data.LoadFromEnumerable(points);

// Fit: the reverse-KL generator objective (loss −r(G(z))), the discriminator a logistic density-ratio estimator.
var options = new GanEstimator.Options
{
    Objective = GanObjective.ReverseKl, Steps = 1500, BatchSize = 128, LatentSize = 8, HiddenUnits = [64, 64], LogInterval = 500, Seed = 1,
};
using var model = ml.Generative.Gan(options).Fit(data);

// Sample: 2000 rows (Noise → Generated) as an IDataView; modes covered and KDE estimates of both KL divergences.
var generated = ml.Data.CreateEnumerable<Drawn>(model.Sample(2000), reuseRowObject: false).ToList();
using (var scope = TorchSharp.torch.NewDisposeScope())
{
    var q = TorchSharp.torch.tensor(generated.SelectMany(g => g.Generated).ToArray(), [generated.Count, 2]);
    var p = GanToyData.ToTensor(GanToyData.Sample(centers, 0.1, 2000, seed: 2));
    var quality = GanMetrics.EvaluateMixture(q, GanToyData.ToTensor(centers), 0.1, p);
    Console.WriteLine($"{model.Objective}: modes covered {quality.ModesCovered}/{quality.Modes}, within 3σ {quality.HighQualityFraction:P0}, " +
                      $"KL(p‖q) {quality.ForwardKl:F2}, KL(q‖p) {quality.ReverseKl:F2}");
}

// The discriminator as a transform: r(x) = log p_data(x)/q_G(x), a realism score (low = anomalous).
var probes = ml.Data.LoadFromEnumerable(new[] { new Point { Features = [2, 0] }, new Point { Features = [0, 0] }, new Point { Features = [5, 5] } });
using var ratio = ml.Generative.GanLogDensityRatio(model).Fit(probes);
foreach (var s in ml.Data.CreateEnumerable<Scored>(ratio.Transform(probes), reuseRowObject: false))
    Console.WriteLine($"  r({s.Features[0]}, {s.Features[1]}) = {s.LogDensityRatio:F2}");

// Save and load with ML.NET: the reloaded model maps the same noise to the same rows.
var path = Path.Combine(Path.GetTempPath(), "gan-sample.zip");
var sample = model.Sample(3);
ml.Model.Save(model, sample.Schema, path);
var ml2 = new MLContext().RegisterComponents();
using var loaded = (GanModel)ml2.Model.Load(path, out _);
var first = ml2.Data.CreateEnumerable<Drawn>(loaded.Transform(sample), reuseRowObject: false).First();
Console.WriteLine($"Reloaded model maps the first noise row to ({first.Generated[0]:F3}, {first.Generated[1]:F3}); before saving ({generated[0].Generated[0]:F3}, {generated[0].Generated[1]:F3})");

sealed class Point
{
    [VectorType(2)]
    public float[] Features { get; set; } = [];
}

sealed class Drawn
{
    [VectorType(8)]
    public float[] Noise { get; set; } = [];

    [VectorType(2)]
    public float[] Generated { get; set; } = [];
}

sealed class Scored
{
    [VectorType(2)]
    public float[] Features { get; set; } = [];

    public float LogDensityRatio { get; set; }
}
