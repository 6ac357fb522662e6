using Components.Samplers.Energies;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Components.Samplers.L2hmc;

/// <summary>
/// L2HMC's augmented leapfrog (reference <c>utils/dynamics.py</c>): trainable step size ε = exp(α), a momentum
/// network and a position network, and for each of the T leapfrog steps a fixed random mask m with ⌊d/2⌋ ones.
/// A proposal runs T steps forward (direction d = +1, step k uses mask and time of index k) or backward
/// (d = −1, the exact inverse steps with index T−k−1), chosen per chain, and tracks log|det J|.
/// </summary>
/// <remarks>
/// Forward step (grad = ∂U):
/// <c>v' = v⊙exp(½εS_v) + ½ε(−exp(εQ_v)⊙∂U(x) + T_v)</c>;
/// <c>y = m⊙x + m̄⊙(x⊙exp(εS_x) + ε(exp(εQ_x)⊙v' + T_x))</c> with nets on <c>(v', m⊙x, t)</c>;
/// <c>x' = m̄⊙y + m⊙(y⊙exp(εS_x) + ε(exp(εQ_x)⊙v' + T_x))</c> with nets on <c>(v', m̄⊙y, t)</c>;
/// <c>v'' = v'⊙exp(½εS_v) + ½ε(−exp(εQ_v)⊙∂U(x') + T_v)</c>;
/// log|J| gains <c>Σ(½εS_v + ½εS_v' + m̄⊙εS_x + m⊙εS_x')</c>. The backward step inverts each update exactly
/// (subtract the translation, then divide by the scale: <c>exp(−εS)⊙(x − ε(exp(εQ)⊙v + T))</c>; the TF eager
/// port's <c>+ T</c> there is the known porting bug) and gains the negated log-scales.
/// Both directions are computed in one pass: with f = 1 for forward chains and b = 1 − f, each update is
/// <c>z' = (z − b⊙c)⊙exp(±s) + f⊙c</c>, which is bit-for-bit the forward update when f = 1 and the inverse when f = 0.
/// </remarks>
internal sealed class L2hmcDynamics : Module
{
    private readonly L2hmcNetwork vnet;
    private readonly L2hmcNetwork xnet;
    private readonly Parameter alpha;
    private readonly Tensor masks;
    private readonly float[] _times;

    /// <summary>Creates the dynamics with two-layer networks of width <paramref name="hiddenUnits"/> (the SCG notebook's).</summary>
    public L2hmcDynamics(int dimension, int leapfrogSteps, int hiddenUnits, double stepSize, bool trainStepSize, Generator generator)
        : this(dimension, leapfrogSteps, [hiddenUnits, hiddenUnits], stepSize, trainStepSize, generator)
    {
    }

    /// <summary>Creates the dynamics.</summary>
    /// <param name="dimension">State dimension d.</param>
    /// <param name="leapfrogSteps">Leapfrog steps T per proposal.</param>
    /// <param name="hiddenWidths">Layer widths of both networks (<see cref="L2hmcNetwork"/>: embedding width, then
    /// each hidden layer's).</param>
    /// <param name="stepSize">Initial ε (reference: 0.1).</param>
    /// <param name="trainStepSize">Whether α = log ε is trained.</param>
    /// <param name="generator">CPU generator for masks and weights.</param>
    public L2hmcDynamics(int dimension, int leapfrogSteps, IReadOnlyList<int> hiddenWidths, double stepSize, bool trainStepSize, Generator generator)
        : base("L2hmcDynamics")
    {
        Dimension = dimension;
        LeapfrogSteps = leapfrogSteps;
        HiddenWidths = hiddenWidths.ToArray();
        // Masks first (the reference draws them at construction), then the networks.
        var m = new float[leapfrogSteps * dimension];
        for (int k = 0; k < leapfrogSteps; k++)
        {
            using var perm = torch.randperm(dimension, generator: generator);
            var idx = perm.data<long>().ToArray();
            for (int i = 0; i < dimension / 2; i++)
                m[k * dimension + idx[i]] = 1;
        }
        masks = torch.tensor(m, [leapfrogSteps, dimension]);
        vnet = new L2hmcNetwork("VNet", dimension, HiddenWidths, 1.0, generator);
        xnet = new L2hmcNetwork("XNet", dimension, HiddenWidths, 2.0, generator);
        alpha = new Parameter(torch.tensor((float)Math.Log(stepSize)), requires_grad: trainStepSize);
        _times = new float[leapfrogSteps * 2];
        for (int k = 0; k < leapfrogSteps; k++)
        {
            _times[2 * k] = (float)Math.Cos(2 * Math.PI * k / leapfrogSteps);
            _times[2 * k + 1] = (float)Math.Sin(2 * Math.PI * k / leapfrogSteps);
        }
        RegisterComponents();
        DetachState();
    }

    /// <summary>
    /// Removes every parameter and buffer from the caller's dispose scope: the module owns them for its whole life
    /// (it may be built, loaded or moved inside a scope).
    /// </summary>
    internal void DetachState()
    {
        foreach (var p in parameters())
            p.DetachFromDisposeScope();
        foreach (var b in buffers())
            b.DetachFromDisposeScope();
    }

    /// <summary>State dimension d.</summary>
    public int Dimension { get; }

    /// <summary>Leapfrog steps T.</summary>
    public int LeapfrogSteps { get; }

    /// <summary>Layer widths of the networks (embedding, then each hidden layer).</summary>
    public IReadOnlyList<int> HiddenWidths { get; }

    /// <summary>The log step size α (a trainable scalar).</summary>
    public Parameter Alpha => alpha;

    /// <summary>The current ε = exp(α).</summary>
    public double StepSize
    {
        get
        {
            using var e = alpha.detach().exp();
            return e.item<float>();
        }
    }

    /// <summary>The masks, <c>[T, d]</c> (1 = coordinate kept fixed in the first position update of a forward step).</summary>
    public Tensor Masks => masks;

    /// <summary>Sets every network head to zero: S = T = Q = 0, so the dynamics are plain leapfrog.</summary>
    public void ZeroNetworks()
    {
        vnet.ZeroHeads();
        xnet.ZeroHeads();
    }

    /// <summary>
    /// Runs the T augmented leapfrog steps from <c>(x, v)</c>, forward for the chains where
    /// <paramref name="forward"/> is true and backward elsewhere.
    /// </summary>
    /// <param name="energy">The target.</param>
    /// <param name="x">Positions <c>[B, d]</c>.</param>
    /// <param name="v">Momenta <c>[B, d]</c>.</param>
    /// <param name="forward">Directions <c>[B]</c> (bool).</param>
    /// <param name="gradient">∂U(x) <c>[B, d]</c>.</param>
    /// <param name="createGraph">Keep the graph of every ∂U (training: the loss differentiates through it).</param>
    /// <returns>Proposal <c>(x', v')</c>, log|det J| <c>[B]</c>, and U, ∂U at x'.</returns>
    public (Tensor X, Tensor V, Tensor LogDet, Tensor Energy, Tensor Gradient) Propose(EnergyFunction energy, Tensor x, Tensor v,
        Tensor forward, Tensor gradient, bool createGraph)
    {
        using var scope = torch.NewDisposeScope();
        var device = x.device;
        int steps = LeapfrogSteps;
        var eps = alpha.exp();
        var halfEps = 0.5f * eps;
        var f = forward.to_type(ScalarType.Float32).unsqueeze(1);   // [B, 1]
        var b = 1.0f - f;
        var sign = f - b;                                           // +1 forward, −1 backward
        var signEps = sign * eps;
        var signHalfEps = sign * halfEps;
        // Per chain and step: index k for forward chains, T−k−1 for backward chains.
        var mk = masks.to(device);
        var times = torch.tensor(_times, [steps, 2], device: device);
        var f3 = f.unsqueeze(2);
        var b3 = b.unsqueeze(2);
        var m = f3 * mk.unsqueeze(0) + b3 * mk.flip(0).unsqueeze(0);          // [B, T, d]
        var fixedAll = f3 * m + b3 * (1.0f - m);                              // coordinates kept in the first position update
        var timeAll = f3 * times.unsqueeze(0) + b3 * times.flip(0).unsqueeze(0);   // [B, T, 2]
        Tensor g = gradient, u = null!;
        var logDet = torch.zeros([x.shape[0]], ScalarType.Float32, device);
        for (int k = 0; k < steps; k++)
        {
            var t = timeAll.select(1, k);
            var fixed1 = fixedAll.select(1, k);
            var fixed2 = 1.0f - fixed1;

            var (s, tr, q) = vnet.forward(x, g, t);
            (v, var ld) = MomentumUpdate(v, g, s, tr, q, eps, halfEps, signHalfEps, f, b);
            logDet = logDet + ld;

            (s, tr, q) = xnet.forward(v, fixed1 * x, t);
            (x, ld) = PositionUpdate(x, v, s, tr, q, eps, signEps, fixed1, fixed2, f, b);
            logDet = logDet + ld;

            (s, tr, q) = xnet.forward(v, fixed2 * x, t);
            (x, ld) = PositionUpdate(x, v, s, tr, q, eps, signEps, fixed2, fixed1, f, b);
            logDet = logDet + ld;

            (u, g) = energy.EnergyAndGradient(x, createGraph);
            (s, tr, q) = vnet.forward(x, g, t);
            (v, ld) = MomentumUpdate(v, g, s, tr, q, eps, halfEps, signHalfEps, f, b);
            logDet = logDet + ld;
        }
        return (x.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope(), logDet.MoveToOuterDisposeScope(),
            u.MoveToOuterDisposeScope(), g.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Forward: <c>v⊙exp(½εS) + c</c>; backward: <c>(v − c)⊙exp(−½εS)</c>, with <c>c = ½ε(−exp(εQ)⊙g + T)</c>.
    /// </summary>
    private static (Tensor V, Tensor LogDet) MomentumUpdate(Tensor v, Tensor g, Tensor s, Tensor tr, Tensor q, Tensor eps, Tensor halfEps,
        Tensor signHalfEps, Tensor f, Tensor b)
    {
        var logScale = signHalfEps * s;
        var c = halfEps * (tr - (eps * q).exp() * g);
        var vNew = (v - b * c) * logScale.exp() + f * c;
        return (vNew, logScale.sum(1));
    }

    /// <summary>
    /// Updates the coordinates outside <paramref name="fixedMask"/>: forward <c>x⊙exp(εS) + c</c>, backward
    /// <c>(x − c)⊙exp(−εS)</c>, with <c>c = ε(exp(εQ)⊙v + T)</c>.
    /// </summary>
    private static (Tensor X, Tensor LogDet) PositionUpdate(Tensor x, Tensor v, Tensor s, Tensor tr, Tensor q, Tensor eps, Tensor signEps,
        Tensor fixedMask, Tensor updatedMask, Tensor f, Tensor b)
    {
        var logScale = updatedMask * (signEps * s);
        var c = eps * ((eps * q).exp() * v + tr);
        var xu = (x - b * c) * logScale.exp() + f * c;
        return (fixedMask * x + updatedMask * xu, logScale.sum(1));
    }
}
