using Components.Core.Randomness;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>The update the rule proposes for one base network: per layer ΔW (in × out) and Δb (out), a change direction
/// (the inner loop applies W ← W + lr·ΔW).</summary>
public sealed record RuleUpdate(Tensor[] DeltaW, Tensor[] DeltaBias);

/// <summary>
/// The neuron-local unsupervised update rule of Metz et al. (ICLR 2019, arXiv:1804.00222) as a TorchSharp module:
/// a top-down error signal from the output embedding, one per-unit network (shared by every unit of every layer) over
/// forward activations, pre-activations, the error signal and weight statistics, the error signal carried down through
/// the random backward weights, and seven weight-update terms merged by learned weights and normalised per receptive field.
/// </summary>
/// <remarks>
/// <para>A new rule is untrained (its seeded initialisation); the meta-trainer (<c>MetaTraining/</c>) trains it, the meta-trained rule
/// ships as <c>Weights/rule-shipped.bin</c> (<see cref="LocalUpdateRuleFile.LoadShipped"/>), and <c>ml.Transforms.MetaLearnedFeaturizer</c>
/// applies it.</para>
/// <para>Every operation is per unit, or pools over the batch, or over all units of a layer (a mean): no parameter depends on a
/// width or the depth, so one rule applies to any base network, and with <see cref="LocalUpdateRuleOptions.UseUnitIds"/> off
/// permuting hidden units permutes the update. Simplifications against the reference are listed in
/// docs/transforms/meta-learned-featurizer.md.</para>
/// </remarks>
public sealed class LocalUpdateRule : nn.Module
{
    /// <summary>Random purpose of the rule's initialisation.</summary>
    public const string InitPurpose = "meta-learned-featurizer.rule-init";

    /// <summary>Number of ΔW terms merged: Hebbian, 0-order readout, rbf, 1st-order, decorrelation, large decay, base.</summary>
    public const int TermCount = 7;

    private const double Eps = 1e-6;

#pragma warning disable IDE1006 // field names are the module's parameter names
    private readonly Parameter top_w1, top_b1, top_w2, top_b2;
    private readonly Parameter unit_w1, unit_b1, unit_w2, unit_b2;
    private readonly Parameter delta_gate, delta_w, readout_w, bias_readout_w, merge;
#pragma warning restore IDE1006

    /// <summary>A rule with the reference-style random initialisation (untrained).</summary>
    public LocalUpdateRule(LocalUpdateRuleOptions? options = null) : base(nameof(LocalUpdateRule))
    {
        Options = options ?? new LocalUpdateRuleOptions();
        Options.Validate();
        int d = Options.DeltaDim, h = Options.HiddenDim, c = Options.ReadoutChannels;
        var gen = RandomStreams.CreateGenerator(Options.Seed ?? 0, InitPurpose);
        Parameter W(long rows, long cols) => new(randn([rows, cols], generator: gen) / Math.Sqrt(rows), requires_grad: true);
        Parameter Z(long n) => new(zeros(n), requires_grad: true);
        top_w1 = W(TopFeatures, h); top_b1 = Z(h); top_w2 = W(h, d); top_b2 = Z(d);
        unit_w1 = W(UnitFeatures, h); unit_b1 = Z(h); unit_w2 = W(h, h); unit_b2 = Z(h);
        delta_gate = new(ones(1), requires_grad: true);
        delta_w = W(h, d); readout_w = W(h, c); bias_readout_w = W(h, 1);
        merge = new(full(TermCount, Options.MergeInit), requires_grad: true);
        RegisterComponents();
    }

    /// <summary>The rule's sizes.</summary>
    public LocalUpdateRuleOptions Options { get; }

    /// <summary>Per-unit inputs of the top error network: h, z, and their means over the layer's units.</summary>
    private const int TopFeatures = 4;

    /// <summary>Per-unit inputs of the unit network: h, z, d (DeltaDim), sin/cos unit ID, bias, RMS of incoming and outgoing weights.</summary>
    private int UnitFeatures => 2 + Options.DeltaDim + 2 + 3;

    /// <summary>Computes the update for <paramref name="net"/> from one unlabelled batch (differentiable in the rule and the net).</summary>
    /// <param name="net">The base network (any widths, depth, nonlinearity).</param>
    /// <param name="x">Batch × input width, finite, at least one row.</param>
    public RuleUpdate ComputeUpdate(BaseNetworkState net, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(net);
        var (hs, zs) = net.Forward(x);
        int depth = net.Depth;
        long batch = x.shape[0];

        // Top-down error signal from the output embedding: a per-unit MLP over [h, z, mean h, mean z].
        var top = stack([hs[depth], zs[depth], hs[depth].mean([1], keepdim: true).expand_as(hs[depth]), zs[depth].mean([1], keepdim: true).expand_as(zs[depth])], -1);
        var d = Mlp(top, top_w1, top_b1, top_w2, top_b2, finalTanh: false);
        d = RmsNormalise(d);

        // Backward pass, top → bottom: per-unit features, then the next error signal through the backward weights.
        var feats = new Tensor[depth + 1];
        for (int level = depth; level >= 0; level--)
        {
            var bias = level > 0 ? net.Bias[level - 1] : zeros_like(hs[0][0]);
            var inRms = level > 0 ? net.W[level - 1].pow(2).mean([0]).sqrt() : zeros_like(bias);
            var outRms = level < depth ? net.W[level].pow(2).mean([1]).sqrt() : zeros_like(bias);
            var f = UnitNetwork(hs[level], zs[level], d, bias, inRms, outRms);
            feats[level] = f;
            if (level > 0)
            {
                var carried = d * sigmoid(zs[level] * delta_gate).unsqueeze(-1) + f.matmul(delta_w);
                d = RmsNormalise(einsum("ij,bjd->bid", net.Backward[level - 1], carried));
            }
        }

        var dw = new Tensor[depth];
        var db = new Tensor[depth];
        for (int l = 0; l < depth; l++)
        {
            dw[l] = WeightChange(net.W[l], hs[l], hs[l + 1], feats[l].matmul(readout_w), feats[l + 1].matmul(readout_w), batch);
            var br = feats[l + 1].matmul(bias_readout_w).squeeze(-1).mean([0]);
            var centred = br - br.mean();
            db[l] = centred / (0.5 + centred.pow(2).mean()).sqrt();
        }
        return new RuleUpdate(dw, db);
    }

    /// <summary>The seven ΔW terms, each normalised per receptive field (column), merged, stripped of any length-shrinking
    /// component, normalised again (a column with nothing left, e.g. a one-input column that pointed against w, is zero),
    /// then decayed by w / DecayDivisor.</summary>
    internal Tensor WeightChange(Tensor w, Tensor lower, Tensor upper, Tensor readLower, Tensor readUpper, long batch)
    {
        var r = einsum("bic,bjc->ij", readLower, readUpper) / batch;
        var terms = new[]
        {
            -lower.t().matmul(upper) / batch,           // Hebbian
            r,                                          // 0-order low-rank readout
            (-w.pow(2)).exp() * r,                      // rbf-gated readout
            w * r,                                      // 1st-order readout
            w.matmul(upper.t().matmul(upper) / batch),  // decorrelation
            w * w.abs(),                                // large decay
            w,                                          // base
        };
        var merged = zeros_like(w);
        for (int k = 0; k < TermCount; k++)
            merged = merged + merge[k] * ColumnNormalise(terms[k]);
        merged = merged / TermCount;
        // Remove the component that would shrink each column along w (ΔW is a change direction: W ← W + lr·ΔW).
        // A column that pointed entirely against w has nothing left (up to rounding): it becomes zero, not amplified rounding noise.
        var wNorm2 = w.pow(2).sum([0], keepdim: true);
        var ip = nn.functional.relu(-(merged * w).sum([0], keepdim: true)) / where(wNorm2 > 0, wNorm2, ones_like(wNorm2));
        var before = merged.pow(2).sum([0], keepdim: true);
        merged = merged + ip * w;
        var left = merged.pow(2).sum([0], keepdim: true) > before * 1e-10;
        merged = where(left, ColumnNormalise(merged), zeros_like(merged));
        return merged - w / Options.DecayDivisor;
    }

    /// <summary>Each column (receptive field of one output unit) scaled to RMS 1.</summary>
    internal static Tensor ColumnNormalise(Tensor t) => t / (t.pow(2).mean([0], keepdim: true) + NormEps).sqrt();

    /// <summary>Guards the per-receptive-field normalisation against an all-zero column only (a zero column stays zero).</summary>
    private const double NormEps = 1e-12;

    private static Tensor RmsNormalise(Tensor d) => d / (d.pow(2).mean([1, 2], keepdim: true) + Eps).sqrt();

    private Tensor UnitNetwork(Tensor h, Tensor z, Tensor d, Tensor bias, Tensor inRms, Tensor outRms)
    {
        long b = h.shape[0], n = h.shape[1];
        Tensor sinId, cosId;
        if (Options.UseUnitIds)
        {
            var phase = arange(n, dtype: h.dtype, device: h.device) * (2 * Math.PI / n);
            sinId = phase.sin().expand(b, n); cosId = phase.cos().expand(b, n);
        }
        else
        {
            sinId = zeros_like(h); cosId = zeros_like(h);
        }
        var parts = new List<Tensor> { h.unsqueeze(-1), z.unsqueeze(-1), d, sinId.unsqueeze(-1), cosId.unsqueeze(-1),
            bias.expand(b, n).unsqueeze(-1), inRms.expand(b, n).unsqueeze(-1), outRms.expand(b, n).unsqueeze(-1) };
        var f = cat(parts, -1);
        // Feature normalisation over the batch and the layer's units (the reference's BatchNorm; permutation-equivariant).
        var mean = f.mean([0, 1], keepdim: true);
        var centred = f - mean;
        f = centred / (centred.pow(2).mean([0, 1], keepdim: true) + 1e-3).sqrt();
        return Mlp(f, unit_w1, unit_b1, unit_w2, unit_b2, finalTanh: true);
    }

    private static Tensor Mlp(Tensor x, Tensor w1, Tensor b1, Tensor w2, Tensor b2, bool finalTanh)
    {
        var y = (x.matmul(w1) + b1).tanh().matmul(w2) + b2;
        return finalTanh ? y.tanh() : y;
    }
}
