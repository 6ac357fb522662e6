using Components.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Energies;

/// <summary>
/// A target distribution given by its energy (unnormalised negative log density) <c>U(x)</c> over
/// <c>R^Dimension</c>, evaluated on batches of states: rows are chains, columns are coordinates.
/// Samplers need <c>U</c> and its gradient; the default gradient comes from TorchSharp autograd, and built-in
/// targets override it with closed forms (still differentiable, so L2HMC's loss can differentiate through it).
/// </summary>
/// <remarks>
/// Create targets with the static factories (<see cref="StronglyCorrelatedGaussian"/>,
/// <see cref="IllConditionedGaussian"/>, <see cref="MixtureOfGaussians"/>, <see cref="RoughWell"/>,
/// <see cref="Funnel"/>, <see cref="Gaussian"/>) or wrap any TorchSharp function with <see cref="FromFunction"/>.
/// Instances are immutable and may be shared by several samplers and threads.
/// </remarks>
public abstract class EnergyFunction
{
    /// <summary>Creates the energy.</summary>
    /// <param name="name">Name used in messages and stored in saved models.</param>
    /// <param name="dimension">Dimension of the state space (one or more).</param>
    protected EnergyFunction(string name, int dimension)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (dimension < 1)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The dimension of an energy must be at least 1.");
        Name = name;
        Dimension = dimension;
    }

    /// <summary>Name of the target (messages, saved models).</summary>
    public string Name { get; }

    /// <summary>Dimension <c>d</c> of the state space.</summary>
    public int Dimension { get; }

    /// <summary>
    /// Trace of the target's covariance when known in closed form, else null. The paper's ESS scales chains by
    /// its square root.
    /// </summary>
    public virtual double? CovarianceTrace => null;

    /// <summary>Whether <see cref="SampleExact"/> draws exact (independent) samples of the target.</summary>
    public virtual bool HasExactSampler => false;

    /// <summary>
    /// Centres of the target's modes when it is a mixture (the component means), else null: what
    /// <see cref="Diagnostics.Tunneling"/> assigns states to.
    /// </summary>
    public virtual IReadOnlyList<double[]>? ModeCentres => null;

    /// <summary>The energy of each state.</summary>
    /// <param name="x">States, shape <c>[n, Dimension]</c>, float32.</param>
    /// <returns>Energies, shape <c>[n]</c>.</returns>
    public abstract Tensor Energy(Tensor x);

    /// <summary>
    /// The energy and its gradient <c>∇U(x)</c>. The default uses autograd on <see cref="Energy"/>; with
    /// <paramref name="createGraph"/> the gradient keeps its graph so it can be differentiated again (L2HMC's
    /// training loss differentiates through <c>∇U</c>).
    /// </summary>
    /// <param name="x">States <c>[n, Dimension]</c>.</param>
    /// <param name="createGraph">Keep the graph of the gradient (double backward).</param>
    /// <returns>Energy <c>[n]</c> and gradient <c>[n, Dimension]</c>.</returns>
    public virtual (Tensor Energy, Tensor Gradient) EnergyAndGradient(Tensor x, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = torch.NewDisposeScope();
        using var enable = torch.enable_grad();
        var input = x.requires_grad ? x : x.detach().requires_grad_(true);
        var u = CheckEnergyShape(Energy(input), x);
        Tensor g;
        if (!u.requires_grad)
        {
            g = torch.zeros_like(x);
        }
        else
        {
            var grads = torch.autograd.grad([u.sum()], [input], retain_graph: createGraph, create_graph: createGraph, allow_unused: true);
            g = grads[0] is { } gg && !gg.IsInvalid ? gg : torch.zeros_like(x);
        }
        if (!createGraph)
        {
            u = u.detach();
            g = g.detach();
        }
        CheckGradientShape(g, x);
        return (u.MoveToOuterDisposeScope(), g.MoveToOuterDisposeScope());
    }

    /// <summary>Draws <paramref name="count"/> exact samples; only when <see cref="HasExactSampler"/>.</summary>
    /// <param name="count">Number of samples.</param>
    /// <param name="generator">Random generator (CPU).</param>
    /// <returns>Samples <c>[count, Dimension]</c> on the CPU.</returns>
    public virtual Tensor SampleExact(int count, Generator? generator = null)
        => throw new NotSupportedException($"The energy '{Name}' has no exact sampler.");

    /// <summary>Writes the description needed to rebuild this energy when a model is loaded.</summary>
    internal abstract void Write(BinaryWriter writer);

    /// <summary>Checks that an energy has one value per state and returns it as float32 <c>[n]</c>.</summary>
    internal Tensor CheckEnergyShape(Tensor u, Tensor x)
    {
        long n = x.shape[0];
        if (u.dim() == 2 && u.shape[1] == 1)
            u = u.squeeze(1);
        if (u.dim() != 1 || u.shape[0] != n)
        {
            throw new InvalidOperationException(
                $"Energy '{Name}' must return one value per state (shape [{n}]) for states of shape [{n}, {Dimension}], " +
                $"but returned shape [{string.Join(", ", u.shape)}].");
        }
        return u.dtype == ScalarType.Float32 ? u : u.to_type(ScalarType.Float32);
    }

    private void CheckGradientShape(Tensor g, Tensor x)
    {
        if (g.dim() != 2 || g.shape[0] != x.shape[0] || g.shape[1] != x.shape[1])
        {
            throw new InvalidOperationException(
                $"Energy '{Name}' produced a gradient of shape [{string.Join(", ", g.shape)}] for states of shape [{string.Join(", ", x.shape)}].");
        }
    }

    /// <summary>Checks the state tensor handed to this energy.</summary>
    internal void CheckStates(Tensor x, string what = "states")
    {
        if (x.dim() != 2 || x.shape[1] != Dimension)
        {
            throw new ArgumentOutOfRangeException(nameof(x),
                $"Energy '{Name}' is defined on R^{Dimension}; the {what} have shape [{string.Join(", ", x.shape)}], expected [n, {Dimension}].");
        }
    }

    // ------------------------------------------------------------------ factories

    /// <summary>
    /// The paper's strongly correlated 2-d Gaussian (SCG): mean 0, variances 100 and 0.1 rotated by π/4, i.e.
    /// <c>Σ = [[50.05, −49.95], [−49.95, 50.05]]</c> (SCGExperiment.ipynb).
    /// </summary>
    public static EnergyFunction StronglyCorrelatedGaussian()
        => new GaussianEnergy("StronglyCorrelatedGaussian", new double[2], new[,] { { 50.05, -49.95 }, { -49.95, 50.05 } });

    /// <summary>
    /// The paper's ill-conditioned Gaussian (ICG): mean 0 and a diagonal covariance whose variances are spaced
    /// log-linearly between <paramref name="minVariance"/> and <paramref name="maxVariance"/>.
    /// </summary>
    /// <param name="dimension">Dimension (paper: 50).</param>
    /// <param name="minVariance">Smallest variance (paper: 1e-2).</param>
    /// <param name="maxVariance">Largest variance (paper: 1e2).</param>
    public static EnergyFunction IllConditionedGaussian(int dimension = 50, double minVariance = 1e-2, double maxVariance = 1e2)
    {
        if (dimension < 1)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Must be at least 1.");
        if (!(minVariance > 0) || !(maxVariance >= minVariance) || double.IsInfinity(maxVariance))
            throw new ArgumentOutOfRangeException(nameof(minVariance), "Variances must be positive, finite and minVariance <= maxVariance.");
        var v = new double[dimension];
        for (int i = 0; i < dimension; i++)
        {
            double f = dimension == 1 ? 0 : (double)i / (dimension - 1);
            v[i] = Math.Exp(Math.Log(minVariance) + f * (Math.Log(maxVariance) - Math.Log(minVariance)));
        }
        return new DiagonalGaussianEnergy("IllConditionedGaussian", new double[dimension], v);
    }

    /// <summary>A Gaussian with the given mean and (symmetric positive definite) covariance.</summary>
    /// <param name="mean">Mean, length d.</param>
    /// <param name="covariance">Covariance, d × d, symmetric positive definite.</param>
    public static EnergyFunction Gaussian(double[] mean, double[,] covariance)
        => new GaussianEnergy("Gaussian", mean, covariance);

    /// <summary>
    /// The paper's mixture of two isotropic 2-d Gaussians (MoG) with equal weights, variance
    /// <paramref name="variance"/> each, and centres <c>(±distance/2, 0)</c>.
    /// </summary>
    /// <param name="distance">Distance between the centres (paper: 4).</param>
    /// <param name="variance">Variance of each component (paper: 0.1).</param>
    public static EnergyFunction MixtureOfGaussians(double distance = 4, double variance = 0.1)
    {
        if (!(distance >= 0) || double.IsInfinity(distance))
            throw new ArgumentOutOfRangeException(nameof(distance), distance, "Must be finite and non-negative.");
        return Mixture([[-distance / 2, 0], [distance / 2, 0]], [variance, variance], [0.5, 0.5]);
    }

    /// <summary>
    /// The reference code's ring of Gaussians (<c>utils/distributions.py</c>, <c>gen_ring</c>): <paramref name="components"/>
    /// isotropic 2-d Gaussians of variance <paramref name="variance"/> with equal weights, centred at
    /// <c>r (cos 2πk/K, sin 2πk/K)</c>, k = 0..K−1. The reference's toy-task script (<c>eval_toy.py</c>, task
    /// <c>mog</c>) uses K = 4, r = 2, σ² = 0.1; K = 2 is <see cref="MixtureOfGaussians"/> with distance 2r.
    /// </summary>
    /// <param name="components">Number of Gaussians K (one or more).</param>
    /// <param name="radius">Radius r of the ring of centres.</param>
    /// <param name="variance">Variance σ² of each component.</param>
    public static EnergyFunction GaussianRing(int components = 4, double radius = 2, double variance = 0.1)
    {
        if (components < 1 || components > 1 << 16)
            throw new ArgumentOutOfRangeException(nameof(components), components, "Must be between 1 and 65536.");
        if (!(radius >= 0) || double.IsInfinity(radius))
            throw new ArgumentOutOfRangeException(nameof(radius), radius, "Must be finite and non-negative.");
        var means = Enumerable.Range(0, components)
            .Select(k => new[] { radius * Math.Cos(2 * Math.PI * k / components), radius * Math.Sin(2 * Math.PI * k / components) })
            .ToArray();
        return new MixtureEnergy("GaussianRing", means, Enumerable.Repeat(variance, components).ToArray(),
            Enumerable.Repeat(1.0 / components, components).ToArray());
    }

    /// <summary>A mixture of isotropic Gaussians: <c>U(x) = −log Σ_k π_k N(x; μ_k, σ_k² I)</c>.</summary>
    /// <param name="means">Component means (all of the same length d).</param>
    /// <param name="variances">Component variances σ_k² (positive).</param>
    /// <param name="weights">Mixture weights π_k (positive; normalised to sum 1).</param>
    public static EnergyFunction Mixture(double[][] means, double[] variances, double[] weights)
        => new MixtureEnergy("MixtureOfGaussians", means, variances, weights);

    /// <summary>
    /// The paper's rough well, a unit Gaussian with a high-frequency ripple of amplitude η:
    /// <c>U(x) = ½ xᵀx + η Σ_i cos(x_i / η)</c>, or with <paramref name="hard"/>
    /// <c>½ xᵀx + η Σ_i cos(x_i / η²)</c> (the reference code's default, whose gradient ripples with amplitude 1/η).
    /// </summary>
    /// <param name="dimension">Dimension (paper: 2).</param>
    /// <param name="eta">Ripple scale η (paper: 1e-2).</param>
    /// <param name="hard">Use the ripple <c>cos(x/η²)</c> instead of <c>cos(x/η)</c>.</param>
    public static EnergyFunction RoughWell(int dimension = 2, double eta = 1e-2, bool hard = false)
        => new RoughWellEnergy(dimension, eta, hard);

    /// <summary>
    /// Neal's funnel as in the reference code (GaussianFunnel): <c>v = x_0 ~ N(0, σ²)</c> and
    /// <c>x_i | v ~ N(0, e^v)</c>; for <c>|v| &gt; clip</c> the scale is frozen at <c>e^{±clip}</c> (continuous).
    /// </summary>
    /// <param name="dimension">Dimension (two or more; reference: 2).</param>
    /// <param name="sigma">Standard deviation σ of v (reference: 2).</param>
    /// <param name="clip">Clip of v (reference: 4σ); null uses 4σ.</param>
    public static EnergyFunction Funnel(int dimension = 2, double sigma = 2, double? clip = null)
        => new FunnelEnergy(dimension, sigma, clip ?? 4 * sigma);

    /// <summary>
    /// Any energy given as a TorchSharp function of a batch of states <c>[n, dimension]</c> returning <c>[n]</c>;
    /// gradients come from autograd. The function is registered under <paramref name="name"/> for the process, so
    /// a saved model that uses it loads after the same call (same name) in the loading process.
    /// </summary>
    /// <param name="name">Unique name (stored in saved models).</param>
    /// <param name="dimension">Dimension d of the states.</param>
    /// <param name="energy">The energy function; must be differentiable by TorchSharp autograd and pure.</param>
    public static EnergyFunction FromFunction(string name, int dimension, Func<Tensor, Tensor> energy)
    {
        ArgumentNullException.ThrowIfNull(energy);
        var e = new FunctionEnergy(name, dimension, energy);
        EnergyRegistry.Register(e);
        return e;
    }

    /// <summary>Reads an energy written by <see cref="Write"/>.</summary>
    internal static EnergyFunction Read(BinaryReader reader)
    {
        var kind = reader.ReadString();
        return kind switch
        {
            GaussianEnergy.Kind => GaussianEnergy.ReadBody(reader),
            DiagonalGaussianEnergy.Kind => DiagonalGaussianEnergy.ReadBody(reader),
            MixtureEnergy.Kind => MixtureEnergy.ReadBody(reader),
            RoughWellEnergy.Kind => RoughWellEnergy.ReadBody(reader),
            FunnelEnergy.Kind => FunnelEnergy.ReadBody(reader),
            FunctionEnergy.Kind => FunctionEnergy.ReadBody(reader),
            _ => throw new FormatException($"Corrupt model file: unknown energy kind '{kind}'."),
        };
    }

    /// <summary>Reads a finite double array of the given length.</summary>
    internal static double[] ReadFinite(BinaryReader r, int length, string what)
    {
        var a = r.ReadDoubles(length);
        BinaryFormat.CheckDecode(a.Length == length && a.All(double.IsFinite), what);
        return a;
    }
}
