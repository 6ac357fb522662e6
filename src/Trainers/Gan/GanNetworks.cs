using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.Gan;

/// <summary>The generator G: noise [B, latent] → data rows [B, data].</summary>
public sealed class GanGenerator : nn.Module<Tensor, Tensor>
{
    // Field names are state-dict keys of saved models: do not rename.
#pragma warning disable IDE1006
    private readonly ModuleList<Linear> layers;
    private readonly ModuleList<ConvTranspose2d> deconvs;
#pragma warning restore IDE1006

    /// <summary>Builds an untrained generator with initial weights from <paramref name="generator"/> (CPU).</summary>
    public GanGenerator(GanArchitecture architecture, Generator? generator = null)
        : base("GanGenerator")
    {
        ArgumentNullException.ThrowIfNull(architecture);
        Architecture = architecture;
        if (architecture.Kind == GanNetworkKind.Mlp)
        {
            var dims = architecture.HiddenUnits.Prepend(architecture.LatentSize).Append(architecture.DataSize).ToArray();
            layers = new ModuleList<Linear>([.. Enumerable.Range(0, dims.Length - 1).Select(i => nn.Linear(dims[i], dims[i + 1]))]);
            deconvs = new ModuleList<ConvTranspose2d>();
        }
        else
        {
            int c = architecture.Channels;
            layers = new ModuleList<Linear>(nn.Linear(architecture.LatentSize, 2 * c * 7 * 7));
            deconvs = new ModuleList<ConvTranspose2d>(
                nn.ConvTranspose2d(2 * c, c, 4, stride: 2, padding: 1),
                nn.ConvTranspose2d(c, 1, 4, stride: 2, padding: 1));
        }
        RegisterComponents();
        GanInitialization.Initialize(this, generator);
    }

    /// <summary>The architecture.</summary>
    public GanArchitecture Architecture { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (Architecture.Kind == GanNetworkKind.Mlp)
        {
            var x = input;
            int last = layers.Count - 1;
            for (int i = 0; i < last; i++)
                x = nn.functional.relu(layers[i].forward(x));
            return layers[last].forward(x);
        }
        int c = Architecture.Channels;
        var h = nn.functional.relu(layers[0].forward(input)).view(-1, 2 * c, 7, 7);
        h = nn.functional.relu(deconvs[0].forward(h));
        return torch.sigmoid(deconvs[1].forward(h)).view(-1, Architecture.DataSize);
    }
}

/// <summary>The discriminator: data rows [B, data] → log density ratio r(x) = log p_data(x)/q_G(x), [B] (its logit).</summary>
public sealed class GanDiscriminator : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly ModuleList<Linear> layers;
    private readonly ModuleList<Conv2d> convs;
#pragma warning restore IDE1006

    /// <summary>Builds an untrained discriminator with initial weights from <paramref name="generator"/> (CPU).</summary>
    public GanDiscriminator(GanArchitecture architecture, Generator? generator = null)
        : base("GanDiscriminator")
    {
        ArgumentNullException.ThrowIfNull(architecture);
        Architecture = architecture;
        if (architecture.Kind == GanNetworkKind.Mlp)
        {
            var dims = architecture.HiddenUnits.Prepend(architecture.DataSize).Append(1).ToArray();
            layers = new ModuleList<Linear>([.. Enumerable.Range(0, dims.Length - 1).Select(i => nn.Linear(dims[i], dims[i + 1]))]);
            convs = new ModuleList<Conv2d>();
        }
        else
        {
            int c = architecture.Channels;
            convs = new ModuleList<Conv2d>(
                nn.Conv2d(1, c, 4, stride: 2, padding: 1),
                nn.Conv2d(c, 2 * c, 4, stride: 2, padding: 1));
            layers = new ModuleList<Linear>(nn.Linear(2 * c * 7 * 7, 1));
        }
        RegisterComponents();
        GanInitialization.Initialize(this, generator);
    }

    /// <summary>The architecture.</summary>
    public GanArchitecture Architecture { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        var x = input;
        if (Architecture.Kind == GanNetworkKind.Dcgan)
        {
            x = x.view(-1, 1, GanArchitecture.ImageSide, GanArchitecture.ImageSide);
            foreach (var conv in convs)
                x = nn.functional.leaky_relu(conv.forward(x), 0.2);
            x = x.flatten(1);
        }
        int last = layers.Count - 1;
        for (int i = 0; i < last; i++)
            x = nn.functional.leaky_relu(layers[i].forward(x), 0.2);
        return layers[last].forward(x).squeeze(-1);
    }
}

/// <summary>Seeded initial weights: PyTorch's default (Kaiming-uniform, bound 1/√fan_in) drawn from the component's generator.</summary>
internal static class GanInitialization
{
    public static void Initialize(nn.Module module, Generator? generator)
    {
        if (generator is null)
            return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            // weight [out, in, …] (Linear, Conv2d) or [in, out, …] (ConvTranspose2d); bias takes its weight's fan-in.
            long fanIn = FanIn(module, name);
            double bound = 1 / Math.Sqrt(fanIn);
            p.copy_(rand(p.shape, ScalarType.Float32, generator: generator).mul_(2 * bound).sub_(bound));
        }
    }

    private static long FanIn(nn.Module module, string name)
    {
        string weightName = name.EndsWith(".bias", StringComparison.Ordinal) ? name[..^5] + ".weight" : name;
        var weight = module.named_parameters().First(np => np.name == weightName).parameter;
        var s = weight.shape;
        long receptive = s.Skip(2).Aggregate(1L, (a, b) => a * b);
        return s[1] * receptive; // as PyTorch: size(1)·k·k, also for ConvTranspose2d's [in, out, k, k]
    }
}
