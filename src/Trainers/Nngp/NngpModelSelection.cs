using System.Globalization;
using Components.Core.Runtime;
using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>One evaluated hyperparameter candidate of an NNGP search.</summary>
/// <param name="Architecture">Depth, nonlinearity, σ_w², σ_b².</param>
/// <param name="Regularizer">Trace-scaled regulariser ε.</param>
/// <param name="Score">Log marginal likelihood per row at the maximum-likelihood output scale, validation accuracy, or minus the validation MSE (higher is better).</param>
public sealed record NngpSelectionEntry(NngpArchitecture Architecture, double Regularizer, double Score);

/// <summary>
/// Hyperparameter search over (σ_w², σ_b², depth) × regulariser: one kernel and one eigendecomposition
/// K = QΛQᵀ per architecture, after which every regulariser ε costs O(n²k) (log marginal likelihood) or O(mnk)
/// (validation), because (K + εI)⁻¹ = Q(Λ + εI)⁻¹Qᵀ.
/// </summary>
internal static class NngpModelSelection
{
    internal static (NngpArchitecture Architecture, double Regularizer, IReadOnlyList<NngpSelectionEntry> Entries) Search(
        ComponentContext ctx, NngpTrainerOptions o, Tensor x, Tensor y, bool classification)
    {
        var baseArch = o.Architecture();
        var candidates = Candidates(o, baseArch);
        var regs = o.RegularizerCandidates is { Length: > 0 } r ? r : [o.Regularizer];
        int n = (int)x.shape[0];
        int m = Math.Min(n, o.SelectionMaxRows);
        using var scope = torch.NewDisposeScope();
        var perm = torch.randperm(n, ScalarType.Int64, generator: ctx.CreateGenerator("selection-subset", torch.CPU))[..m];
        var xs = x.index_select(0, perm);
        var ys = y.index_select(0, perm).to(ctx.Device);
        int nTrain = o.Selection == NngpSelectionCriterion.Validation ? Math.Max(2, (int)Math.Round(m * (1 - o.ValidationFraction))) : m;
        if (o.Selection == NngpSelectionCriterion.Validation && nTrain >= m)
            throw new InvalidOperationException($"Validation selection needs at least one held-out row; {m} selection rows with ValidationFraction {o.ValidationFraction} leave none.");
        var xt = xs[..nTrain];
        var yt = ys[..nTrain];
        var xv = o.Selection == NngpSelectionCriterion.Validation ? xs[nTrain..] : null;
        var yv = o.Selection == NngpSelectionCriterion.Validation ? ys[nTrain..] : null;
        ctx.Info(string.Create(CultureInfo.InvariantCulture,
            $"NNGP search: {candidates.Count} architecture(s) x {regs.Length} regulariser(s) by {o.Selection} on {m} rows."));

        var entries = new List<NngpSelectionEntry>();
        NngpSelectionEntry? best = null;
        foreach (var arch in candidates)
        {
            ctx.CheckCancelled();
            using var inner = torch.NewDisposeScope();
            using var kernel = new NngpKernel(arch, o.KernelOptions(ctx.Device));
            var outputs = o.Kernel == NngpKernelKind.Ntk ? NngpOutputs.Both : NngpOutputs.Nngp;
            using var pt = kernel.Prepare(xt, o.CancellationToken);
            using var kk = kernel.Compute(pt, null, outputs, o.CancellationToken);
            var ktt = o.Kernel == NngpKernelKind.Ntk ? kk.Ntk! : kk.Nngp;
            double meanDiag = ktt.diagonal().mean().item<double>();
            var (lambda, q) = torch.linalg.eigh(ktt);
            var b = torch.mm(q.T, yt);
            Tensor? a = null;
            if (xv is not null)
            {
                using var pv = kernel.Prepare(xv, o.CancellationToken);
                using var kv = kernel.Compute(pv, pt, outputs, o.CancellationToken);
                a = torch.mm(o.Kernel == NngpKernelKind.Ntk ? kv.Ntk! : kv.Nngp, q);
            }
            foreach (double reg in regs)
            {
                var lam = (lambda + reg * meanDiag).clamp_min(NngpPosterior.FirstJitter * meanDiag);
                double score;
                if (a is null)
                {
                    // max over s² of log N(Y | 0, s²C), C = K + εI, per row, columns independent: at the maximum-likelihood
                    // scale ŝ² = tr(YᵀC⁻¹Y)/(nk), the output scale the fitted model uses, it is
                    // −(k/2)(log(2πŝ²) + 1) − (k/2n) log det C. Invariant to the kernel's scale (exp(LogScale)·K), so it
                    // compares kernel shapes and noise levels, not how well the prior's amplitude happens to match the targets.
                    int k = (int)y.shape[1];
                    double sumLogLam = lam.log().sum().item<double>();
                    double quad = (b.square() / lam.unsqueeze(1)).sum().item<double>();
                    double scale = quad / ((double)nTrain * k);
                    score = -0.5 * k * (Math.Log(2 * Math.PI * scale) + 1) - 0.5 * k * sumLogLam / nTrain;
                }
                else
                {
                    var pred = torch.mm(a, b / lam.unsqueeze(1));
                    score = classification
                        ? pred.argmax(1).eq(yv!.argmax(1)).to(ScalarType.Float64).mean().item<double>()
                        : -(pred - yv!).square().mean().item<double>();
                }
                var entry = new NngpSelectionEntry(arch, reg, score);
                entries.Add(entry);
                ctx.Info(string.Create(CultureInfo.InvariantCulture, $"  {arch}, regulariser {reg:G3}: {o.Selection} {score:G6}"));
                if (double.IsFinite(score) && (best is null || score > best.Score))
                    best = entry;
            }
        }
        if (best is null)
            throw new InvalidOperationException("The NNGP hyperparameter search found no candidate with a finite score.");
        ctx.Info(string.Create(CultureInfo.InvariantCulture, $"NNGP search selected {best.Architecture}, regulariser {best.Regularizer:G3}."));
        return (best.Architecture, best.Regularizer, entries);
    }

    internal static List<NngpArchitecture> Candidates(NngpTrainerOptions o, NngpArchitecture baseArch)
    {
        var depths = o.DepthCandidates is { Length: > 0 } d ? d : [o.Depth];
        var biases = o.BiasVarianceCandidates is { Length: > 0 } b ? b : [o.BiasVariance];
        var list = new List<NngpArchitecture>();
        foreach (int depth in depths)
        {
            foreach (double sb in biases)
            {
                double[] weights;
                if (o.SearchNearCriticalLine)
                {
                    double critical = MeanField.CriticalWeightVariance(o.Nonlinearity, sb);
                    weights = o.CriticalLineMultipliers.Select(mult => critical * mult).ToArray();
                }
                else
                {
                    weights = o.WeightVarianceCandidates is { Length: > 0 } w ? w : [o.WeightVariance];
                }
                foreach (double sw in weights)
                    list.Add(baseArch.With(depth: depth, weightVariance: sw, biasVariance: sb));
            }
        }
        return list.Distinct().ToList();
    }
}
