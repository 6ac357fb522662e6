namespace Components.Trainers.Gan;

/// <summary>
/// The generator objective of a GAN whose discriminator estimates the log density ratio r(x) = log p_data(x)/q_G(x)
/// (Poole et al., arXiv:1612.02780): the generator minimises E_z[g(e^{r(G(z))})] with g(u) = f(u) − u f′(u), which
/// follows the gradient of the f-divergence D_f(p‖q) = E_q[f(p/q)]. Every loss decreases as r rises.
/// </summary>
public enum GanObjective
{
    /// <summary>The original minimax loss E[log(1 − D)] = E[−softplus(r)] (the JS objective up to a constant; saturates when D rejects samples).</summary>
    Minimax,

    /// <summary>The "−log D" heuristic E[softplus(−r)]: g(u) = log(1 + 1/u), f(u) = (u+1) log(1 + 1/u) + (1 − 2 log 2) u − 1.</summary>
    NonSaturating,

    /// <summary>Reverse KL, KL(q‖p): f(u) = −log u, g(u) = 1 − log u, loss 1 − r (mode seeking).</summary>
    ReverseKl,

    /// <summary>Forward KL, KL(p‖q): f(u) = u log u, g(u) = −u, loss −e^r (mass covering).</summary>
    ForwardKl,

    /// <summary>Jensen–Shannon (2·JS): f(u) = u log u − (u+1) log((u+1)/2), g(u) = log 2 − log(1 + u), loss log 2 − softplus(r).</summary>
    JensenShannon,

    /// <summary>Squared Hellinger: f(u) = (√u − 1)², g(u) = 1 − √u, loss 1 − e^{r/2}.</summary>
    SquaredHellinger,

    /// <summary>Pearson χ²: f(u) = (u − 1)², g(u) = 1 − u², loss 1 − e^{2r}.</summary>
    PearsonChiSquared,

    /// <summary>
    /// Amari α-divergence: f(u) = (u^α − 1 − α(u − 1)) / (α(α − 1)), g(u) = (1 − u^α)/α, loss (1 − e^{αr})/α. α → 0 is
    /// reverse KL, α = 1 forward KL, α = ½ twice the squared Hellinger distance, α = 2 half Pearson χ².
    /// </summary>
    Alpha,

    /// <summary>A user-supplied convex f with f(1) = 0; g(u) = f(u) − u f′(u) with f′ by autograd.</summary>
    Custom,
}
