using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Gan;

/// <summary>
/// A generator objective, resolved: the per-sample loss g(e^r) as a function of the discriminator's log density ratio
/// r = log p_data/q_G (the discriminator's logit), and the discriminator's logistic loss. The math core of the GAN
/// trainer, usable without an MLContext.
/// </summary>
/// <remarks>
/// <para>Derivation (no reference code exists; arXiv:1612.02780): D_f(p‖q_θ) = ∫ q_θ f(p/q_θ), so
/// ∇_θ D_f = ∫ ∇_θ q_θ · [f(u) − u f′(u)] with u = p/q_θ (the p/q_θ inside f contributes
/// ∫ q f′(u) · (−p/q²) ∇q = −∫ u f′(u) ∇q). With q_θ the law of x = G_θ(z) and the ratio frozen, that is the
/// reparameterised gradient of E_z[g(e^{r(G_θ(z))})], g(u) = f(u) − u f′(u), where only x depends on θ.</para>
/// <para>Built-in losses are written in r in numerically stable forms (softplus, clamped exponents: arguments of exp
/// are clamped at 80 so that float32 cannot overflow). g′(u) = −u f″(u) ≤ 0 for convex f, so every loss decreases as r
/// rises: the generator pushes its samples towards regions the discriminator calls real.</para>
/// </remarks>
public sealed class GeneratorObjective
{
    /// <summary>Largest argument of exp in the built-in losses (e^80 ≈ 5.5e34 fits in float32).</summary>
    internal const float MaxExponent = 80;

    /// <summary>Largest |r| fed to a user-supplied f (u = e^r stays within float32).</summary>
    internal const float MaxCustomLogRatio = 30;

    private readonly Func<Tensor, Tensor>? _f;

    private GeneratorObjective(GanObjective kind, double alpha, Func<Tensor, Tensor>? f)
    {
        Kind = kind;
        Alpha = alpha;
        _f = f;
    }

    /// <summary>The objective.</summary>
    public GanObjective Kind { get; }

    /// <summary>α of <see cref="GanObjective.Alpha"/> (ignored by the others).</summary>
    public double Alpha { get; }

    /// <summary>A short display name (e.g. <c>reverse KL</c>, <c>α = 0.5</c>).</summary>
    public string Name => Kind switch
    {
        GanObjective.Minimax => "minimax",
        GanObjective.NonSaturating => "−log D",
        GanObjective.ReverseKl => "reverse KL",
        GanObjective.ForwardKl => "forward KL",
        GanObjective.JensenShannon => "JS",
        GanObjective.SquaredHellinger => "squared Hellinger",
        GanObjective.PearsonChiSquared => "Pearson χ²",
        GanObjective.Alpha => FormattableString.Invariant($"α = {Alpha:G4}"),
        _ => "custom f",
    };

    /// <summary>Resolves an objective and validates its parameters.</summary>
    /// <param name="kind">The objective.</param>
    /// <param name="alpha">α of <see cref="GanObjective.Alpha"/>: finite, |α| ≤ 20.</param>
    /// <param name="f">For <see cref="GanObjective.Custom"/>: f(u) elementwise on a float tensor of u &gt; 0, differentiable
    /// with TorchSharp autograd, convex, with f(1) = 0 (checked numerically on u ∈ [e^−6, e^6]).</param>
    /// <exception cref="ArgumentException">A bad α, a missing f, or an f that is not finite, not convex or has f(1) ≠ 0.</exception>
    public static GeneratorObjective Create(GanObjective kind, double alpha = 0.5, Func<Tensor, Tensor>? f = null)
    {
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown generator objective.");
        if (kind == GanObjective.Alpha && !(double.IsFinite(alpha) && Math.Abs(alpha) <= 20))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must be finite with |α| ≤ 20.");
        if (kind == GanObjective.Custom)
        {
            if (f is null)
                throw new ArgumentException("The Custom objective needs a function f (the CustomF option).", nameof(f));
            ValidateF(f);
        }
        return new GeneratorObjective(kind, alpha, kind == GanObjective.Custom ? f : null);
    }

    /// <summary>
    /// The per-sample generator loss g(e^r) for log ratios <paramref name="logRatio"/> (any shape; same shape out).
    /// Gradients flow through <paramref name="logRatio"/> (and, for a custom f, through autograd's f′).
    /// </summary>
    public Tensor Loss(Tensor logRatio)
    {
        ArgumentNullException.ThrowIfNull(logRatio);
        var r = logRatio;
        return Kind switch
        {
            GanObjective.Minimax => -nn.functional.softplus(r),
            GanObjective.NonSaturating => nn.functional.softplus(-r),
            GanObjective.ReverseKl => 1 - r,
            GanObjective.ForwardKl => -Exp(r),
            GanObjective.JensenShannon => Math.Log(2) - nn.functional.softplus(r),
            GanObjective.SquaredHellinger => 1 - Exp(0.5 * r),
            GanObjective.PearsonChiSquared => 1 - Exp(2 * r),
            GanObjective.Alpha => Alpha == 0 ? -r : (1 - Exp(Alpha * r)) / Alpha,
            _ => CustomLoss(r),
        };
    }

    /// <summary>
    /// The discriminator's logistic loss, whose minimiser is r*(x) = log p(x)/q(x):
    /// <c>mean softplus(−r(x_real)) + mean softplus(r(x_generated))</c>.
    /// </summary>
    public static Tensor DiscriminatorLoss(Tensor realLogRatio, Tensor generatedLogRatio)
    {
        ArgumentNullException.ThrowIfNull(realLogRatio);
        ArgumentNullException.ThrowIfNull(generatedLogRatio);
        return nn.functional.softplus(-realLogRatio).mean() + nn.functional.softplus(generatedLogRatio).mean();
    }

    private static Tensor Exp(Tensor x) => x.clamp_max(MaxExponent).exp();

    private Tensor CustomLoss(Tensor r)
    {
        using var scope = NewDisposeScope();
        bool track = r.requires_grad;
        using var grad = enable_grad();
        var rc = r.clamp(-MaxCustomLogRatio, MaxCustomLogRatio);
        var u = track ? rc.exp() : rc.exp().detach().requires_grad_(true);
        var g = GFromF(_f!, u);
        if (!track)
            g = g.detach();
        return g.MoveToOuterDisposeScope();
    }

    /// <summary>g(u) = f(u) − u f′(u), f′ by autograd with <c>create_graph</c> so that g is differentiable in u.</summary>
    private static Tensor GFromF(Func<Tensor, Tensor> f, Tensor u)
    {
        var fu = f(u);
        if (fu is null || !fu.shape.SequenceEqual(u.shape))
            throw new InvalidOperationException($"The custom f must return a tensor of its input's shape [{string.Join(", ", u.shape)}].");
        var fPrime = torch.autograd.grad([fu.sum()], [u], retain_graph: true, create_graph: true)[0];
        return fu - u * fPrime;
    }

    /// <summary>
    /// Checks a user-supplied f: finite on u ∈ [e^−6, e^6], f(1) = 0 (|f(1)| ≤ 1e-5 · (1 + max |f| on [e^−0.7, e^0.7])), differentiable,
    /// and convex (slopes between consecutive grid points non-decreasing up to rounding).
    /// </summary>
    /// <exception cref="ArgumentException">It is not.</exception>
    public static void ValidateF(Func<Tensor, Tensor> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        const int n = 241;
        var logU = linspace(-6, 6, n, ScalarType.Float64);
        var u = logU.exp().requires_grad_(true);
        Tensor fu;
        try
        {
            fu = f(u);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ArgumentException($"The custom f failed on a float64 tensor of u in [e^-6, e^6]: {ex.Message}", "CustomF", ex);
        }
        if (fu is null || !fu.shape.SequenceEqual(u.shape))
            throw new ArgumentException("The custom f must return a tensor of its input's shape (elementwise).", "CustomF");
        var values = fu.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();
        var us = u.detach().data<double>().ToArray();
        int bad = Array.FindIndex(values, v => !double.IsFinite(v));
        if (bad >= 0)
            throw new ArgumentException($"The custom f is not finite at u = {us[bad]:G4} (f(u) = {values[bad]}).", "CustomF");
        if (!fu.requires_grad)
            throw new ArgumentException("The custom f must be differentiable with TorchSharp autograd (its result does not depend on u).", "CustomF");
        using (var one = ones(1, ScalarType.Float64))
        {
            double f1 = f(one).to(ScalarType.Float64).item<double>();
            // Scale: the size of f on u ∈ [e^-0.7, e^0.7], around 1.
            double scale = 1 + Enumerable.Range(0, n).Where(i => Math.Abs(Math.Log(us[i])) <= 0.7).Max(i => Math.Abs(values[i]));
            if (!(Math.Abs(f1) <= 1e-5 * scale))
                throw new ArgumentException($"The custom f must satisfy f(1) = 0; got f(1) = {f1:G6}.", "CustomF");
        }
        // Convexity: chord slopes between consecutive points must not decrease.
        double prev = double.NegativeInfinity;
        double range = values.Max() - values.Min();
        for (int i = 1; i < n; i++)
        {
            double slope = (values[i] - values[i - 1]) / (us[i] - us[i - 1]);
            double tol = 1e-7 * (Math.Abs(slope) + Math.Abs(prev is double p && double.IsFinite(p) ? p : 0)) + 1e-9 * (1 + range);
            if (slope < prev - tol)
            {
                throw new ArgumentException(
                    $"The custom f must be convex: its slope falls from {prev:G6} to {slope:G6} near u = {us[i - 1]:G4}.", "CustomF");
            }
            prev = slope;
        }
    }
}
