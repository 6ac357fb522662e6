namespace Components.Kernels.Nngp;

/// <summary>
/// The per-layer affine coefficients of the recursion, with optional rescaling folded in:
/// <c>K⁰ = W0·(x·x′) + B0</c>, then for each layer <c>K′ = A_l·G(K) + B_l</c> and <c>Θ′ = K′ + A_l·Θ·Ġ(K)</c>.
/// Without rescaling A_l = σ_w², B_l = σ_b², W0 = σ_w²/d, B0 = σ_b². With rescaling every layer is divided by
/// s_l, the variance that a unit-variance input reaches at layer l (s_0 = σ_w² + σ_b², s_{l+1} = σ_w²·κ·s_l + σ_b²
/// with F(q) = κq for positively homogeneous φ), so A_l = σ_w²·s_l/s_{l+1}, B_l = σ_b²/s_{l+1}.
/// </summary>
internal sealed class NngpSchedule
{
    private NngpSchedule(int depth)
    {
        A = new double[depth];
        B = new double[depth];
    }

    public double W0 { get; private set; }

    public double B0 { get; private set; }

    public double[] A { get; }

    public double[] B { get; }

    public double LogScale { get; private set; }

    public int Depth => A.Length;

    /// <summary>The nonlinearity's parameters (copied once, read in the inner loops).</summary>
    public double[] P { get; private set; } = [];

    /// <summary>ABReLU coefficient (a − b)²/(2π).</summary>
    public double Alpha { get; private set; }

    /// <summary>ABReLU coefficient (a² + b²)/2.</summary>
    public double Beta { get; private set; }

    public static NngpSchedule Create(NngpArchitecture arch, int features, bool rescale)
    {
        var s = new NngpSchedule(arch.Depth);
        double sw = arch.WeightVariance, sb = arch.BiasVariance;
        var phi = arch.Nonlinearity;
        s.P = phi.Parameters.ToArray();
        if (phi.Kind == NngpNonlinearityKind.ABRelu)
        {
            double a = phi.Parameters[0], b = phi.Parameters[1];
            s.Alpha = (a - b) * (a - b) / (2 * Math.PI);
            s.Beta = (a * a + b * b) / 2;
        }
        if (!rescale)
        {
            s.W0 = sw / features;
            s.B0 = sb;
            Array.Fill(s.A, sw);
            Array.Fill(s.B, sb);
            return s;
        }
        double kappa = s.Beta;
        double logS = Math.Log(sw + sb);
        s.W0 = sw / features / Math.Exp(logS);
        s.B0 = sb / Math.Exp(logS);
        for (int l = 0; l < arch.Depth; l++)
        {
            double growth = sw * kappa + sb * Math.Exp(-logS);
            if (!(growth > 0) || !double.IsFinite(growth))
                throw new ArgumentOutOfRangeException(nameof(arch), $"Cannot rescale {arch}: the layer variance collapses to zero.");
            double next = logS + Math.Log(growth);
            s.A[l] = sw * Math.Exp(logS - next);
            s.B[l] = sb * Math.Exp(-next);
            logS = next;
        }
        s.LogScale = logS;
        return s;
    }
}
