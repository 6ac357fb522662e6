using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// A square 2-D convolution with "same" zero padding (odd kernel, stride 1), computed as im2col (<c>unfold</c>) and
/// one matrix product. Parameters have <c>nn.Conv2d</c>'s layout and names (<c>weight</c> [out, in, k, k],
/// <c>bias</c> [out]).
/// </summary>
/// <remarks>
/// Why not <c>nn.Conv2d</c>: with the libtorch 2.10 CPU build shipped in TorchSharp-cpu 0.107.0, the input gradient of
/// <c>conv2d</c> contains NaN at random for small channel counts (measured on a 2-core Debian 12 machine: 20–22 of 40
/// backward passes of an isolated 4→8-channel 5×5 convolution, 39 of 40 training steps of a 1→4→8 network at two
/// threads; see docs/benchmarks.md), which makes training diverge. The forward pass is correct. <c>unfold</c> +
/// <c>matmul</c> has a correct backward pass at the price of speed (3–15× slower per step); the tests compare its
/// forward pass with <c>conv2d</c>. A custom autograd function (conv2d forward, hand-written backward) was rejected:
/// an exception in a TorchSharp custom backward terminates the process.
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

    /// <summary>x [B, in, H, W] → [B, out, H, W].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        long b = input.shape[0], h = input.shape[2], w = input.shape[3];
        var columns = nn.functional.unfold(input, _kernel, padding: _kernel / 2); // [B, in·k·k, H·W]
        var output = weight.view(_outChannels, -1).matmul(columns).add(bias.view(1, -1, 1)); // [B, out, H·W]
        return output.view(b, _outChannels, h, w).MoveToOuterDisposeScope();
    }
}
