using Components.Trainers.NeuralNetwork;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.Adversarial;

/// <summary><see cref="RetinaLayer"/>: linearity, sharp fovea, blur in the periphery, gradient by finite differences.</summary>
public sealed class AdversarialRetinaLayerTests
{
    private static Tensor Random(long rows, int c, int h, int w, int seed, ScalarType dtype = ScalarType.Float64)
    {
        var g = new Generator((ulong)seed);
        return rand([rows, (long)c * h * w], dtype, generator: g);
    }

    [Fact]
    public void RetinaBlurIsLinearAndKeepsConstants()
    {
        using var scope = NewDisposeScope();
        using var retina = new RetinaLayer(new RetinaSettings(sigmaSlope: 0.2, sigmaAtFixation: 0.3), 2, 9, 11);
        var x = Random(3, 2, 9, 11, 1);
        var y = Random(3, 2, 9, 11, 2);
        var lhs = retina.forward(x.mul(2.5).add(y.mul(-0.7)));
        var rhs = retina.forward(x).mul(2.5).add(retina.forward(y).mul(-0.7));
        Assert.True(lhs.sub(rhs).abs().max().item<double>() < 1e-12);
        // Rows of the operator sum to 1: a constant image stays constant (no darkening at the borders).
        var ones = retina.forward(ones_like(x));
        Assert.True(ones.sub(1).abs().max().item<double>() < 1e-12);
        // It does blur: the output differs from the input, and the peripheral values move more than the central ones.
        Assert.True(retina.forward(x).sub(x).abs().max().item<double>() > 0.05);
    }

    [Fact]
    public void RetinaLeavesTheFixationNeighbourhoodSharpWhenSigmaAtFixationIsZero()
    {
        using var scope = NewDisposeScope();
        const int side = 15, centre = 7;
        using var retina = new RetinaLayer(new RetinaSettings(sigmaSlope: 0.15), 1, side, side);
        var x = Random(4, 1, side, side, 3);
        var blurred = retina.forward(x).view(4, side, side);
        var original = x.view(4, side, side);
        // σ(0) = 0: the fixation pixel is copied exactly.
        Assert.Equal(0.0, blurred[.., centre, centre].sub(original[.., centre, centre]).abs().max().item<double>());
        // In the 3×3 neighbourhood (r ≤ √2, σ ≤ 0.21, weight of a neighbour ≤ exp(−1/(2·0.21²)) ≈ 1.5e−5, at most 4 of
        // them within reach) a pixel changes by less than 1e−4 of the image's range.
        var near = blurred[.., (centre - 1)..(centre + 2), (centre - 1)..(centre + 2)].sub(original[.., (centre - 1)..(centre + 2), (centre - 1)..(centre + 2)]);
        Assert.True(near.abs().max().item<double>() < 1e-4);
        // A corner pixel (r ≈ 9.9, σ ≈ 1.5) is a genuine average of its neighbourhood.
        var delta = zeros(1, side * side, ScalarType.Float64);
        delta[0, 0] = tensor(1.0);
        var response = retina.forward(delta).view(side, side);
        Assert.InRange(response[0, 0].item<double>(), 0.05, 0.5);
        Assert.True(response[0, 1].item<double>() > 0.01);
        // σ(0) = 0 everywhere (slope 0): the identity.
        using var identity = new RetinaLayer(new RetinaSettings(sigmaSlope: 0), 1, side, side);
        Assert.Equal(0, identity.Radius);
        Assert.True(identity.forward(x).eq(x).all().item<bool>());
    }

    [Fact]
    public void RetinaGradientMatchesFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var retina = new RetinaLayer(new RetinaSettings(sigmaSlope: 0.25, sigmaAtFixation: 0.2, fixationRow: 2, fixationColumn: 5), 1, 7, 8);
        var x = Random(2, 1, 7, 8, 4);
        var v = Random(2, 1, 7, 8, 5).sub(0.5);
        Tensor Loss(Tensor z) => retina.forward(z).tanh().mul(v).sum();
        var xg = x.clone().requires_grad_(true);
        Loss(xg).backward();
        var grad = xg.grad!;
        const double h = 1e-6;
        foreach (var (row, col) in new[] { (0, 0), (0, 17), (1, 29), (1, 55), (0, 40) })
        {
            var plus = x.clone();
            var minus = x.clone();
            plus[row, col] = plus[row, col].add(h);
            minus[row, col] = minus[row, col].sub(h);
            double fd = (Loss(plus).item<double>() - Loss(minus).item<double>()) / (2 * h);
            Assert.Equal(fd, grad[row, col].item<double>(), 1e-7);
        }
        // Linear map: the gradient of ⟨v, R x⟩ is Rᵀ v, so ⟨Rᵀ v, u⟩ = ⟨v, R u⟩ for any u.
        var xl = x.clone().requires_grad_(true);
        retina.forward(xl).mul(v).sum().backward();
        var u = Random(2, 1, 7, 8, 6);
        double left = xl.grad!.mul(u).sum().item<double>(), right = retina.forward(u).mul(v).sum().item<double>();
        Assert.Equal(right, left, 1e-10);
    }

    [Fact]
    public void RetinaRejectsBadSettingsAndShapes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetinaSettings(sigmaSlope: -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetinaSettings(sigmaAtFixation: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetinaSettings(truncation: 0.5));
        using var retina = new RetinaLayer(new RetinaSettings(), 1, 6, 6);
        using var wrong = zeros(2, 35);
        var ex = Assert.Throws<ArgumentException>(() => retina.forward(wrong));
        Assert.Contains("[batch, 36]", ex.Message);
    }
}
