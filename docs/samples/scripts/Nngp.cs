#:project ../../../src/Kernels/Components.Kernels.csproj
#:project ../../../src/Trainers/Components.Trainers.csproj
#:package TorchSharp-cpu@0.107.0
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false

// NNGP: infinite-width kernels of deep fully connected networks (arXiv:1711.00165) and the GP trainers built on them.
// Run: dotnet run docs/samples/scripts/Nngp.cs
using Components.Core;
using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using Components.Trainers.Nngp;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

// 1. Kernel API: one architecture, both kernels. Two inputs with x·x/d = 1 and cosine 0.5.
var arch = new NngpArchitecture(depth: 1, NngpNonlinearity.Relu, weightVariance: 2.0, biasVariance: 0.0);
using var kernel = new NngpKernel(arch);
using var pair = torch.tensor(new[] { Math.Sqrt(2), 0, Math.Sqrt(2) * 0.5, Math.Sqrt(2) * Math.Sqrt(0.75) }, [2, 2], ScalarType.Float64);
using (var r = kernel.Compute(pair))
{
    var k = TensorData.ToDoubleArray(r.Nngp);
    var t = TensorData.ToDoubleArray(r.Ntk!);
    Console.WriteLine($"ReLU depth 1: K11 = {k[0]:F6}, K12 = {k[1]:F6}, NTK11 = {t[0]:F6}, NTK12 = {t[1]:F6}");
}

// Monte-Carlo check against 400 random networks of width 1024.
var deep = new NngpArchitecture(1, NngpNonlinearity.Erf(), 2.0, 0.05);
using var erfKernel = new NngpKernel(deep);
using var gen = new torch.Generator(0);
using var x = torch.randn([3, 4], ScalarType.Float64, generator: gen).cos();
using (var exact = erfKernel.Compute(x))
using (var mc = NngpMonteCarlo.Estimate(deep, x, null, width: 1024, samples: 400, gen))
{
    Console.WriteLine($"Erf K[0,1]: closed form {exact.Nngp[0, 1].item<double>():F4}, Monte Carlo {mc.Nngp[0, 1].item<double>():F4}");
    Console.WriteLine($"Erf Θ[0,1]: closed form {exact.Ntk![0, 1].item<double>():F4}, Monte Carlo {mc.Ntk![0, 1].item<double>():F4}");
}
Console.WriteLine($"ReLU variance fixed point for σ_w² = 1.9, σ_b² = 0.2: {MeanField.FixedPoint(NngpNonlinearity.Relu, 1.9, 0.2):F4}");
Console.WriteLine($"Erf critical σ_w² (χ₁ = 1) at σ_b² = 0.05: {MeanField.CriticalWeightVariance(NngpNonlinearity.Erf(), 0.05):F4}");

// 2. GP classifier: three Gaussian blobs in 10 dimensions.
var ml = new MLContext(seed: 0).RegisterComponents();
var train = Keyed(ml, Blobs(300, seed: 1));
var test = Keyed(ml, Blobs(300, seed: 2));
var trainer = ml.MulticlassClassification.Trainers.Nngp(new NngpMulticlassTrainer.Options
{
    Depth = 3,
    Selection = NngpSelectionCriterion.LogMarginalLikelihood,
    SearchNearCriticalLine = true,
    BiasVarianceCandidates = [0.05, 0.5],
    // RegularizerCandidates: the default grid ε ∈ {1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1, 3, 10}.
});
using var model = trainer.Fit(train);
Console.WriteLine($"Selected {model.Model.Architecture}, regulariser {model.Model.Regularizer:G3} from {model.SelectionResults.Count} candidates; factor {model.Model.FactorKind}");
var scored = model.Transform(test);
var metrics = ml.MulticlassClassification.Evaluate(scored);
Console.WriteLine($"Test macro accuracy {metrics.MacroAccuracy:F3}, log-loss {metrics.LogLoss:F3} (Score = softmax(PosteriorMean / T), T = {model.Temperature:G3})");
var variance = scored.GetColumn<float>("Variance").ToArray();
var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
var truth = scored.GetColumn<uint>("Label").ToArray();
double wrongVar = Enumerable.Range(0, truth.Length).Where(i => predicted[i] != truth[i]).Select(i => (double)variance[i]).DefaultIfEmpty(double.NaN).Average();
double rightVar = Enumerable.Range(0, truth.Length).Where(i => predicted[i] == truth[i]).Select(i => (double)variance[i]).Average();
Console.WriteLine($"Mean predictive variance: correct {rightVar:F4}, misclassified {wrongVar:F4}");

// Save with ml.Model.Save (training features + weights + Cholesky factor) and load in a fresh context.
using (var stream = new MemoryStream())
{
    ml.Model.Save(model, train.Schema, stream);
    stream.Position = 0;
    var ml2 = new MLContext().RegisterComponents();
    var loaded = ml2.Model.Load(stream, out _);
    var again = ml2.MulticlassClassification.Evaluate(loaded.Transform(test));
    Console.WriteLine($"Saved model: {stream.Length / 1024} KiB; reloaded macro accuracy {again.MacroAccuracy:F3}");
    (loaded as IDisposable)?.Dispose();
}

// 3. GP regression: y = sin(2 x0) + noise, with a predictive variance.
var reg = ml.Regression.Trainers.Nngp(depth: 2, regularizer: 1e-2);
var regTrain = ml.Data.LoadFromEnumerable(Wave(200, 3));
var regTest = ml.Data.LoadFromEnumerable(Wave(200, 4));
using var regModel = reg.Fit(regTrain);
var regScored = regModel.Transform(regTest);
var rm = ml.Regression.Evaluate(regScored);
var mu = regScored.GetColumn<float>("Score").ToArray();
var labels = regScored.GetColumn<float>("Label").ToArray();
var sd = regScored.GetColumn<float>("Variance").Select(v => Math.Sqrt(v)).ToArray();
double coverage = Enumerable.Range(0, mu.Length).Average(i => Math.Abs(labels[i] - mu[i]) <= 2 * sd[i] ? 1.0 : 0.0);
Console.WriteLine($"Regression: R² {rm.RSquared:F3}, RMSE {rm.RootMeanSquaredError:F3}; mean predictive sd {sd.Average():F3}, Score ± 2 sd covers {coverage:P1} of test labels");

static List<Blob> Blobs(int n, int seed)
{
    var rng = new Random(seed);
    var centres = new Random(7);
    var c = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 10).Select(_ => 2.5 * (centres.NextDouble() * 2 - 1)).ToArray()).ToArray();
    return Enumerable.Range(0, n).Select(i => new Blob
    {
        Label = "abc"[i % 3].ToString(),
        Features = c[i % 3].Select(m => (float)(m + Gauss(rng))).ToArray(),
    }).ToList();
}

static List<Point> Wave(int n, int seed)
{
    var rng = new Random(seed);
    return Enumerable.Range(0, n).Select(_ =>
    {
        var f = Enumerable.Range(0, 10).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return new Point { Features = f, Label = (float)(Math.Sin(2 * f[0]) + 0.1 * Gauss(rng)) };
    }).ToList();
}

static double Gauss(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

static IDataView Keyed(MLContext ml, List<Blob> rows)
{
    var data = ml.Data.LoadFromEnumerable(rows);
    return ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
}

public sealed class Blob
{
    [VectorType(10)]
    public float[] Features { get; set; } = [];

    public string Label { get; set; } = "";
}

public sealed class Point
{
    [VectorType(10)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}
