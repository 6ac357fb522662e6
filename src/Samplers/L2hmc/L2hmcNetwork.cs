using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Components.Samplers.L2hmc;

/// <summary>
/// One of L2HMC's two networks: three linear embeddings of its inputs (first, second, time) of width
/// <c>widths[0]</c> summed, ReLU, then for each further width a linear layer and ReLU, then three heads
/// <c>S = exp(s_S)·tanh(W_S h)</c>, <c>T = W_T h</c>, <c>Q = exp(s_Q)·tanh(W_Q h)</c>.
/// Widths <c>[h, h]</c> are the SCGExperiment.ipynb architecture (one hidden layer after the embeddings), <c>[50, 100, 50]</c>
/// the reference eval_toy.py one (two). The momentum network takes <c>(x, ∂U(x), t)</c>, the position network <c>(v, m ⊙ x, t)</c>.
/// Linear weights are He-normal as TF's variance_scaling_initializer(2·factor, FAN_IN, truncated normal):
/// std = √(1.3·2·factor / fan_in), truncated at ±2 std; biases 0; the log-scales start at 0.
/// </summary>
internal sealed class L2hmcNetwork : Module<Tensor, Tensor, Tensor, (Tensor S, Tensor T, Tensor Q)>
{
    private readonly Linear embed1;
    private readonly Linear embed2;
    private readonly Linear embed3;
    private readonly Linear hidden;
    private readonly ModuleList<Linear> deeper;
    private readonly Linear headS;
    private readonly Linear headT;
    private readonly Linear headQ;
    private readonly Parameter scaleS;
    private readonly Parameter scaleQ;

    /// <summary>Creates the network.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="dimension">State dimension d.</param>
    /// <param name="widths">Width of the embedding layer, then of each hidden layer after it (two or more entries;
    /// SCG notebook: [10, 10]).</param>
    /// <param name="secondInputFactor">Init factor of the second embedding (momentum net 1, position net 2).</param>
    /// <param name="generator">CPU generator for the initialisation.</param>
    public L2hmcNetwork(string name, int dimension, IReadOnlyList<int> widths, double secondInputFactor, Generator generator)
        : base(name)
    {
        if (widths.Count < 2)
            throw new ArgumentException("An L2HMC network needs an embedding width and at least one hidden layer width.", nameof(widths));
        int h0 = widths[0], last = widths[^1];
        embed1 = Linear(dimension, h0);
        embed2 = Linear(dimension, h0);
        embed3 = Linear(2, h0);
        // The first hidden layer keeps its name "hidden" so that models saved with two-layer networks still load.
        hidden = Linear(h0, widths[1]);
        deeper = new ModuleList<Linear>(Enumerable.Range(2, widths.Count - 2).Select(i => Linear(widths[i - 1], widths[i])).ToArray());
        headS = Linear(last, dimension);
        headT = Linear(last, dimension);
        headQ = Linear(last, dimension);
        scaleS = new Parameter(torch.zeros(1, dimension));
        scaleQ = new Parameter(torch.zeros(1, dimension));
        using (torch.no_grad())
        {
            Init(embed1, 1.0 / 3, generator);
            Init(embed2, secondInputFactor / 3, generator);
            Init(embed3, 1.0 / 3, generator);
            Init(hidden, 1.0, generator);
            foreach (var layer in deeper)
                Init(layer, 1.0, generator);
            Init(headS, 0.001, generator);
            Init(headT, 0.001, generator);
            Init(headQ, 0.001, generator);
        }
        RegisterComponents();
    }

    public override (Tensor S, Tensor T, Tensor Q) forward(Tensor first, Tensor second, Tensor time)
    {
        using var scope = torch.NewDisposeScope();
        var h = functional.relu(embed1.forward(first) + embed2.forward(second) + embed3.forward(time));
        h = functional.relu(hidden.forward(h));
        foreach (var layer in deeper)
            h = functional.relu(layer.forward(h));
        var s = scaleS.exp() * headS.forward(h).tanh();
        var t = headT.forward(h);
        var q = scaleQ.exp() * headQ.forward(h).tanh();
        return (s.MoveToOuterDisposeScope(), t.MoveToOuterDisposeScope(), q.MoveToOuterDisposeScope());
    }

    /// <summary>Sets the three heads to zero, so that S = T = Q = 0 (the network then reduces L2HMC to HMC).</summary>
    public void ZeroHeads()
    {
        using var noGrad = torch.no_grad();
        foreach (var l in new[] { headS, headT, headQ })
        {
            l.weight!.zero_();
            l.bias!.zero_();
        }
    }

    private static void Init(Linear layer, double factor, Generator generator)
    {
        var w = layer.weight!;
        long fanIn = w.shape[1];
        double std = Math.Sqrt(1.3 * 2.0 * factor / fanIn);
        using var scope = torch.NewDisposeScope();
        var z = torch.randn(w.shape, generator: generator);
        // Truncated normal at ±2 std: redraw outliers until none remain.
        for (int i = 0; i < 100; i++)
        {
            var outside = z.abs().gt(2.0);
            if (!outside.any().item<bool>())
                break;
            z = torch.where(outside, torch.randn(w.shape, generator: generator), z);
        }
        w.copy_(z * std);
        layer.bias!.zero_();
    }
}
