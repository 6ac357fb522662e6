using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>
/// The NNGP initialisation convention (Lee et al. 2018): W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²). Checked on the
/// parameters themselves and through the infinite-width kernel recursion K^{l+1} = σ_w² E[φ(u)φ(v)] + σ_b², whose
/// values come from independent float64 computations (docs: ../shared/reference/papers-kernels.md, test oracle 3).
/// </summary>
public sealed class NeuralNetworkInitializationTests
{
    [Fact]
    public void WeightsHaveVarianceSigmaW2OverFanInAndBiasesSigmaB2()
    {
        var arch = new NeuralNetworkArchitecture(NeuralNetworkArchitectureKind.Mlp, 400, 300, [500], NeuralNetworkActivation.Relu, 1.7, 0.3);
        using var g = new Generator(3);
        using var module = NeuralNetworkModule.Create(arch, g);
        var p = module.named_parameters().ToDictionary(t => t.name, t => t.parameter);
        using var scope = NewDisposeScope();
        // 200,000 and 150,000 weights: the variance estimates have a relative standard error of about 0.3 %.
        Assert.Equal(1.7 / 400, p["layers.0.weight"].var().item<float>(), 1.7 / 400 * 0.03);
        Assert.Equal(1.7 / 500, p["layers.1.weight"].var().item<float>(), 1.7 / 500 * 0.03);
        Assert.Equal(0, p["layers.0.weight"].mean().item<float>(), 0.001);
        // 800 biases: relative standard error of the variance about 5 %.
        var biases = cat([p["layers.0.bias"], p["layers.1.bias"]]);
        Assert.Equal(0.3, biases.var().item<float>(), 0.3 * 0.2);
    }

    [Fact]
    public void ConvolutionWeightsUseChannelsTimesKernelAreaAsFanIn()
    {
        var arch = new NeuralNetworkArchitecture(NeuralNetworkArchitectureKind.Cnn, 784, 10, [], NeuralNetworkActivation.Relu, 2.0, 0.0, [64, 128], 28, 28);
        using var g = new Generator(4);
        using var module = NeuralNetworkModule.Create(arch, g);
        var p = module.named_parameters().ToDictionary(t => t.name, t => t.parameter);
        using var scope = NewDisposeScope();
        Assert.Equal(2.0 / 25, p["convs.0.weight"].var().item<float>(), 2.0 / 25 * 0.15);            // 1,600 weights
        Assert.Equal(2.0 / (64 * 25), p["convs.1.weight"].var().item<float>(), 2.0 / 1600 * 0.03);   // 204,800 weights
        Assert.Equal(0f, p["convs.1.bias"].abs().max().item<float>());                              // σ_b² = 0
        Assert.Equal(2.0 / (128 * 7 * 7), p["dense.0.weight"].var().item<float>(), 2.0 / 6272 * 0.03);
    }

    [Fact]
    public void WideReluNetworkMatchesTheNngpKernelRecursion()
    {
        // Two inputs with x·x/d = 1 and cosine 0.5; (Dense → ReLU) × 2 → Dense, σ_w² = 1.6, σ_b² = 0.2:
        // K11 = 1.512000, K12 = 1.174063 (float64 reference values).
        var (k11, k12) = MonteCarloKernel(NeuralNetworkActivation.Relu, 1.6, 0.2, hidden: [2048, 2048], layer: 3);
        Assert.Equal(1.512000, k11, 1.512 * 0.05);
        Assert.Equal(1.174063, k12, 1.174 * 0.05);
    }

    [Fact]
    public void WideErfLayerMatchesTheErfDualActivation()
    {
        // One Dense(σ_w² = 1, σ_b² = 0) → erf step on K11 = K22 = 1, K12 = 0.5: E[erf(u)²] = 0.464559, E[erf(u)erf(v)] = 0.216347.
        var (k11, k12) = MonteCarloKernel(NeuralNetworkActivation.Erf, 1.0, 0.0, hidden: [4096], layer: 1);
        Assert.Equal(0.464559, k11, 0.464559 * 0.05);
        Assert.Equal(0.216347, k12, 0.216347 * 0.08);
    }

    /// <summary>
    /// Empirical second moments over the units of <paramref name="layer"/>, averaged over 4 independently initialised
    /// networks, for two inputs x1, x2 in R^64 with x·x/64 = 1 and cos(x1, x2) = 0.5.
    /// </summary>
    private static (double K11, double K12) MonteCarloKernel(NeuralNetworkActivation activation, double sw2, double sb2, int[] hidden, int layer)
    {
        const int d = 64;
        var x1 = new float[d];
        var x2 = new float[d];
        for (int i = 0; i < d; i++)
        {
            // e1 and e2 orthonormal (scaled to norm √d): x1 = e1, x2 = 0.5·e1 + (√3/2)·e2.
            float e1 = i < d / 2 ? (float)Math.Sqrt(2.0) : 0f;
            float e2 = i < d / 2 ? 0f : (float)Math.Sqrt(2.0);
            x1[i] = e1;
            x2[i] = 0.5f * e1 + (float)(Math.Sqrt(3) / 2) * e2;
        }
        int outputs = layer > hidden.Length ? 2048 : 2;
        var arch = new NeuralNetworkArchitecture(NeuralNetworkArchitectureKind.Mlp, d, outputs, hidden, activation, sw2, sb2);
        double s11 = 0, s12 = 0;
        const int networks = 4;
        for (int seed = 0; seed < networks; seed++)
        {
            using var g = new Generator((ulong)(100 + seed));
            using var module = NeuralNetworkModule.Create(arch, g);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = TensorData.FromSpan(x1.Concat(x2).ToArray(), [2, d]);
            var h = module.ForwardLayers(x, [layer])[0].to(ScalarType.Float64);
            s11 += ((h[0] * h[0]).mean().item<double>() + (h[1] * h[1]).mean().item<double>()) / 2;
            s12 += (h[0] * h[1]).mean().item<double>();
        }
        return (s11 / networks, s12 / networks);
    }
}
