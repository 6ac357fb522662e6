using Components.Core.Runtime;
using Components.Core.Trainers;
using Components.Kernels.Nngp;

namespace Components.Trainers.Nngp;

/// <summary>Which infinite-width kernel the Gaussian process uses.</summary>
public enum NngpKernelKind
{
    /// <summary>The NNGP kernel K: the Bayesian posterior of an infinitely wide network (the paper).</summary>
    Nngp,

    /// <summary>The neural tangent kernel Θ: the mean of infinitely wide networks trained by gradient descent on MSE to convergence.</summary>
    Ntk,
}

/// <summary>How <see cref="NngpTrainerOptions"/> hyperparameter candidates are compared.</summary>
public enum NngpSelectionCriterion
{
    /// <summary>No search: use the configured hyperparameters.</summary>
    None,

    /// <summary>
    /// Log marginal likelihood of the (one-hot or centred) targets on the selection rows, at the maximum-likelihood
    /// output scale σ̂² (the scale the fitted model then uses), so that it does not depend on the kernel's amplitude.
    /// </summary>
    LogMarginalLikelihood,

    /// <summary>Accuracy (classification) or mean squared error (regression) on a held-out part of the selection rows.</summary>
    Validation,
}

/// <summary>How the NNGP trainers solve (K + λI)α = Y.</summary>
public enum NngpSolver
{
    /// <summary>Dense float64 Cholesky when the kernel and its factor fit in memory, otherwise conjugate gradients.</summary>
    Auto,

    /// <summary>Dense float64 kernel and Cholesky factor (exact; n² doubles twice).</summary>
    Dense,

    /// <summary>Matrix-free preconditioned conjugate gradients on the kernel operator (never holds the dense float64 kernel).</summary>
    ConjugateGradient,
}

/// <summary>
/// Options shared by <see cref="NngpMulticlassTrainer.Options"/> and <see cref="NngpRegressionTrainer.Options"/>; every
/// field documents its default. From <see cref="ComponentOptions"/>: the seed (of the selection subset and split), the
/// device, and the cancellation token (checked between kernel tiles and search candidates).
/// </summary>
public abstract class NngpTrainerOptions : ComponentOptions
{
    /// <summary>Defaults of every option, in one place.</summary>
    internal static class Defaults
    {
        public const int Depth = 3;
        public const double WeightVariance = 2.0;
        public const double BiasVariance = 0.1;
        public const bool InputLayerNorm = true;
        public const NngpKernelKind Kernel = NngpKernelKind.Nngp;
        public const double Regularizer = 1e-4;
        public const bool PredictVariance = true;
        public const string VarianceColumnName = "Variance";
        public const string PosteriorMeanColumnName = "PosteriorMean";
        public const int BatchSize = 512;
        public const NngpSelectionCriterion Selection = NngpSelectionCriterion.None;
        public const double ValidationFraction = 0.2;
        public const int SelectionMaxRows = 2000;
        public const bool SearchNearCriticalLine = false;

        /// <summary>The search's default ε grid (a copy per options instance; not const because it is an array).</summary>
        public static readonly double[] RegularizerCandidates = [1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3, 10];
    }

    /// <summary>Feature column: known-size vector of Single. Default <c>Features</c>.</summary>
    public string FeatureColumnName = PredictionColumns.Features;

    /// <summary>Label column: a key (classification) or Single (regression). Default <c>Label</c>.</summary>
    public string LabelColumnName = PredictionColumns.Label;

    /// <summary>Score column written by the model. Default <c>Score</c>.</summary>
    public string ScoreColumnName = PredictionColumns.Score;

    /// <summary>
    /// Variance column written by the model (when <see cref="PredictVariance"/>), on the targets' scale: regression, the
    /// predictive variance of a new label (latent variance plus observation noise, times the fitted output scale);
    /// classification, the posterior variance of each class's latent mean. Default <c>Variance</c>.
    /// </summary>
    public string VarianceColumnName = Defaults.VarianceColumnName;

    /// <summary>Number of hidden layers of the equivalent network (≥ 0). Default 3.</summary>
    public int Depth = Defaults.Depth;

    /// <summary>σ_w², the weight variance (&gt; 0; 2 is the ReLU order-to-chaos point). Default 2.</summary>
    public double WeightVariance = Defaults.WeightVariance;

    /// <summary>σ_b², the bias variance (≥ 0). Default 0.1.</summary>
    public double BiasVariance = Defaults.BiasVariance;

    /// <summary>The nonlinearity. Default ReLU.</summary>
    public NngpNonlinearity Nonlinearity = NngpNonlinearity.Relu;

    /// <summary>Layer-normalise each input row first (zero mean, unit variance over its features), as the paper. Default true.</summary>
    public bool InputLayerNorm = Defaults.InputLayerNorm;

    /// <summary>NNGP kernel or NTK. Default <see cref="NngpKernelKind.Nngp"/>.</summary>
    public NngpKernelKind Kernel = Defaults.Kernel;

    /// <summary>
    /// Trace-scaled regulariser ε: the GP solves (K + ε·tr(K)/n·I)α = Y (neural-tangents' diag_reg), on top of the
    /// jitter ladder 1e-10·10^k·tr(K)/n used only if the Cholesky factorisation fails. ≥ 0. Default 1e-4.
    /// </summary>
    public double Regularizer = Defaults.Regularizer;

    /// <summary>Integration method of the kernel. Default <see cref="NngpIntegration.Auto"/> (closed form when available).</summary>
    public NngpIntegration Integration = NngpKernelOptions.Defaults.Integration;

    /// <summary>Gauss–Hermite degree for nonlinearities without closed form. Default 25.</summary>
    public int GaussHermiteDegree = NngpKernelOptions.Defaults.GaussHermiteDegree;

    /// <summary>Rescale the kernel per layer (deep ReLU-like nets with σ_w² &gt; 2); the variance output is scaled back. Default false.</summary>
    public bool RescaleKernel = NngpKernelOptions.Defaults.Rescale;

    /// <summary>Output the predictive variance column; the model then keeps the n×n Cholesky factor (n²/2 doubles in the file). Default true.</summary>
    public bool PredictVariance = Defaults.PredictVariance;

    /// <summary>Rows per batch when the model transforms data (one kernel block against the training set each). Default 512.</summary>
    public int BatchSize = Defaults.BatchSize;

    /// <summary>Hyperparameter search criterion. Default <see cref="NngpSelectionCriterion.None"/>.</summary>
    public NngpSelectionCriterion Selection = Defaults.Selection;

    /// <summary>Candidate σ_w² values for the search (null = only <see cref="WeightVariance"/>).</summary>
    public double[]? WeightVarianceCandidates;

    /// <summary>Candidate σ_b² values for the search (null = only <see cref="BiasVariance"/>).</summary>
    public double[]? BiasVarianceCandidates;

    /// <summary>Candidate depths for the search (null = only <see cref="Depth"/>).</summary>
    public int[]? DepthCandidates;

    /// <summary>
    /// Candidate regularisers ε for the search (used only when <see cref="Selection"/> is not None; null = only
    /// <see cref="Regularizer"/>); all reuse one eigendecomposition per kernel, so each costs O(n²k). Default
    /// {1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3, 10}: on Fashion-MNIST both criteria pick ε = 1e-2 to 3e-2, well
    /// inside the grid (docs/reproductions.md).
    /// </summary>
    public double[]? RegularizerCandidates = [.. Defaults.RegularizerCandidates];

    /// <summary>
    /// Search near the order-to-chaos line: for each σ_b² candidate, σ_w² candidates are the critical σ_w² (χ₁ = 1)
    /// times each of <see cref="CriticalLineMultipliers"/>, instead of <see cref="WeightVarianceCandidates"/>. Default false.
    /// </summary>
    public bool SearchNearCriticalLine = Defaults.SearchNearCriticalLine;

    /// <summary>Multipliers of the critical σ_w² used by <see cref="SearchNearCriticalLine"/>. Default {0.8, 0.9, 1.0, 1.1}.</summary>
    public double[] CriticalLineMultipliers = [0.8, 0.9, 1.0, 1.1];

    /// <summary>Fraction of the selection rows held out for <see cref="NngpSelectionCriterion.Validation"/>, in (0, 1). Default 0.2.</summary>
    public double ValidationFraction = Defaults.ValidationFraction;

    /// <summary>The search uses a random subset of at most this many training rows (each candidate costs an O(n³) eigendecomposition). Default 2000.</summary>
    public int SelectionMaxRows = Defaults.SelectionMaxRows;

    // ---- Matrix-free solver (issue 18): solver choice, kernel operator, conjugate gradients, variances ----

    /// <summary>
    /// Which solver: <see cref="NngpSolver.Auto"/> (default) uses the dense Cholesky path when its float64 kernel and
    /// factor (2·n²·8 bytes plus working memory) fit in half of the available memory, otherwise conjugate gradients.
    /// </summary>
    public NngpSolver Solver = SolverDefaults.Solver;

    /// <summary>
    /// The training-kernel operator used by the conjugate-gradient solver (null = <see cref="NngpLocalKernelOperatorFactory"/>
    /// with its defaults: blocks computed on this machine, cached in float32 within half of the available memory).
    /// Point it at another implementation, e.g. a cluster, to spread the kernel over several machines.
    /// </summary>
    public INngpKernelOperatorFactory? KernelOperatorFactory;

    /// <summary>Conjugate gradients stop when every column's residual ‖Y − Cα‖/‖Y‖ is below this (&gt; 0, &lt; 1). Default 1e-6.</summary>
    public double SolverTolerance = SolverDefaults.Tolerance;

    /// <summary>Largest number of conjugate-gradient iterations (each one kernel product); not converging within it is an error (or a warning, see <see cref="SolverAllowUnconverged"/>). Default 1000.</summary>
    public int SolverMaxIterations = SolverDefaults.MaxIterations;

    /// <summary>Continue with a warning in the log instead of failing when conjugate gradients reach <see cref="SolverMaxIterations"/> unconverged. Default false.</summary>
    public bool SolverAllowUnconverged = SolverDefaults.AllowUnconverged;

    /// <summary>
    /// Rank of the pivoted-Cholesky preconditioner: −1 (default) = automatic, 100 up to n = 5,000 training rows, then
    /// n/50 (200 at n = 10,000, 1,200 at n = 60,000), at most 2,000; 0 = none (CG preconditioned by the noise alone);
    /// k &gt; 0 = rank k. It costs k kernel rows and n·k doubles, kept (twice) by a model with variances.
    /// </summary>
    public int PreconditionerRank = SolverDefaults.PreconditionerRank;

    /// <summary>
    /// Size of the conjugate-gradient solver's variance basis (a block Krylov space of the preconditioned kernel, 64
    /// vectors per kernel product; used when <see cref="PredictVariance"/> and for the classifier's leave-one-out
    /// calibration); ≥ 1. Larger is more accurate and costs n·rank doubles in the model. Default 512.
    /// </summary>
    public int VarianceRank = SolverDefaults.VarianceRank;

    /// <summary>Defaults of the matrix-free solver's options.</summary>
    internal static class SolverDefaults
    {
        public const NngpSolver Solver = NngpSolver.Auto;
        public const double Tolerance = 1e-6;
        public const int MaxIterations = 1000;
        public const bool AllowUnconverged = false;
        public const int PreconditionerRank = -1;
        public const int VarianceRank = 512;
    }

    // ---- end of the matrix-free solver's options ----

    internal NngpArchitecture Architecture() => new(Depth, Nonlinearity, WeightVariance, BiasVariance, InputLayerNorm);

    internal NngpKernelOptions KernelOptions(TorchSharp.torch.Device device) => new()
    {
        Integration = Integration,
        GaussHermiteDegree = GaussHermiteDegree,
        Rescale = RescaleKernel,
        Device = device,
    };

    internal void Validate()
    {
        Core.Schema.Guard.CheckUserArg(!string.IsNullOrWhiteSpace(FeatureColumnName), nameof(FeatureColumnName), "Must not be empty.");
        Core.Schema.Guard.CheckUserArg(!string.IsNullOrWhiteSpace(LabelColumnName), nameof(LabelColumnName), "Must not be empty.");
        Core.Schema.Guard.CheckUserArg(!string.IsNullOrWhiteSpace(ScoreColumnName), nameof(ScoreColumnName), "Must not be empty.");
        Core.Schema.Guard.CheckUserArg(!PredictVariance || !string.IsNullOrWhiteSpace(VarianceColumnName), nameof(VarianceColumnName), "Must not be empty.");
        Core.Schema.Guard.CheckUserArg(Nonlinearity is not null, nameof(Nonlinearity), "Must not be null.");
        Core.Schema.Guard.CheckUserArg(double.IsFinite(Regularizer) && Regularizer >= 0, nameof(Regularizer), "Must be non-negative and finite.");
        Core.Schema.Guard.CheckUserArg(BatchSize > 0, nameof(BatchSize), "Must be positive.");
        Core.Schema.Guard.CheckUserArg(Enum.IsDefined(Kernel), nameof(Kernel), "Unknown kernel kind.");
        Core.Schema.Guard.CheckUserArg(Enum.IsDefined(Selection), nameof(Selection), "Unknown selection criterion.");
        Core.Schema.Guard.CheckUserArg(ValidationFraction > 0 && ValidationFraction < 1, nameof(ValidationFraction), "Must be in (0, 1).");
        Core.Schema.Guard.CheckUserArg(SelectionMaxRows >= 4, nameof(SelectionMaxRows), "Must be at least 4.");
        Core.Schema.Guard.CheckUserArg(RegularizerCandidates is null || RegularizerCandidates.All(r => double.IsFinite(r) && r >= 0), nameof(RegularizerCandidates), "Must be non-negative and finite.");
        Core.Schema.Guard.CheckUserArg(CriticalLineMultipliers is { Length: > 0 } && CriticalLineMultipliers.All(m => double.IsFinite(m) && m > 0), nameof(CriticalLineMultipliers), "Must be positive and finite.");
        Core.Schema.Guard.CheckUserArg(Enum.IsDefined(Solver), nameof(Solver), "Unknown solver.");
        Core.Schema.Guard.CheckUserArg(SolverTolerance > 0 && SolverTolerance < 1, nameof(SolverTolerance), "Must be in (0, 1).");
        Core.Schema.Guard.CheckUserArg(SolverMaxIterations > 0, nameof(SolverMaxIterations), "Must be positive.");
        Core.Schema.Guard.CheckUserArg(PreconditionerRank >= -1, nameof(PreconditionerRank), "Must be -1 (automatic), 0 (none) or positive.");
        Core.Schema.Guard.CheckUserArg(VarianceRank > 0, nameof(VarianceRank), "Must be positive.");
        if (Device is not null)
            Core.Runtime.DeviceResolver.Parse(Device);
        // The architecture and kernel options validate themselves (ArgumentOutOfRangeException naming the value).
        var arch = Architecture();
        KernelOptions(TorchSharp.torch.CPU).Validate(arch);
        foreach (var w in WeightVarianceCandidates ?? [])
            _ = arch.With(weightVariance: w);
        foreach (var b in BiasVarianceCandidates ?? [])
            _ = arch.With(biasVariance: b);
        foreach (var d in DepthCandidates ?? [])
            _ = arch.With(depth: d);
    }
}
