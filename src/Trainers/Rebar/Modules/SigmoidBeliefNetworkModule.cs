using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Components.Trainers.Rebar.Modules;

/// <summary>
/// A sigmoid belief network p(x, b₁…b_L) = p(b_L)·Π p(b_{l−1} | b_l)·p(x | b₁) with binary x and latent layers of equal width,
/// and its recognition model q(b₁ | x)·Π q(b_l | b_{l−1}) (Tucker et al. 2017, §6: linear layers, or "nonlinear": two
/// tanh layers of the same width before each logit layer). Inputs to a layer are 2a − 1 (x − mean(x) for the first
/// recognition layer); the output logits of x carry the bias logit(mean(x)) (the reference's <c>train_bias</c>).
/// <c>forward</c> returns q(b₁ = 1 | x).
/// </summary>
public sealed class SigmoidBeliefNetworkModule : Module<Tensor, Tensor>
{
    private readonly ModuleList<Module<Tensor, Tensor>> _recognition;
    private readonly ModuleList<Module<Tensor, Tensor>> _generative;
    private readonly Parameter _prior;
    private readonly Tensor _meanX;
    private readonly Tensor _outputBias;

    /// <summary>Input width (pixels).</summary>
    public int InputWidth { get; }

    /// <summary>Bernoulli variables per latent layer.</summary>
    public int LatentWidth { get; }

    /// <summary>Stochastic layers (1 or 2 in the paper).</summary>
    public int Layers { get; }

    /// <summary>Whether each transformation has two tanh layers before its logits.</summary>
    public bool Nonlinear { get; }

    internal SigmoidBeliefNetworkModule(int inputWidth, int latentWidth, int layers, bool nonlinear) : base("SigmoidBeliefNetwork")
    {
        InputWidth = inputWidth;
        LatentWidth = latentWidth;
        Layers = layers;
        Nonlinear = nonlinear;
        _recognition = new ModuleList<Module<Tensor, Tensor>>();
        _generative = new ModuleList<Module<Tensor, Tensor>>();
        for (int l = 0; l < layers; l++)
        {
            _recognition.Add(Transformation(l == 0 ? inputWidth : latentWidth, latentWidth, nonlinear));
            _generative.Add(Transformation(latentWidth, l == 0 ? inputWidth : latentWidth, nonlinear));
        }
        _prior = new Parameter(zeros(latentWidth));
        _meanX = zeros(inputWidth);
        _outputBias = zeros(inputWidth);
        register_module("recognition", _recognition);
        register_module("generative", _generative);
        register_parameter("prior", _prior);
        register_buffer("mean_x", _meanX);
        register_buffer("output_bias", _outputBias);
    }

    private static Module<Tensor, Tensor> Transformation(int input, int output, bool nonlinear) => nonlinear
        ? nn.Sequential(nn.Linear(input, OutputOf(input, output)), nn.Tanh(), nn.Linear(OutputOf(input, output), OutputOf(input, output)), nn.Tanh(), nn.Linear(OutputOf(input, output), output))
        : nn.Linear(input, output);

    // Hidden width of a nonlinear transformation: the latent width (the smaller side; 200 in the paper).
    private static int OutputOf(int input, int output) => Math.Min(input, output);

    /// <summary>Builds the network and initialises it from <paramref name="generator"/>: weights uniform with variance
    /// 1/fan-in, biases and prior 0, the output bias logit(clip(mean x, 0.001, 0.999)).</summary>
    public static SigmoidBeliefNetworkModule Create(int inputWidth, int latentWidth, int layers, bool nonlinear, Tensor meanX, Generator generator)
    {
        var module = new SigmoidBeliefNetworkModule(inputWidth, latentWidth, layers, nonlinear);
        using var _ = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            if (p.dim() == 2)
            {
                double bound = Math.Sqrt(3.0 / p.shape[1]);
                p.copy_((rand(p.shape, generator: generator) * 2 - 1) * bound);
            }
            else
                p.zero_();
        }
        var m = meanX.to(ScalarType.Float32).cpu();
        module._meanX.copy_(m);
        var clipped = m.clamp(0.001, 0.999);
        module._outputBias.copy_((clipped / (1 - clipped)).log());
        return module;
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => RecognitionLogits(0, x - _meanX).sigmoid();

    private Tensor RecognitionLogits(int layer, Tensor input) => _recognition[layer].forward(input);

    /// <summary>
    /// The per-row loss f = −log p(x, b) + log q(b | x) (the negative ELBO of one sample) with the layers drawn by
    /// <paramref name="layers"/>. The log q term uses the logits with a stop-gradient: its expected gradient is zero,
    /// and the reference drops it as well (its "reinforce_model_grad" is log p only); every estimator stays unbiased.
    /// </summary>
    public Tensor NegativeElbo(BernoulliLayers layers, Tensor x)
    {
        var logq = zeros(x.shape[0], x.dtype, x.device);
        var samples = new Tensor[Layers];
        var input = x - _meanX;
        for (int l = 0; l < Layers; l++)
        {
            var logits = RecognitionLogits(l, input);
            samples[l] = layers.Sample(logits);
            logq = logq + BernoulliRelaxation.LogLikelihood(samples[l], logits.detach());
            input = 2 * samples[l] - 1;
        }
        return LogQMinusLogP(x, samples, logq);
    }

    /// <summary>log q(b | x) − log p(x, b) for hard samples drawn from uniforms <paramref name="u"/> (one per layer), with the real logits.</summary>
    internal Tensor LogWeight(Tensor x, IReadOnlyList<Tensor> u)
    {
        var logq = zeros(x.shape[0], x.dtype, x.device);
        var samples = new Tensor[Layers];
        var input = x - _meanX;
        for (int l = 0; l < Layers; l++)
        {
            var logits = RecognitionLogits(l, input);
            samples[l] = BernoulliRelaxation.Hard(BernoulliRelaxation.Logistic(logits, u[l]));
            logq = logq + BernoulliRelaxation.LogLikelihood(samples[l], logits);
            input = 2 * samples[l] - 1;
        }
        return -LogQMinusLogP(x, samples, logq); // log w = log p − log q
    }

    private Tensor LogQMinusLogP(Tensor x, Tensor[] samples, Tensor logq)
    {
        var logp = BernoulliRelaxation.LogLikelihood(samples[Layers - 1], _prior.expand(x.shape[0], LatentWidth));
        for (int l = Layers - 1; l >= 0; l--)
        {
            var logits = _generative[l].forward(2 * samples[l] - 1);
            logp = logp + (l == 0 ? BernoulliRelaxation.LogLikelihood(x, logits + _outputBias) : BernoulliRelaxation.LogLikelihood(samples[l - 1], logits));
        }
        return logq - logp;
    }
}
