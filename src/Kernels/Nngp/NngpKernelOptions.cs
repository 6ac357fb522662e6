using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>How the Gaussian expectations of each layer are evaluated.</summary>
public enum NngpIntegration
{
    /// <summary>Closed form when the nonlinearity has one, otherwise Gauss–Hermite quadrature.</summary>
    Auto,

    /// <summary>Closed form (ABReLU family, Erf); other nonlinearities are rejected.</summary>
    ClosedForm,

    /// <summary>
    /// The paper's precomputed lookup table over (variance, correlation), filled by reweighted sums over a uniform
    /// grid and read by bilinear interpolation: O(1) per entry whatever φ is.
    /// </summary>
    LookupGrid,

    /// <summary>Two-dimensional Gauss–Hermite quadrature of degree <see cref="NngpKernelOptions.GaussHermiteDegree"/>: accurate for smooth φ, O(deg²) per entry.</summary>
    GaussHermite,
}

/// <summary>Which kernels <see cref="NngpKernel.Compute(Tensor, Tensor?, NngpOutputs, System.Threading.CancellationToken)"/> returns.</summary>
[Flags]
public enum NngpOutputs
{
    /// <summary>The NNGP kernel only (skips the NTK recursion).</summary>
    Nngp = 1,

    /// <summary>The neural tangent kernel (the NNGP kernel is computed as well, the NTK needs it).</summary>
    Ntk = 2,

    /// <summary>Both kernels.</summary>
    Both = Nngp | Ntk,
}

/// <summary>Storage precision of computed kernels.</summary>
public enum NngpPrecision
{
    /// <summary>float64 (default, as the paper): the recursion and GP solves need it for deep or large problems.</summary>
    Float64,

    /// <summary>float32 storage (the recursion still runs in float64); halves the memory of the result.</summary>
    Float32,
}

/// <summary>How an <see cref="NngpKernel"/> computes: integration method, tiling, device and precision.</summary>
public sealed class NngpKernelOptions
{
    /// <summary>Defaults of every option, in one place.</summary>
    internal static class Defaults
    {
        public const NngpIntegration Integration = NngpIntegration.Auto;
        public const int GaussHermiteDegree = 25;
        public const int GridGaussPoints = 151;
        public const int GridVariancePoints = 151;
        public const int GridCorrelationPoints = 131;
        public const double GridMaxVariance = 100.0;
        public const double GridMaxGauss = 10.0;
        public const double GridMinVariance = 1e-8;
        public const double GridMaxCorrelation = 0.99999;
        public const bool Rescale = false;
        public const NngpPrecision Precision = NngpPrecision.Float64;
        public const int TileSize = 0;
        public const long CudaMemoryBudget = 2L << 30;
        public const long MaxCpuTileBudget = 256L << 20;
    }

    /// <summary>Integration method. Default <see cref="NngpIntegration.Auto"/>.</summary>
    public NngpIntegration Integration = Defaults.Integration;

    /// <summary>Gauss–Hermite degree per dimension (1–200). Default 25, as neural-tangents suggests for smooth φ.</summary>
    public int GaussHermiteDegree = Defaults.GaussHermiteDegree;

    /// <summary>Lookup grid: number of uniform integration points in [−<see cref="GridMaxGauss"/>, <see cref="GridMaxGauss"/>]; odd (so 0 is a point). Default 151 (paper runs: 501).</summary>
    public int GridGaussPoints = Defaults.GridGaussPoints;

    /// <summary>Lookup grid: number of variance points, linear in [1e-8, <see cref="GridMaxVariance"/>]. Default 151 (paper runs: 501).</summary>
    public int GridVariancePoints = Defaults.GridVariancePoints;

    /// <summary>Lookup grid: number of correlation points, linear in [−0.99999, 0.99999]. Default 131 (paper runs: 500).</summary>
    public int GridCorrelationPoints = Defaults.GridCorrelationPoints;

    /// <summary>Lookup grid: largest pre-activation variance; a larger variance is an error. Default 100 (as the paper).</summary>
    public double GridMaxVariance = Defaults.GridMaxVariance;

    /// <summary>Lookup grid: half-width of the uniform integration range. Default 10 (as the paper's runs).</summary>
    public double GridMaxGauss = Defaults.GridMaxGauss;

    /// <summary>
    /// Rescale every layer by a data-independent scalar (the variance a unit-variance input reaches there) so that
    /// very deep ReLU-like nets (σ_w² &gt; 2) neither overflow nor lose precision; the true kernel is
    /// <c>exp(LogScale)</c> times the returned one (<see cref="NngpKernelResult.LogScale"/>). Only for positively
    /// homogeneous φ. Default false.
    /// </summary>
    public bool Rescale = Defaults.Rescale;

    /// <summary>Storage precision of results. Default <see cref="NngpPrecision.Float64"/>.</summary>
    public NngpPrecision Precision = Defaults.Precision;

    /// <summary>
    /// Rows and columns per tile; 0 (default) chooses it from the available memory (host RAM on the CPU, a 2 GiB
    /// budget or <see cref="MemoryBudgetBytes"/> on CUDA). Results do not depend on it on the CPU.
    /// </summary>
    public int TileSize = Defaults.TileSize;

    /// <summary>Working-memory budget for one tile in bytes, or null to derive it from the available memory.</summary>
    public long? MemoryBudgetBytes;

    /// <summary>Device to compute on (null = CPU). Inputs are moved there; results stay there.</summary>
    public Device? Device;

    /// <summary>Tests only: run the closed forms through tensor operations even on the CPU (the GPU code path).</summary>
    internal bool ForceTensorPath;

    /// <summary>A shallow copy.</summary>
    public NngpKernelOptions Clone() => (NngpKernelOptions)MemberwiseClone();

    internal void Validate(NngpArchitecture architecture)
    {
        if (!Enum.IsDefined(Integration))
            throw new ArgumentOutOfRangeException(nameof(Integration), Integration, "Unknown integration method.");
        if (!Enum.IsDefined(Precision))
            throw new ArgumentOutOfRangeException(nameof(Precision), Precision, "Unknown precision.");
        if (Integration == NngpIntegration.ClosedForm && !architecture.Nonlinearity.HasClosedForm)
            throw new ArgumentOutOfRangeException(nameof(Integration), $"{architecture.Nonlinearity.Name} has no closed form; use GaussHermite or LookupGrid.");
        if (GaussHermiteDegree < 1 || GaussHermiteDegree > 200)
            throw new ArgumentOutOfRangeException(nameof(GaussHermiteDegree), GaussHermiteDegree, "The Gauss–Hermite degree must be between 1 and 200.");
        if (GridGaussPoints < 3 || GridGaussPoints % 2 == 0)
            throw new ArgumentOutOfRangeException(nameof(GridGaussPoints), GridGaussPoints, "The number of grid integration points must be odd and at least 3 (so that 0 is a grid point).");
        if (GridVariancePoints < 2)
            throw new ArgumentOutOfRangeException(nameof(GridVariancePoints), GridVariancePoints, "The lookup grid needs at least 2 variance points.");
        if (GridCorrelationPoints < 2)
            throw new ArgumentOutOfRangeException(nameof(GridCorrelationPoints), GridCorrelationPoints, "The lookup grid needs at least 2 correlation points.");
        if (!double.IsFinite(GridMaxVariance) || GridMaxVariance <= Defaults.GridMinVariance)
            throw new ArgumentOutOfRangeException(nameof(GridMaxVariance), GridMaxVariance, "The grid's largest variance must be finite and above 1e-8.");
        if (!double.IsFinite(GridMaxGauss) || GridMaxGauss <= 0)
            throw new ArgumentOutOfRangeException(nameof(GridMaxGauss), GridMaxGauss, "The grid's integration range must be positive and finite.");
        if (TileSize < 0)
            throw new ArgumentOutOfRangeException(nameof(TileSize), TileSize, "The tile size must be 0 (automatic) or positive.");
        if (MemoryBudgetBytes is long b && b <= 0)
            throw new ArgumentOutOfRangeException(nameof(MemoryBudgetBytes), b, "The memory budget must be positive.");
        if (Rescale && !architecture.Nonlinearity.IsPositivelyHomogeneous)
            throw new ArgumentOutOfRangeException(nameof(Rescale), $"Rescaling needs a positively homogeneous nonlinearity (ReLU, leaky ReLU, ABReLU, Abs), not {architecture.Nonlinearity.Name}.");
    }

    internal NngpIntegration Resolve(NngpNonlinearity phi) => Integration == NngpIntegration.Auto
        ? (phi.HasClosedForm ? NngpIntegration.ClosedForm : NngpIntegration.GaussHermite)
        : Integration;
}
