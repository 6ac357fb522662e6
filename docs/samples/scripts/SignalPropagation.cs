#:project ../../../src/Kernels/Components.Kernels.csproj
#:package TorchSharp-cpu@0.107.0
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false

// Signal propagation in deep random networks (arXiv:1611.01232, arXiv:1710.06570): mean-field maps, the critical line,
// a simulated wide network, and the Gaussian theory of the covariance of ‖z^l‖²/N between layers.
// Run: dotnet run docs/samples/scripts/SignalPropagation.cs
using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;

TorchSharp.torch.set_num_threads(1);

// 1. Mean field: fixed points, χ₁, depth scales, the critical line.
Console.WriteLine($"ReLU σ_w² = 1.5, σ_b² = 0.5: q* = {MeanField.FixedPoint(NngpNonlinearity.Relu, 1.5, 0.5):F4} (closed form {0.5 / (1 - 1.5 / 2):F4})");
foreach (double sw in new[] { 1.0, 1.761, 3.0 })
{
    var fp = MeanField.Analyze(NngpNonlinearity.Tanh, sw, 0.05);
    Console.WriteLine($"tanh σ_w² = {sw}, σ_b² = 0.05: {fp.Phase,-8} q* = {fp.Variance:F4}, c* = {fp.Correlation:F4}, χ₁ = {fp.Chi1:F4}, ξ_q = {fp.VarianceDepthScale:F2}, ξ_c = {fp.CorrelationDepthScale:F1}");
}
Console.WriteLine($"critical σ_w² (χ₁ = 1) at σ_b² = 0.05: tanh {MeanField.CriticalWeightVariance(NngpNonlinearity.Tanh, 0.05):F4}, erf {MeanField.CriticalWeightVariance(NngpNonlinearity.Erf(), 0.05):F4}, ReLU {MeanField.CriticalWeightVariance(NngpNonlinearity.Relu, 0.05):F1}");
var init = CriticalInitialization.Choose(NngpNonlinearity.Tanh, depth: 50);
Console.WriteLine($"critical initialisation for 50 tanh layers: σ_w² = {init.WeightVariance:F4}, σ_b² = {init.BiasVariance}; trainable band (depth ≤ 6 ξ_c) σ_w² in [{init.MinTrainableWeightVariance:F3}, {init.MaxTrainableWeightVariance:F3}]");

// 2. Simulated wide networks against the maps.
var sim = new RandomNetworkSimulator(new RandomNetworkSimulator.Options
{
    Nonlinearity = NngpNonlinearity.Tanh, Width = 1000, Depth = 10, WeightVariance = 3.0, BiasVariance = 0.05,
    Samples = 200, InputVariance = 1.0, InputCorrelation = 0.9, Seed = 0,
}).Run();
var (q, _, c) = MeanField.Trajectory(NngpNonlinearity.Tanh, 3.0, 0.05, 1.0, 1.0, 0.9, 10);
foreach (int l in new[] { 1, 5, 10 })
    Console.WriteLine($"tanh σ_w² = 3, layer {l,2}: q map {q[l]:F4}, simulated {sim.VarianceMean[l]:F4} ± {sim.VarianceStdError[l]:F4}; c map {c[l]:F4}, simulated {sim.CorrelationMean[l]:F4} ± {sim.CorrelationStdError[l]:F4}");

// 3. Cross-layer covariance of ‖z^l‖²/N: Gaussian theory vs simulation (ReLU at its fixed point q* = 2).
const int width = 500, depth = 12;
var relu = new RandomNetworkSimulator(new RandomNetworkSimulator.Options
{
    Nonlinearity = NngpNonlinearity.Relu, Width = width, Depth = depth, WeightVariance = 1.5, BiasVariance = 0.5,
    Samples = 4000, InputVariance = 2.0, Seed = 1,
}).Run();
var theory = LatticeGaussianTheory.NormCovariance(NngpNonlinearity.Relu, 1.5, 0.5, 2.0, depth).Covariance;
var (cov, err) = relu.NormCovariance();
foreach (int k in new[] { 0, 1, 3, 6 })
    Console.WriteLine($"ReLU N·Cov(Q^6, Q^{6 + k}): theory {theory[6, 6 + k]:F3}, simulated {width * cov[6, 6 + k]:F3} ± {width * err[6, 6 + k]:F3}");
Console.WriteLine($"stationary spectrum N·S(ω): ω = 0 → {LatticeGaussianTheory.Spectrum(NngpNonlinearity.Relu, 1.5, 0.5, 0):F3}, ω = π → {LatticeGaussianTheory.Spectrum(NngpNonlinearity.Relu, 1.5, 0.5, Math.PI):F3}");
