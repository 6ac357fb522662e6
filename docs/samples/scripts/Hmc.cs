#:project ../../../src/Samplers/Components.Samplers.csproj
#:package TorchSharp-cpu@0.107.0
#:property PublishAot=false

// HMC with dual-averaging step-size adaptation: the paper's mixture of two Gaussians and a user-defined energy.
// Run: dotnet run docs/samples/scripts/Hmc.cs
using Components.Core;
using Components.Samplers;
using Components.Samplers.Diagnostics;
using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

torch.set_num_threads(1);   // tiny tensors: one intra-op thread is fastest
var ml = new MLContext(seed: 0);
var rng = new Random(0);
var starts = Enumerable.Range(0, 100).Select(_ => new State { Features = [Normal(rng), Normal(rng)] }).ToList();
var data = ml.Data.LoadFromEnumerable(starts);

// 1. A user energy written with TorchSharp (gradients by autograd): a banana-shaped density
//    U(x) = x₀²/2 + 2 (x₁ − x₀²/2)².
var banana = EnergyFunction.FromFunction("Banana", 2, x =>
{
    var a = x[.., 0];
    var b = x[.., 1];
    return 0.5f * a.square() + 2f * (b - 0.5f * a.square()).square();
});
var hmc = ml.Samplers.Hmc(new HmcEstimator.Options { Energy = banana, LeapfrogSteps = 10, TargetAcceptance = 0.65, AdaptationSteps = 300, Seed = 1 });
var model = hmc.Fit(data);
Console.WriteLine($"Banana: adapted ε = {model.StepSize:F3} ({model.LeapfrogSteps} leapfrog steps)");
var trace = model.SampleChains(steps: 500, burnIn: 50);
var s = McmcDiagnostics.Summarize(trace);
Console.WriteLine($"  acceptance {s.AcceptanceRate:F2}, ESS (min over coordinates) {s.MinEss:F0} of {trace.Steps * trace.Chains} draws, " +
                  $"{s.MinEssPerGradient:E2} per gradient, {s.MinEssPerSecond:F0} per second, split R-hat {s.MaxSplitRHat:F3}");
var drawn = ml.Data.CreateEnumerable<Drawn>(model.Sample(5000, burnIn: 20, thin: 2), reuseRowObject: false).ToList();
Console.WriteLine($"  E[x0] = {drawn.Average(d => d.Sample[0]):F2} (exact 0), E[x1] = {drawn.Average(d => d.Sample[1]):F2} (exact 0.5), " +
                  $"Var[x0] = {drawn.Average(d => d.Sample[0] * d.Sample[0]):F2} (exact 1)");

// 2. The paper's mixture of two Gaussians (σ² = 0.1, centres 4 apart): HMC stays in its starting mode.
var mog = EnergyFunction.MixtureOfGaussians();
var mogModel = ml.Samplers.Hmc(mog).Fit(data);
var mogTrace = mogModel.SampleChains(steps: 500);
var right = Enumerable.Range(0, mogTrace.Chains).Select(c => mogTrace.Coordinate(0)[c].Count(v => v > 0) / (double)mogTrace.Steps).ToArray();
Console.WriteLine($"Mixture: ε = {mogModel.StepSize:F3}; chains that ever visit both modes: {right.Count(f => f > 0 && f < 1)} of {right.Length}; " +
                  $"split R-hat of x0 {McmcDiagnostics.SplitRHat(mogTrace.Coordinate(0)):F2}");

// 3. The model maps a column of initial states to states after 10 transitions, and saves like any ML.NET model.
var path = Path.Combine(Path.GetTempPath(), "hmc-sample.zip");
ml.Model.Save(model, data.Schema, path);
var loaded = new MLContext().RegisterComponents().Model.Load(path, out _);
var before = ml.Data.CreateEnumerable<Mapped>(model.Transform(data), reuseRowObject: false).ToList();
var after = ml.Data.CreateEnumerable<Mapped>(loaded.Transform(data), reuseRowObject: false).ToList();
foreach (var m in after.Skip(1).Take(2))
    Console.WriteLine($"Reloaded model: ({m.Features[0]:F2}, {m.Features[1]:F2}) -> ({m.Sample[0]:F2}, {m.Sample[1]:F2}), acceptance {m.AcceptanceRate:F1}");
Console.WriteLine($"Mean acceptance over {after.Count} rows {after.Average(m => m.AcceptanceRate):F2}; " +
                  $"identical to the model before saving: {before.Zip(after).All(p => p.First.Sample.SequenceEqual(p.Second.Sample))}");

static float Normal(Random r) => (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));

sealed class State
{
    [VectorType(2)]
    public float[] Features { get; set; } = [];
}

sealed class Mapped
{
    [VectorType(2)]
    public float[] Features { get; set; } = [];

    [VectorType(2)]
    public float[] Sample { get; set; } = [];

    public float AcceptanceRate { get; set; }
}

sealed class Drawn
{
    [VectorType(2)]
    public float[] Sample { get; set; } = [];
}
