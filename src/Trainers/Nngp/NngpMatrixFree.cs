using System.Globalization;
using Components.Core.Runtime;
using Components.Kernels.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>
/// The matrix-free fit of the NNGP trainers (<see cref="NngpSolver.ConjugateGradient"/>): the training kernel as an
/// <see cref="INngpKernelOperator"/>, a pivoted-Cholesky preconditioner, preconditioned conjugate gradients for
/// α = (K + s·I)⁻¹Y (all columns at once; s = (ε + 1e-10)·tr(K)/n, the dense path's regulariser plus its first jitter),
/// the exact leave-one-out means of a subset of rows for the classifier's calibration, and, for variances, the
/// block-Krylov approximation of C⁻¹ (<see cref="NngpLanczosVariance"/>).
/// </summary>
internal static class NngpMatrixFree
{
    /// <summary>
    /// Bytes the dense path needs for n rows, ≈ 2.5·n²·8: the float64 kernel and the working memory of its fit and
    /// prediction (the full Fashion-MNIST n = 20,000 dense run with test prediction peaked at 7.4 GB resident, 2.3·n²·8).
    /// </summary>
    internal static long DenseBytes(long n) => (long)(2.5 * n * n * 8);

    /// <summary>True when the options ask for (or Auto decides on) the conjugate-gradient solver.</summary>
    internal static bool Use(ComponentContext ctx, NngpTrainerOptions o, long n)
    {
        if (o.Solver != NngpSolver.Auto)
            return o.Solver == NngpSolver.ConjugateGradient;
        long available = NngpKernel.AvailableMemoryBytes();
        bool cg = DenseBytes(n) > available / 2;
        ctx.Info(string.Create(CultureInfo.InvariantCulture,
            $"Solver Auto: the dense path needs about {DenseBytes(n) / (1 << 20)} MiB for {n} rows, {available / (1 << 20)} MiB are available: {(cg ? "conjugate gradients" : "dense Cholesky")}."));
        return cg;
    }

    /// <summary>At most this many training rows get a leave-one-out mean (one right-hand side each in the calibration solve).</summary>
    internal const int LeaveOneOutRows = 128;

    /// <summary>The calibration solve stops when its bound on the relative error of every [C⁻¹]_ii is below this.</summary>
    internal const double CalibrationRelativeError = 1e-3;

    /// <summary>Iterations whose increments of [C⁻¹]_ii estimate the calibration solve's remaining error.</summary>
    internal const int CalibrationDelay = 4;

    /// <summary>Largest number of iterations of the calibration solve (each one kernel product of <see cref="LeaveOneOutRows"/> columns).</summary>
    internal const int CalibrationMaxIterations = 50;

    /// <summary>
    /// Fits α = C⁻¹Y (the class or target columns alone, to <see cref="NngpTrainerOptions.SolverTolerance"/>). With
    /// <paramref name="looRows"/>, also the closed-form leave-one-out means μ_i = y_i − α_i/[C⁻¹]_ii of an evenly spaced
    /// subset of at most <see cref="LeaveOneOutRows"/> of them, for the classifier's temperature: [C⁻¹]_ii = e_iᵀC⁻¹e_i
    /// comes from a second, looser conjugate-gradient solve on the unit vectors e_i (see <see cref="InverseDiagonal"/>).
    /// Returns the rows used.
    /// </summary>
    internal static (NngpPosterior Posterior, Tensor? LeaveOneOut, long[]? LeaveOneOutRows) Fit(ComponentContext ctx, NngpTrainerOptions o, NngpArchitecture arch, double reg,
        NngpKernelOptions kernelOptions, Tensor x, Tensor y, long[]? looRows)
    {
        if (looRows is { Length: > LeaveOneOutRows })
            looRows = Enumerable.Range(0, LeaveOneOutRows).Select(j => looRows[(int)((long)j * looRows.Length / LeaveOneOutRows)]).ToArray();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var factory = o.KernelOperatorFactory ?? new NngpLocalKernelOperatorFactory();
        var kind = o.Kernel == NngpKernelKind.Ntk ? NngpOutputs.Ntk : NngpOutputs.Nngp;
        using var op = factory.Create(arch, kernelOptions, kind, x, o.CancellationToken);
        if (op.Count != x.shape[0])
            throw new InvalidOperationException($"The kernel operator reports {op.Count} rows for {x.shape[0]} training rows.");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var diag = op.Diagonal(o.CancellationToken).to(ScalarType.Float64);
        double meanDiag = diag.mean().item<double>();
        if (!double.IsFinite(meanDiag) || meanDiag <= 0)
            throw new InvalidOperationException($"The training kernel has mean diagonal {meanDiag}; it must be positive and finite.");
        double jitter = NngpPosterior.FirstJitter;
        double noise = (reg + jitter) * meanDiag;
        int rank = PreconditionerRank(o.PreconditionerRank, op.Count);
        using var pc = NngpPivotedCholesky.Create(op, diag, rank, noise, ctx.Info, o.CancellationToken);
        var rhs = y.to(ScalarType.Float64).to(diag.device);
        var (alpha, report) = NngpConjugateGradient.Solve(op, rhs, noise, pc.Rank > 0 ? pc : null, o.SolverTolerance, o.SolverMaxIterations,
            ctx.Info, o.CancellationToken);
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"Conjugate gradients on the {op.Count}x{op.Count} kernel: {report.Iterations} iteration(s), largest relative residual {report.MaxRelativeResidual:G3} (tolerance {o.SolverTolerance:G3}), {report.Seconds:F1} s; operator {op}.");
        if (!report.Converged)
        {
            string message = string.Create(CultureInfo.InvariantCulture,
                $"Conjugate gradients did not converge within SolverMaxIterations = {o.SolverMaxIterations}: the largest relative residual is {report.MaxRelativeResidual:G3}, above SolverTolerance = {o.SolverTolerance:G3}. Raise SolverMaxIterations or PreconditionerRank, or a larger Regularizer.");
            if (!o.SolverAllowUnconverged)
                throw new InvalidOperationException(message);
            ctx.Warning(message + " Continuing because SolverAllowUnconverged is set: the model is an approximate solution.");
        }
        else
        {
            ctx.Info(summary);
        }
        NngpLanczosVariance? lanczos = null;
        Tensor? loo = null;
        try
        {
            if (o.PredictVariance)
                lanczos = NngpLanczosVariance.Create(op, pc, o.VarianceRank, ctx.CreateGenerator("variance-basis", torch.CPU), ctx.Info, o.CancellationToken);
            if (looRows is not null)
            {
                var rows = torch.tensor(looRows, device: alpha.device);
                var inverseDiagonal = InverseDiagonal(ctx, op, pc, diag, noise, looRows, o.CancellationToken);
                loo = (y.to(alpha.device).index_select(0, rows) - alpha.index_select(0, rows) / inverseDiagonal.unsqueeze(1)).DetachFromDisposeScope();
            }
            ctx.Info(string.Create(CultureInfo.InvariantCulture, $"Matrix-free GP fit in {watch.Elapsed.TotalSeconds:F1} s."));
            return (new NngpPosterior(alpha.DetachFromDisposeScope(), null, null, NngpFactorKind.Lanczos, jitter, meanDiag, lanczos), loo, looRows);
        }
        catch
        {
            lanczos?.Dispose();
            loo?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The preconditioner's rank: <paramref name="requested"/> when positive or 0 (none); −1 (<see cref="NngpTrainerOptions.SolverDefaults.PreconditionerRank"/>)
    /// = automatic, <see cref="AutoRank"/>.
    /// </summary>
    internal static int PreconditionerRank(int requested, int n) => requested >= 0 ? requested : AutoRank(n);

    /// <summary>The automatic preconditioner rank: 100 up to n = 5,000, then n/50 (1,200 at n = 60,000), at most 2,000; at most n.</summary>
    internal static int AutoRank(int n) => Math.Min(n, Math.Clamp(n / 50, 100, 2000));

    /// <summary>
    /// [C⁻¹]_ii for the rows <paramref name="rows"/>: preconditioned conjugate gradients from x₀ = 0 on the unit vectors
    /// e_i, with q_i = e_iᵀx_k as the estimate. For CG from x₀ = 0, q_i increases monotonically to [C⁻¹]_ii and its
    /// error is the energy norm of the iterate's error, Σ_{j ≥ k} of the later increments of q_i (Hestenes &amp; Stiefel
    /// 1952; Strakoš &amp; Tichý 2002), so the sum of the last <see cref="CalibrationDelay"/> increments estimates the error
    /// <see cref="CalibrationDelay"/> iterations back from below: the solve stops when that estimate is below
    /// <see cref="CalibrationRelativeError"/>·q_i for every column, when the residual bound below guarantees it, or after
    /// <see cref="CalibrationMaxIterations"/>. The guaranteed bound: the error is rₖᵀC⁻¹rₖ ≤ ‖rₖ‖²/s (C ⪰ s·I) and
    /// [C⁻¹]_ii ≥ 1/C_ii (Cauchy–Schwarz), so q_i is low by at most ρ_i²·(K_ii + s)/s relative, ρ_i = ‖rₖ‖ the column's
    /// relative residual; both figures are logged.
    /// </summary>
    internal static Tensor InverseDiagonal(ComponentContext ctx, INngpKernelOperator op, NngpPivotedCholesky pc, Tensor diag, double noise, long[] rows,
        CancellationToken cancellation)
    {
        var index = torch.tensor(rows, device: diag.device);
        var unit = torch.zeros([op.Count, rows.Length], ScalarType.Float64, diag.device);
        unit.scatter_(0, index.unsqueeze(0), torch.ones([1, rows.Length], ScalarType.Float64, diag.device));
        double largest = diag.index_select(0, index).max().item<double>();
        double factor = (largest + noise) / noise;
        double tolerance = Math.Min(0.5, Math.Sqrt(CalibrationRelativeError / factor));
        var history = new List<Tensor>();   // q after each iteration
        double estimate = double.NaN;
        try
        {
            bool Stop(Tensor x)
            {
                var q = x.gather(0, index.unsqueeze(0)).squeeze(0);
                history.Add(q.DetachFromDisposeScope());
                if (history.Count <= CalibrationDelay)
                    return false;
                using var s = torch.NewDisposeScope();
                estimate = ((q - history[^(CalibrationDelay + 1)]) / q).max().item<double>();
                return estimate <= CalibrationRelativeError;
            }
            var (x, report) = NngpConjugateGradient.Solve(op, unit, noise, pc.Rank > 0 ? pc : null, tolerance, CalibrationMaxIterations,
                ctx.Info, cancellation, "Calibration CG", Stop);
            double bound = report.MaxRelativeResidual * report.MaxRelativeResidual * factor;
            ctx.Info(string.Create(CultureInfo.InvariantCulture,
                $"Calibration: [C^-1]_ii of {rows.Length} rows by conjugate gradients on e_i, {report.Iterations} iteration(s) in {report.Seconds:F1} s; each low by an estimated {estimate:G3} relative (the last {CalibrationDelay} increments; target {CalibrationRelativeError:G3}), at most {Math.Min(1, bound):G3} (residual bound, largest relative residual {report.MaxRelativeResidual:G3})."));
            return x.gather(0, index.unsqueeze(0)).squeeze(0);
        }
        finally
        {
            foreach (var t in history)
                t.Dispose();
        }
    }
}
