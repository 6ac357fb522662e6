#:project ../../../src/Trainers/Components.Trainers.csproj
#:package TorchSharp-cpu@0.107.0
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false

// REBAR sample: train a sigmoid belief network (200 binary latent variables) on binarized Fashion-MNIST with REINFORCE
// (moving-average baseline) and with dynamic REBAR for the same steps (300), compare the mean test ELBO, then save the REBAR
// model, load it back and check that it appends the same columns.
// Run from the repository root: dotnet run docs/samples/scripts/Rebar.cs
using Components.Core;
using Components.Core.Data;
using Components.Trainers.Rebar;
using Microsoft.ML;
using TorchSharp;

torch.set_num_threads(1);
var ml = new MLContext(seed: 0);
var data = FashionMnist.Load(ml, trainRows: 5000, testRows: 500);
double MeanElbo(ITransformer model) => ml.Data.CreateEnumerable<ElboRow>(model.Transform(data.Test), reuseRowObject: false).Average(r => r.Elbo);
foreach (var kind in new[] { GradientEstimatorKind.Reinforce, GradientEstimatorKind.DynamicRebar })
{
    var options = new SigmoidBeliefNetworkEstimator.Options { GradientEstimator = kind, Steps = 300, BinarizationThreshold = 0.5f, Seed = 1 };
    var watch = System.Diagnostics.Stopwatch.StartNew();
    using var model = ml.Transforms.SigmoidBeliefNetwork(options).Fit(data.Train);
    Console.WriteLine($"{kind,-13} mean test ELBO {MeanElbo(model):F1} nats after 300 steps ({watch.Elapsed.TotalSeconds:F0} s)");
    if (kind == GradientEstimatorKind.DynamicRebar)
    {
        var path = Path.Combine(Path.GetTempPath(), "rebar-sample.zip");
        ml.Model.Save(model, data.Train.Schema, path);
        using var loaded = (SigmoidBeliefNetworkTransformer)new MLContext().RegisterComponents().Model.Load(path, out _);
        Console.WriteLine($"reloaded: {loaded.LatentWidth} latent bits, mean test ELBO {MeanElbo(loaded):F1} nats (same seeded samples)");
        File.Delete(path);
    }
}

internal sealed class ElboRow
{
    public float Elbo { get; set; }
}
