using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>
/// The reparameterisation of Bernoulli variables that REBAR and RELAX use (Tucker et al. 2017, §3; Maddison et al. 2017):
/// logistic noise <c>z = θ + log u − log(1 − u)</c> with <c>u ~ U(0, 1)</c> gives <c>b = H(z) ~ Bernoulli(σ(θ))</c>;
/// the conditional <c>z̃ ~ p(z | b)</c>; the relaxation <c>σ_λ(z)</c>. Elementwise on tensors of any shape; θ are logits.
/// </summary>
public static class BernoulliRelaxation
{
    /// <summary>Uniforms are kept in [<see cref="Epsilon"/>, 1 − <see cref="Epsilon"/>] so that logit(u) is finite in float32.</summary>
    public const double Epsilon = 1e-7;

    /// <summary>The logistic sample <c>z = θ + log u − log(1 − u)</c> (differentiable in θ).</summary>
    public static Tensor Logistic(Tensor logits, Tensor u)
    {
        var uc = u.clamp(Epsilon, 1 - Epsilon);
        return logits + uc.log() - (1 - uc).log();
    }

    /// <summary>The hard sample <c>b = H(z)</c> as 0/1 values of z's type, cut from the graph.</summary>
    public static Tensor Hard(Tensor z) => z.gt(0).to(z.dtype).detach();

    /// <summary>
    /// The conditional logistic sample <c>z̃ ~ p(z | b)</c> from an independent uniform <paramref name="v"/>: with
    /// <c>u′ = σ(−θ)</c> (the probability of b = 0), <c>v′ = u′ + (1 − u′)·v</c> where b = 1 and <c>v′ = u′·v</c> where b = 0,
    /// then <c>z̃ = θ + log v′ − log(1 − v′)</c>, so <c>H(z̃) = b</c>. The gradient in θ holds v fixed (conditional reparameterisation).
    /// </summary>
    public static Tensor Conditional(Tensor logits, Tensor b, Tensor v)
    {
        var uPrime = (-logits).sigmoid();
        var vc = v.clamp(Epsilon, 1 - Epsilon);
        var vPrime = b * (uPrime + (1 - uPrime) * vc) + (1 - b) * (uPrime * vc);
        return Logistic(logits, vPrime);
    }

    /// <summary>
    /// The conditional sample tied to the <paramref name="u"/> that drew b (the reference's <c>_u_to_v</c>): the residual
    /// noise <c>r = (u − u′)/(1 − u′)</c> (b = 1) or <c>u/u′</c> (b = 0) is held fixed, so the value equals
    /// <see cref="Logistic"/>(θ, u) while its gradient in θ is that of <c>z̃ | b</c>.
    /// </summary>
    public static Tensor ConditionalTied(Tensor logits, Tensor u) => Logistic(logits, ConditionalUniformTied(logits, u));

    /// <summary>
    /// The uniform v′ of <see cref="ConditionalTied"/>: equal to u in value, with the gradient of u | b under the logits θ
    /// (in a model with several layers, the logits of the hard pass, since b's distribution is the hard model's).
    /// </summary>
    public static Tensor ConditionalUniformTied(Tensor logits, Tensor u)
    {
        var uc = u.clamp(Epsilon, 1 - Epsilon);
        var uPrime = (-logits).sigmoid();
        var one = uc.gt(uPrime).to(uc.dtype).detach();
        var r1 = ((uc - uPrime) / (1 - uPrime).clamp_min(1e-8)).clamp(0, 1).detach();
        var r0 = (uc / uPrime.clamp_min(1e-8)).clamp(0, 1).detach();
        var v = one * (uPrime + (1 - uPrime) * r1) + (1 - one) * (uPrime * r0);
        return v + (uc - v).detach(); // same value as u (to rounding), the conditional path's gradient
    }

    /// <summary>
    /// The relaxation <c>σ_λ(z)</c> at temperature λ. <paramref name="muPropRelaxation"/> true (the paper's choice and the
    /// reference's default): <c>σ(z/λ + θ·λ/(λ + 1))</c>; false: the Concrete relaxation <c>σ(z/λ)</c>. Both tend to H(z) as λ → 0.
    /// </summary>
    /// <param name="z">Logistic sample.</param>
    /// <param name="logits">θ.</param>
    /// <param name="temperature">λ, a positive scalar tensor (may carry gradients).</param>
    /// <param name="muPropRelaxation">Which relaxation.</param>
    public static Tensor Relax(Tensor z, Tensor logits, Tensor temperature, bool muPropRelaxation)
    {
        var x = z / temperature;
        return muPropRelaxation ? (x + logits * (temperature / (temperature + 1))).sigmoid() : x.sigmoid();
    }

    /// <summary><c>log Bernoulli(a; σ(θ)) = a·θ − softplus(θ)</c> summed over the last dimension (a may be relaxed).</summary>
    public static Tensor LogLikelihood(Tensor a, Tensor logits) => (a * logits - nn.functional.softplus(logits)).sum(-1);
}
