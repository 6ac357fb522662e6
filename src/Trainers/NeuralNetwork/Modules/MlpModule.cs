using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>Multilayer perceptron: Linear → φ for each hidden width, then a linear output layer.</summary>
internal sealed class MlpModule : NeuralNetworkModule
{
    // Field names are the state-dict keys of saved models ("layers.0.weight", …): do not rename.
#pragma warning disable IDE1006
    private readonly ModuleList<Linear> layers;
#pragma warning restore IDE1006

    public MlpModule(NeuralNetworkArchitecture architecture)
        : base("NeuralNetworkMlp", architecture)
    {
        var dims = architecture.HiddenLayerWidths.Prepend(architecture.InputSize).Append(architecture.OutputSize).ToArray();
        var list = new Linear[dims.Length - 1];
        for (int i = 0; i < list.Length; i++)
            list[i] = nn.Linear(dims[i], dims[i + 1]);
        layers = new ModuleList<Linear>(list);
        RegisterComponents();
    }

    private protected override Tensor Run(Tensor input, Tensor?[]? captured)
    {
        var x = input;
        int last = layers.Count - 1;
        for (int i = 0; i < last; i++)
        {
            x = Activate(layers[i].forward(x));
            if (captured is not null)
                captured[i + 1] = x;
        }
        return layers[last].forward(x);
    }

    internal override IEnumerable<Parameter> LayerParameters(int layer) => layers[layer - 1].parameters();
}
