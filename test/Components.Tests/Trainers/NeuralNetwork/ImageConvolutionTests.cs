using Components.Trainers.NeuralNetwork;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>
/// The CNN's convolution (libtorch conv2d) against its im2col reference (unfold + matmul): outputs and input, weight and
/// bias gradients in float64 and float32, and finite gradients over many training steps of a small-channel stack
/// (the case that once showed NaN input gradients, see ImageConvolution).
/// </summary>
public sealed class ImageConvolutionTests
{
    [Theory]
    [InlineData(ScalarType.Float64, 1e-11)]
    [InlineData(ScalarType.Float32, 2e-5)]
    public void NativeAndUnfoldAgreeInValuesAndGradients(ScalarType dtype, double tolerance)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        using var conv = new ImageConvolution(4, 8, 5);
        conv.to(dtype);
        Randomise(conv, generator);
        var x = randn([16, 4, 14, 14], dtype, generator: generator);
        var upstream = randn([16, 8, 14, 14], dtype, generator: generator);

        var (yNative, gxNative, gwNative, gbNative) = ForwardBackward(conv, x, upstream, conv.forward);
        var (yUnfold, gxUnfold, gwUnfold, gbUnfold) = ForwardBackward(conv, x, upstream, conv.ForwardUnfold);

        Assert.Equal(dtype, yNative.dtype);
        AssertClose(yUnfold, yNative, tolerance);
        AssertClose(gxUnfold, gxNative, tolerance);
        AssertClose(gwUnfold, gwNative, tolerance);
        AssertClose(gbUnfold, gbNative, tolerance);
    }

    [Fact]
    public void GradientsStayFiniteOverManyTrainingSteps()
    {
        // 1 → 4 → 8 channels with ReLU and max-pooling, plain SGD on random images, at the default thread count.
        using var generator = new Generator(5);
        using var conv1 = new ImageConvolution(1, 4, 5);
        using var conv2 = new ImageConvolution(4, 8, 5);
        Randomise(conv1, generator);
        Randomise(conv2, generator);
        var parameters = conv1.parameters().Concat(conv2.parameters()).ToArray();
        for (int step = 0; step < 40; step++)
        {
            using var scope = NewDisposeScope();
            var x = rand([16, 1, 28, 28], generator: generator);
            var h1 = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(x)), 2);
            h1.retain_grad();
            var h2 = nn.functional.max_pool2d(nn.functional.relu(conv2.forward(h1)), 2);
            foreach (var p in parameters)
                p.grad?.zero_();
            (h2.square().mean() - h2.mean()).backward();
            Assert.True(h1.grad is not null && h1.grad.isfinite().all().item<bool>(), $"non-finite input gradient of the second convolution at step {step}");
            foreach (var p in parameters)
                Assert.True(p.grad!.isfinite().all().item<bool>(), $"non-finite parameter gradient at step {step}");
            using (no_grad())
            {
                foreach (var p in parameters)
                    p.sub_(p.grad!.mul(0.1));
            }
        }
    }

    private static (Tensor Y, Tensor Gx, Tensor Gw, Tensor Gb) ForwardBackward(ImageConvolution conv, Tensor x, Tensor upstream, Func<Tensor, Tensor> forward)
    {
        var input = x.detach().clone().requires_grad_();
        conv.zero_grad();
        var y = forward(input);
        y.backward([upstream]);
        var p = conv.parameters().ToArray(); // weight, bias
        return (y.detach(), input.grad!.clone(), p[0].grad!.clone(), p[1].grad!.clone());
    }

    private static void Randomise(ImageConvolution conv, Generator generator)
    {
        using var noGrad = no_grad();
        foreach (var p in conv.parameters())
            p.copy_(randn(p.shape, p.dtype, generator: generator).mul_(0.2));
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        double scale = Math.Max(1, expected.abs().max().to(ScalarType.Float64).item<double>());
        double error = (expected.to(ScalarType.Float64) - actual.to(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(error <= tolerance * scale, $"max |difference| {error:E2} exceeds {tolerance * scale:E2}");
    }
}
