#:project ../../../src/Samplers/Components.Samplers.csproj
#:package TorchSharp-cpu@0.107.0
#:property PublishAot=false

// L2HMC on the paper's strongly correlated 2-d Gaussian: train, map initial states, draw samples, diagnose, save/load.
// Run: dotnet run docs/samples/scripts/L2hmc.cs
using Components.Core;
using Components.Samplers;
using Components.Samplers.Diagnostics;
using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Components.Samplers.L2hmc;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

// The sampler works on tiny tensors (200 × 2), where one intra-op thread is fastest (see docs/benchmarks.md).
TorchSharp.torch.set_num_threads(1);
var ml = new MLContext(seed: 0);
ml.Log += (_, e) =>
{
    if (e.Source.StartsWith(nameof(L2hmcEstimator), StringComparison.Ordinal) && e.Kind == ChannelMessageKind.Info)
        Console.WriteLine($"  [log] {e.RawMessage}");
};

// Target: variances 100 and 0.1 rotated by π/4. Initial states: 200 draws from N(0, I).
var energy = EnergyFunction.StronglyCorrelatedGaussian();
var rng = new Random(0);
var starts = Enumerable.Range(0, 200).Select(_ => new State { Features = [Normal(rng), Normal(rng)] }).ToList();
var data = ml.Data.LoadFromEnumerable(starts);

// Fit = train the sampler (the paper uses 5000 steps; 1000 already give most of the gain here).
var options = new L2hmcEstimator.Options { Energy = energy, TrainingSteps = 1000, LogInterval = 250, Transitions = 10, Seed = 1 };
using var model = ml.Samplers.L2hmc(options).Fit(data);
Console.WriteLine($"Trained step size ε = {model.StepSize:F4}");

// Transform: each row's initial state → its state after 10 L2HMC transitions.
var mapped = ml.Data.CreateEnumerable<Mapped>(model.Transform(data), reuseRowObject: false).Take(3);
foreach (var m in mapped)
    Console.WriteLine($"  start ({m.Features[0],6:F2}, {m.Features[1],6:F2}) -> sample ({m.Sample[0],6:F2}, {m.Sample[1],6:F2}), acceptance {m.AcceptanceRate:F1}");

// Draw 4000 samples as an IDataView and compare their covariance with the target's.
var samples = ml.Data.CreateEnumerable<Drawn>(model.Sample(4000, burnIn: 10), reuseRowObject: false).ToList();
double c00 = samples.Average(s => s.Sample[0] * (double)s.Sample[0]);
double c01 = samples.Average(s => s.Sample[0] * (double)s.Sample[1]);
double c11 = samples.Average(s => s.Sample[1] * (double)s.Sample[1]);
Console.WriteLine($"Sample covariance [[{c00:F1}, {c01:F1}], [{c01:F1}, {c11:F1}]] (target [[50.05, -49.95], [-49.95, 50.05]])");

// Diagnostics: 200 chains × 1000 MH steps, L2HMC vs HMC with the notebook's ε = 0.15.
double scale = Math.Sqrt(energy.CovarianceTrace!.Value);
var l2 = McmcDiagnostics.Summarize(model.SampleChains(1000), scale);
using var gen = new TorchSharp.torch.Generator(2);
var hmcTrace = new HmcSampler(energy, 0.15, 10).Sample(TorchSharp.torch.tensor(model.GetChainStates(), [model.Chains, 2]), 1000, gen);
var hmc = McmcDiagnostics.Summarize(hmcTrace, scale);
Console.WriteLine($"L2HMC: paper ESS {l2.PaperEss:F3} per MH step, {l2.PaperEssPerGradient:E2} per gradient, acceptance {l2.AcceptanceRate:F2}, split R-hat {l2.MaxSplitRHat:F3}");
Console.WriteLine($"HMC  : paper ESS {hmc.PaperEss:F4} per MH step, {hmc.PaperEssPerGradient:E2} per gradient, acceptance {hmc.AcceptanceRate:F2}, split R-hat {hmc.MaxSplitRHat:F3}");
Console.WriteLine($"ESS ratio L2HMC / HMC(ε = 0.15): {l2.PaperEss / hmc.PaperEss:F0}x");

// Save and load with ML.NET.
var path = Path.Combine(Path.GetTempPath(), "l2hmc-sample.zip");
ml.Model.Save(model, data.Schema, path);
var ml2 = new MLContext().RegisterComponents();
var loaded = (L2hmcModel)ml2.Model.Load(path, out _);
var again = ml2.Data.CreateEnumerable<Mapped>(loaded.Transform(data), reuseRowObject: false).First();
Console.WriteLine($"Reloaded model maps row 0 to ({again.Sample[0]:F2}, {again.Sample[1]:F2})");
loaded.Dispose();

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
