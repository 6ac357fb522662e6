namespace Components.Trainers.Rebar;

/// <summary>Gradient estimators for models with Bernoulli latent variables (docs/trainers/rebar.md has the math of each).</summary>
public enum GradientEstimatorKind
{
    /// <summary>REINFORCE (score function) with a moving average of past losses as the baseline. Unbiased; one pass of f.</summary>
    Reinforce,

    /// <summary>NVIL (Mnih &amp; Gregor 2014): REINFORCE with an input-dependent baseline c(x) fitted by squared error. Unbiased; one pass.</summary>
    Nvil,

    /// <summary>MuProp (Gu et al. 2016): the first-order Taylor expansion of f at the mean as control variate, plus c(x). Unbiased; two passes and one backward.</summary>
    MuProp,

    /// <summary>Concrete / Gumbel-softmax relaxation (Maddison et al., Jang et al. 2017): the reparameterisation gradient of f at σ_λ(z). <b>Biased</b> (f is evaluated off the binary points); one pass.</summary>
    Concrete,

    /// <summary>REBAR (Tucker et al. 2017) with η per parameter tensor trained to minimise the estimator's variance, fixed temperature. Unbiased; three passes.</summary>
    Rebar,

    /// <summary>REBAR with the temperature trained on the variance objective too. Unbiased; three passes.</summary>
    DynamicRebar,

    /// <summary>RELAX (Grathwohl et al. 2018): dynamic REBAR's control variate plus a learned network r_ρ(σ_λ(z), x). Unbiased; three passes and the network.</summary>
    Relax,
}
