using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// Small CNN for single-channel images: per block a 5×5 convolution (libtorch conv2d, zero padding 2, so the side is kept; see <see cref="ImageConvolution"/>), φ and a 2×2
/// max-pool (halving the side), optionally after a <see cref="RetinaLayer"/>; then flatten, the fully connected hidden layers with φ, and a linear output layer.
/// </summary>
internal sealed class CnnModule : NeuralNetworkModule
{
    // Field names are the state-dict keys of saved models ("convs.0.weight", "dense.0.weight", …): do not rename.
#pragma warning disable IDE1006
    private readonly ModuleList<ImageConvolution> convs;
    private readonly ModuleList<Linear> dense;
    private readonly RetinaLayer? retina; // no parameters: adds nothing to the state dict
#pragma warning restore IDE1006
    private readonly long _height;
    private readonly long _width;

    public CnnModule(NeuralNetworkArchitecture architecture)
        : base("NeuralNetworkCnn", architecture)
    {
        _height = architecture.ImageHeight;
        _width = architecture.ImageWidth;
        var channels = architecture.ConvolutionChannels;
        var conv = new ImageConvolution[channels.Count];
        long inChannels = 1;
        for (int i = 0; i < conv.Length; i++)
        {
            conv[i] = new ImageConvolution(inChannels, channels[i], NeuralNetworkArchitecture.ConvolutionKernelSize);
            inChannels = channels[i];
        }
        int flat = architecture.LayerSizes[channels.Count - 1];
        var dims = architecture.HiddenLayerWidths.Prepend(flat).Append(architecture.OutputSize).ToArray();
        var lin = new Linear[dims.Length - 1];
        for (int i = 0; i < lin.Length; i++)
            lin[i] = nn.Linear(dims[i], dims[i + 1]);
        convs = new ModuleList<ImageConvolution>(conv);
        dense = new ModuleList<Linear>(lin);
        if (architecture.Retina is { } settings)
            retina = new RetinaLayer(settings, 1, architecture.ImageHeight, architecture.ImageWidth);
        RegisterComponents();
    }

    private protected override Tensor Run(Tensor input, Tensor?[]? captured)
    {
        var x = input.reshape(input.shape[0], 1, _height, _width);
        if (retina is not null)
            x = retina.forward(x);
        int layer = 0;
        foreach (var conv in convs)
        {
            x = nn.functional.max_pool2d(Activate(conv.forward(x)), 2);
            layer++;
            if (captured is not null)
                captured[layer] = x;
        }
        x = x.flatten(1);
        int last = dense.Count - 1;
        for (int i = 0; i < last; i++)
        {
            x = Activate(dense[i].forward(x));
            layer++;
            if (captured is not null)
                captured[layer] = x;
        }
        return dense[last].forward(x);
    }

    internal override IEnumerable<Parameter> LayerParameters(int layer)
        => layer <= convs.Count ? convs[layer - 1].parameters() : dense[layer - convs.Count - 1].parameters();
}
