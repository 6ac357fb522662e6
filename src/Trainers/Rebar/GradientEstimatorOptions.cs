namespace Components.Trainers.Rebar;

/// <summary>Settings of a <see cref="BernoulliGradientEstimator"/> (defaults: the reference implementation's).</summary>
public sealed class GradientEstimatorOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Initial temperature λ of the relaxation (the reference's 0.5).</summary>
        public const double Temperature = 0.5;

        /// <summary>Decay of the moving averages of past losses (REINFORCE's baseline, the offset of c(x)).</summary>
        public const double BaselineDecay = 0.99;

        /// <summary>Hidden units of the baseline network c(x) (the reference's 100) and of RELAX's r_ρ.</summary>
        public const int BaselineHidden = 100;

        /// <summary>The relaxation σ(z/λ + θ·λ/(λ+1)) of the paper (true) or plain Concrete σ(z/λ) (false).</summary>
        public const bool MuPropRelaxation = true;
    }

    /// <summary>Initial (Rebar, Concrete: fixed) temperature λ, positive and finite. Default 0.5.</summary>
    public double Temperature = Defaults.Temperature;

    /// <summary>Relaxation: the paper's σ(z/λ + θ·λ/(λ+1)) when true (default), Concrete's σ(z/λ) when false.</summary>
    public bool MuPropRelaxation = Defaults.MuPropRelaxation;

    /// <summary>REBAR family: a fixed η for every parameter (not trained); null (default) trains η = 2σ(w) per parameter tensor from η = 1.</summary>
    public double? FixedEta;

    /// <summary>Decay in [0, 1) of the moving average of past mean losses: REINFORCE's baseline, and the offset added to c(x). Default 0.99.</summary>
    public double BaselineDecay = Defaults.BaselineDecay;

    /// <summary>Hidden units (tanh) of the baseline network c(x) and of RELAX's network, ≥ 1. Default 100.</summary>
    public int BaselineHidden = Defaults.BaselineHidden;

    internal void Validate()
    {
        if (!(Temperature > 0 && double.IsFinite(Temperature)))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "The temperature must be positive and finite.");
        if (FixedEta is { } eta && !double.IsFinite(eta))
            throw new ArgumentOutOfRangeException(nameof(FixedEta), eta, "A fixed η must be finite.");
        if (!(BaselineDecay >= 0 && BaselineDecay < 1))
            throw new ArgumentOutOfRangeException(nameof(BaselineDecay), BaselineDecay, "The baseline decay must lie in [0, 1).");
        if (BaselineHidden < 1)
            throw new ArgumentOutOfRangeException(nameof(BaselineHidden), BaselineHidden, "The baseline network needs at least one hidden unit.");
    }
}
