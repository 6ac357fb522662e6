using Components.Kernels.Nngp;

namespace Components.Kernels.SignalPropagation;

/// <summary>
/// Mean-field signal propagation through a deep random fully connected network (Poole et al. 2016; Schoenholz et al.
/// 2017, "Deep Information Propagation"; the factorial approximation of Schoenholz, Pennington &amp; Sohl-Dickstein,
/// arXiv:1710.06570): z^{l+1} = W^l φ(z^l) + b^l with W_ij ~ N(0, σ_w²/N), b_i ~ N(0, σ_b²). Every nonlinearity the
/// NNGP kernel supports works, with the kernel's own Gaussian expectations (closed forms for ABReLU and Erf,
/// Gauss–Hermite otherwise).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Variance map q ↦ σ_w²E[φ(z)²] + σ_b², z ~ N(0, q); fixed point q*; slope χ_q = σ_w² dE[φ²]/dq at q*;
/// depth scale ξ_q = −1/ln χ_q.</item>
/// <item>Correlation map c ↦ (σ_w²E[φ(u)φ(v)] + σ_b²)/q′ for (u, v) with variances q and correlation c; its slope
/// σ_w²E[φ′(u)φ′(v)]·q/q′; χ₁ = σ_w²E[φ′(z)²] at q* (the slope at c = 1); fixed point c* (1 in the ordered phase
/// χ₁ &lt; 1, below 1 in the chaotic phase χ₁ &gt; 1); depth scale ξ_c = −1/ln χ_c with χ_c the slope at c*.</item>
/// <item>The order-to-chaos critical line χ₁ = 1 over (σ_w², σ_b²), where ξ_c diverges.</item>
/// </list>
/// σ_w² and σ_b² are variances (not standard deviations), as in the NNGP kernel.
/// </remarks>
public static class MeanField
{
    /// <summary>E[φ(z)²] and E[φ′(z)²] for z ~ N(0, q): closed forms for ABReLU and Erf, Gauss–Hermite (degree 64) otherwise.</summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="q">The variance, non-negative and finite.</param>
    public static (double Second, double DerivativeSecond) Moments(NngpNonlinearity nonlinearity, double q)
        => GaussianExpectations.Moments(nonlinearity, q);

    /// <summary>The variance map q^{l+1} = σ_w²E[φ(z)²] + σ_b², z ~ N(0, q^l).</summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="q">q^l, non-negative.</param>
    public static double VarianceMap(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double q)
    {
        CheckVariances(weightVariance, biasVariance);
        return weightVariance * Moments(nonlinearity, q).Second + biasVariance;
    }

    /// <summary>Slope of the variance map at q: σ_w² dE[φ(z)²]/dq = σ_w²E[φ′² + φφ″] (χ_q at q = q*).</summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="q">The variance, non-negative and finite.</param>
    public static double VarianceMapSlope(NngpNonlinearity nonlinearity, double weightVariance, double q)
    {
        CheckVariances(weightVariance, 0);
        return weightVariance * GaussianExpectations.Fluctuations(nonlinearity, q).Slope;
    }

    /// <summary>
    /// One layer of the two-input map: (q1, q2, c) at layer l to layer l + 1, with
    /// q_i′ = σ_w²E[φ(u_i)²] + σ_b² and c′ = (σ_w²E[φ(u1)φ(u2)] + σ_b²)/√(q1′q2′).
    /// </summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="q1">Variance of the first input at layer l, positive.</param>
    /// <param name="q2">Variance of the second input at layer l, positive.</param>
    /// <param name="c">Correlation at layer l, in [−1, 1].</param>
    public static (double Q1, double Q2, double C) Step(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double q1, double q2, double c)
    {
        CheckVariances(weightVariance, biasVariance);
        CheckState(q1, q2, c);
        double n1 = VarianceMap(nonlinearity, weightVariance, biasVariance, q1);
        double n2 = VarianceMap(nonlinearity, weightVariance, biasVariance, q2);
        var (g, _) = GaussianExpectations.Pair(nonlinearity, [q1], [q2], [c * Math.Sqrt(q1 * q2)]);
        double k = weightVariance * g[0] + biasVariance;
        return (n1, n2, Math.Clamp(k / Math.Sqrt(n1 * n2), -1.0, 1.0));
    }

    /// <summary>The correlation map at equal variances q: c^{l+1} as a function of c^l (at q = q* the map of the theory).</summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="q">The common variance at layer l, positive.</param>
    /// <param name="c">c^l in [−1, 1].</param>
    public static double CorrelationMap(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double q, double c)
        => Step(nonlinearity, weightVariance, biasVariance, q, q, c).C;

    /// <summary>Slope of the correlation map at equal variances: dc^{l+1}/dc^l = σ_w²E[φ′(u)φ′(v)]·q/q′ (Price's theorem).</summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="q">The common variance at layer l, positive.</param>
    /// <param name="c">c^l in [−1, 1].</param>
    public static double CorrelationMapSlope(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double q, double c)
    {
        CheckVariances(weightVariance, biasVariance);
        CheckState(q, q, c);
        var (_, dot) = GaussianExpectations.Pair(nonlinearity, [q], [q], [c * q]);
        return weightVariance * dot[0] * q / VarianceMap(nonlinearity, weightVariance, biasVariance, q);
    }

    /// <summary>
    /// Layer-by-layer variances and correlation of two inputs whose layer-0 pre-activations have variances
    /// <paramref name="q1"/>, <paramref name="q2"/> and correlation <paramref name="c"/>; arrays of length depth + 1
    /// (index 0 = layer 0). For an input x, layer 0 is σ_w²‖x‖²/d + σ_b², as in the NNGP kernel.
    /// </summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="q1">Layer-0 variance of the first input, positive.</param>
    /// <param name="q2">Layer-0 variance of the second input, positive.</param>
    /// <param name="c">Layer-0 correlation in [−1, 1].</param>
    /// <param name="depth">Number of nonlinear layers, positive.</param>
    public static (double[] Q1, double[] Q2, double[] C) Trajectory(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance,
        double q1, double q2, double c, int depth)
    {
        CheckDepth(depth);
        var a = new double[depth + 1];
        var b = new double[depth + 1];
        var r = new double[depth + 1];
        (a[0], b[0], r[0]) = (q1, q2, c);
        for (int l = 0; l < depth; l++)
            (a[l + 1], b[l + 1], r[l + 1]) = Step(nonlinearity, weightVariance, biasVariance, a[l], b[l], r[l]);
        return (a, b, r);
    }

    /// <summary>
    /// The fixed point q* of the variance map reached from <paramref name="start"/>, or +∞ when the map diverges:
    /// closed form for ABReLU (q* = σ_b²/(1 − σ_w²(a² + b²)/2), so σ_b²/(1 − σ_w²/2) for ReLU), iteration with Aitken
    /// acceleration (only where the iterates converge monotonically and linearly) otherwise.
    /// </summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    /// <param name="start">q⁰, non-negative; matters only where the map has several attracting fixed points (or none but a line of them).</param>
    /// <param name="tolerance">Relative tolerance of the iteration.</param>
    /// <param name="maxIterations">Iteration limit.</param>
    public static double FixedPoint(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double start = 1.0, double tolerance = 1e-12, int maxIterations = 100_000)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        CheckVariances(weightVariance, biasVariance);
        if (!(start >= 0) || !double.IsFinite(start))
            throw new ArgumentOutOfRangeException(nameof(start), start, "The starting variance must be non-negative and finite.");
        if (nonlinearity.Kind == NngpNonlinearityKind.ABRelu)
        {
            var p = nonlinearity.Parameters;
            double kappa = weightVariance * (p[0] * p[0] + p[1] * p[1]) / 2;
            if (kappa < 1)
                return biasVariance / (1 - kappa);
            if (biasVariance == 0 && (kappa == 1 || start == 0))
                return start;
            return double.PositiveInfinity;
        }
        double Map(double q) => weightVariance * Moments(nonlinearity, q).Second + biasVariance;
        bool Converged(double next, double q) => Math.Abs(next - q) <= tolerance * Math.Max(1.0, Math.Abs(q));
        double x = start;
        for (int i = 0; i < maxIterations; i += 2)
        {
            double x1 = Map(x);
            if (!double.IsFinite(x1) || x1 > 1e300)
                return double.PositiveInfinity;
            if (Converged(x1, x))
                return x1;
            double x2 = Map(x1);
            if (!double.IsFinite(x2) || x2 > 1e300)
                return double.PositiveInfinity;
            if (Converged(x2, x1))
                return x2;
            double ratio = (x2 - x1) / (x1 - x);
            x = ratio > 0 && ratio < 0.999 ? x2 + (x2 - x1) * ratio / (1 - ratio) : x2;
            if (x < 0)
                x = x2;
        }
        return x > 1e12 ? double.PositiveInfinity : x;
    }

    /// <summary>χ₁ = σ_w²E[φ′(z)²] at the fixed point (at a large variance if the map diverges): &lt; 1 ordered, &gt; 1 chaotic.</summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    public static double Chi1(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance)
    {
        double q = FixedPoint(nonlinearity, weightVariance, biasVariance);
        if (double.IsPositiveInfinity(q))
            q = 1e6;
        return weightVariance * Moments(nonlinearity, q).DerivativeSecond;
    }

    /// <summary>
    /// The stable fixed point c* of the correlation map at q*: 1 when χ₁ ≤ 1 (ordered phase and critical line), else
    /// the root below 1 (bisection; chaotic phase). NaN when q* is infinite.
    /// </summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    public static double CorrelationFixedPoint(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance)
    {
        double q = FixedPoint(nonlinearity, weightVariance, biasVariance);
        if (!double.IsFinite(q) || q <= 0)
            return double.NaN;
        if (weightVariance * Moments(nonlinearity, q).DerivativeSecond <= 1)
            return 1.0;
        return ChaoticCorrelation(nonlinearity, weightVariance, biasVariance, q);
    }

    /// <summary>
    /// Everything at the fixed point: q*, c*, χ₁, χ_q, χ_c and the depth scales ξ_q = −1/ln χ_q and ξ_c = −1/ln χ_c
    /// (+∞ on the critical line). Entries are NaN when q* is infinite or zero.
    /// </summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariance">σ_w², positive.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    public static MeanFieldFixedPoint Analyze(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        CheckVariances(weightVariance, biasVariance);
        double q = FixedPoint(nonlinearity, weightVariance, biasVariance);
        if (!double.IsFinite(q) || q <= 0)
        {
            double chi1 = Chi1(nonlinearity, weightVariance, biasVariance);
            return new MeanFieldFixedPoint(nonlinearity, weightVariance, biasVariance, q, double.NaN, chi1, double.NaN, double.NaN, double.NaN, double.NaN);
        }
        double chi = weightVariance * Moments(nonlinearity, q).DerivativeSecond;
        double chiQ = VarianceMapSlope(nonlinearity, weightVariance, q);
        double c = chi <= 1 ? 1.0 : ChaoticCorrelation(nonlinearity, weightVariance, biasVariance, q);
        double chiC = chi <= 1 ? chi : CorrelationMapSlope(nonlinearity, weightVariance, biasVariance, q, c);
        return new MeanFieldFixedPoint(nonlinearity, weightVariance, biasVariance, q, c, chi, chiQ, chiC, DepthScale(chiQ), DepthScale(chiC));
    }

    /// <summary>
    /// The weight variance on the order-to-chaos line (χ₁ = 1) for a bias variance, by bisection on ln σ_w² inside
    /// [1e-3, 1e3] (bracketed by doubling from 1); exactly 2/(a² + b²) for ABReLU (2 for ReLU, 1 for a linear network).
    /// </summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="biasVariance">σ_b², non-negative.</param>
    public static double CriticalWeightVariance(NngpNonlinearity nonlinearity, double biasVariance)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        CheckVariances(1.0, biasVariance);
        if (nonlinearity.Kind == NngpNonlinearityKind.ABRelu)
        {
            var p = nonlinearity.Parameters;
            return 2.0 / (p[0] * p[0] + p[1] * p[1]);
        }
        // Bracket outwards from σ_w² = 1 (χ₁ grows with σ_w²); the bracket stays where the variances, and so the
        // quadrature, are moderate (a degree-64 rule under-resolves φ′ of tanh at variances of hundreds).
        double lo = 1.0, hi = 1.0;
        if (Chi1(nonlinearity, 1.0, biasVariance) < 1)
        {
            do
            {
                lo = hi;
                hi *= 2;
                if (hi > 1e3)
                    return 1e3;
            }
            while (Chi1(nonlinearity, hi, biasVariance) < 1);
        }
        else
        {
            do
            {
                hi = lo;
                lo /= 2;
                if (lo < 1e-3)
                    return 1e-3;
            }
            while (Chi1(nonlinearity, lo, biasVariance) > 1);
        }
        for (int i = 0; i < 50; i++)
        {
            double mid = Math.Sqrt(lo * hi);
            if (Chi1(nonlinearity, mid, biasVariance) < 1)
                lo = mid;
            else
                hi = mid;
        }
        return Math.Sqrt(lo * hi);
    }

    /// <summary>
    /// χ₁ over a grid of (σ_w², σ_b²) and the critical line σ_w²(σ_b²) at every grid σ_b²: the data of a phase diagram
    /// (the PNG writer is in the benchmark runners, which may reference a plotting library).
    /// </summary>
    /// <param name="nonlinearity">φ.</param>
    /// <param name="weightVariances">Grid σ_w² values, each positive.</param>
    /// <param name="biasVariances">Grid σ_b² values, each non-negative.</param>
    /// <param name="cancellation">Checked between grid rows.</param>
    public static PhaseDiagram ComputePhaseDiagram(NngpNonlinearity nonlinearity, IReadOnlyList<double> weightVariances, IReadOnlyList<double> biasVariances,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        ArgumentNullException.ThrowIfNull(weightVariances);
        ArgumentNullException.ThrowIfNull(biasVariances);
        if (weightVariances.Count == 0 || biasVariances.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(weightVariances), "The grid needs at least one σ_w² and one σ_b².");
        foreach (var w in weightVariances)
            CheckVariances(w, 0);
        foreach (var b in biasVariances)
            CheckVariances(1, b);
        var chi = new double[biasVariances.Count, weightVariances.Count];
        var xiC = new double[biasVariances.Count, weightVariances.Count];
        var critical = new double[biasVariances.Count];
        for (int j = 0; j < biasVariances.Count; j++)
        {
            cancellation.ThrowIfCancellationRequested();
            critical[j] = CriticalWeightVariance(nonlinearity, biasVariances[j]);
            for (int i = 0; i < weightVariances.Count; i++)
            {
                var fp = Analyze(nonlinearity, weightVariances[i], biasVariances[j]);
                chi[j, i] = fp.Chi1;
                xiC[j, i] = fp.CorrelationDepthScale;
            }
        }
        return new PhaseDiagram(nonlinearity, [.. weightVariances], [.. biasVariances], chi, xiC, critical);
    }

    /// <summary>
    /// −1/ln χ; +∞ for χ ≥ 1 (on the critical line, or just beyond it where c* is not resolved below 1 and the slope
    /// there is still ≥ 1); NaN for χ ≤ 0.
    /// </summary>
    internal static double DepthScale(double chi)
    {
        if (!(chi > 0) || double.IsNaN(chi))
            return double.NaN;
        if (chi >= 1)
            return double.PositiveInfinity;
        return -1.0 / Math.Log(chi);
    }

    private static double ChaoticCorrelation(NngpNonlinearity nonlinearity, double weightVariance, double biasVariance, double q)
    {
        double F(double c) => CorrelationMap(nonlinearity, weightVariance, biasVariance, q, c) - c;
        double lo = -1.0, hi = 1.0 - 1e-9;
        if (F(hi) >= 0)
            return hi;
        // One batched evaluation on a grid brackets the root below 1 (the last sign change), then bisection refines it.
        const int grid = 128;
        var cs = Enumerable.Range(0, grid).Select(i => -1.0 + (hi + 1.0) * i / grid).ToArray();
        var qs = Enumerable.Repeat(q, grid).ToArray();
        var (g, _) = GaussianExpectations.Pair(nonlinearity, qs, qs, cs.Select(c => c * q).ToArray());
        double qNext = VarianceMap(nonlinearity, weightVariance, biasVariance, q);
        for (int i = grid - 1; i >= 0; i--)
        {
            if ((weightVariance * g[i] + biasVariance) / qNext - cs[i] >= 0)
            {
                lo = cs[i];
                if (i + 1 < grid)
                    hi = cs[i + 1];
                break;
            }
        }
        // Illinois false position on the bracket (superlinear, keeps the bracket).
        double flo = F(lo), fhi = F(hi);
        int side = 0;
        for (int i = 0; i < 60 && hi - lo > 1e-13; i++)
        {
            double c = fhi == flo ? 0.5 * (lo + hi) : hi - fhi * (hi - lo) / (fhi - flo);
            if (!(c > lo && c < hi))
                c = 0.5 * (lo + hi);
            double fc = F(c);
            if (fc == 0)
                return c;
            if (fc > 0)
            {
                (lo, flo) = (c, fc);
                if (side == -1)
                    fhi *= 0.5;
                side = -1;
            }
            else
            {
                (hi, fhi) = (c, fc);
                if (side == 1)
                    flo *= 0.5;
                side = 1;
            }
            if (Math.Abs(fc) < 1e-14)
                return c;
        }
        return 0.5 * (lo + hi);
    }

    internal static void CheckVariances(double weightVariance, double biasVariance)
    {
        if (!(weightVariance > 0) || !double.IsFinite(weightVariance))
            throw new ArgumentOutOfRangeException(nameof(weightVariance), weightVariance, "The weight variance σ_w² must be positive and finite.");
        if (!(biasVariance >= 0) || !double.IsFinite(biasVariance))
            throw new ArgumentOutOfRangeException(nameof(biasVariance), biasVariance, "The bias variance σ_b² must be non-negative and finite.");
    }

    internal static void CheckDepth(int depth)
    {
        if (depth <= 0)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "The depth (number of nonlinear layers) must be positive.");
    }

    private static void CheckState(double q1, double q2, double c)
    {
        if (!(q1 > 0) || !double.IsFinite(q1))
            throw new ArgumentOutOfRangeException(nameof(q1), q1, "The variance must be positive and finite.");
        if (!(q2 > 0) || !double.IsFinite(q2))
            throw new ArgumentOutOfRangeException(nameof(q2), q2, "The variance must be positive and finite.");
        if (!(c >= -1 && c <= 1))
            throw new ArgumentOutOfRangeException(nameof(c), c, "The correlation must be in [−1, 1].");
    }
}
