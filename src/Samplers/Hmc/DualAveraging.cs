namespace Components.Samplers.Hmc;

/// <summary>
/// Nesterov dual averaging of the log step size (Hoffman &amp; Gelman 2014, Algorithm 5; Stan's adaptation):
/// <c>H̄_m = (1 − 1/(m+t₀)) H̄_{m−1} + (δ − α_m)/(m+t₀)</c>, <c>log ε_m = μ − √m/γ · H̄_m</c>,
/// <c>log ε̄_m = m^{−κ} log ε_m + (1 − m^{−κ}) log ε̄_{m−1}</c>, with <c>μ = log(10 ε₀)</c>, γ = 0.05, t₀ = 10,
/// κ = 0.75. After adaptation the sampler uses ε̄.
/// </summary>
internal sealed class DualAveraging
{
    private const double Gamma = 0.05, T0 = 10, Kappa = 0.75;
    private readonly double _mu;
    private readonly double _target;
    private double _hBar;
    private double _logEpsBar;
    private int _m;

    public DualAveraging(double initialStepSize, double targetAcceptance)
    {
        _mu = Math.Log(10 * initialStepSize);
        _target = targetAcceptance;
        StepSize = initialStepSize;
    }

    /// <summary>Step size to use for the next transition.</summary>
    public double StepSize { get; private set; }

    /// <summary>The averaged step size ε̄ (the final choice).</summary>
    public double AveragedStepSize => _m == 0 ? StepSize : Math.Exp(_logEpsBar);

    /// <summary>Updates with the mean acceptance probability α of the last transition.</summary>
    public void Update(double acceptance)
    {
        if (double.IsNaN(acceptance))
            acceptance = 0;
        _m++;
        double w = 1.0 / (_m + T0);
        _hBar = (1 - w) * _hBar + w * (_target - acceptance);
        double logEps = _mu - Math.Sqrt(_m) / Gamma * _hBar;
        double eta = Math.Pow(_m, -Kappa);
        _logEpsBar = eta * logEps + (1 - eta) * _logEpsBar;
        StepSize = Math.Exp(logEps);
    }
}
