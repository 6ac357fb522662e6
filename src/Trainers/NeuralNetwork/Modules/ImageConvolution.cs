using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// A square 2-D convolution with "same" zero padding (odd kernel, stride 1), computed by libtorch's <c>conv2d</c>.
/// Parameters have <c>nn.Conv2d</c>'s layout and names (<c>weight</c> [out, in, k, k], <c>bias</c> [out]).
/// </summary>
/// <remarks>
/// An earlier build computed every convolution as im2col (<c>unfold</c>) + one matrix product because <c>conv2d</c>'s
/// input gradient had been seen to contain NaN on this machine. The minimal reproduction
/// (<c>conv-nan</c> benchmark runner: threads 1 and 2, float32 through oneDNN and with oneDNN switched off, float64
/// through slow_conv2d, contiguous and strided output gradients, memory filled with NaN or 1e30 before each step) and
/// the same computation in PyTorch 1.13 found no NaN and agreement with a float64 reference to 4e-6, and the
/// benchmark that reported it gives 0 of 40 now (docs/trainers/neural-network.md, "Convolutions"). The im2col path
/// stays as the independent reference the tests compare with (<see cref="ForwardUnfold"/>) and as the
/// benchmark's "before" (<see cref="UseUnfold"/>); it is 3–15× slower.
/// </remarks>
internal sealed class ImageConvolution : nn.Module<Tensor, Tensor>
{
    // Field names are the state-dict keys ("weight", "bias"), as in nn.Conv2d: do not rename.
#pragma warning disable IDE1006
    private readonly Parameter weight;
    private readonly Parameter bias;
#pragma warning restore IDE1006
    private readonly long _kernel;
    private readonly long _outChannels;

    public ImageConvolution(long inChannels, long outChannels, long kernelSize)
        : base("ImageConvolution")
    {
        if (kernelSize % 2 != 1)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "The kernel size must be odd for same padding.");
        _kernel = kernelSize;
        _outChannels = outChannels;
        // Parameters outlive any dispose scope the caller may have opened (nn.Linear's native parameters do too).
        weight = new Parameter(zeros(outChannels, inChannels, kernelSize, kernelSize).DetachFromDisposeScope());
        weight.DetachFromDisposeScope();
        bias = new Parameter(zeros(outChannels).DetachFromDisposeScope());
        bias.DetachFromDisposeScope();
        RegisterComponents();
    }

    /// <summary>
    /// Benchmarks only: compute with <see cref="ForwardUnfold"/> instead of <c>conv2d</c> (the implementation before
    /// native convolutions), to measure both in one run. Never set by the library.
    /// </summary>
    internal static bool UseUnfold { get; set; }

    /// <summary>x [B, in, H, W] → [B, out, H, W].</summary>
    public override Tensor forward(Tensor input)
    {
        if (UseUnfold)
            return ForwardUnfold(input);
        long pad = _kernel / 2;
        return nn.functional.conv2d(input, weight, bias, padding: [pad, pad]);
    }

    /// <summary>The same convolution as im2col (<c>unfold</c>) + one matrix product: the independent reference.</summary>
    internal Tensor ForwardUnfold(Tensor input)
    {
        using var scope = NewDisposeScope();
        long b = input.shape[0], h = input.shape[2], w = input.shape[3];
        var columns = nn.functional.unfold(input, _kernel, padding: _kernel / 2); // [B, in·k·k, H·W]
        var output = weight.view(_outChannels, -1).matmul(columns).add(bias.view(1, -1, 1)); // [B, out, H·W]
        return output.view(b, _outChannels, h, w).MoveToOuterDisposeScope();
    }
}
