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
    /// <summary>Bytes the dense path needs for n rows: the float64 kernel, its factor and working copies (≈ 2.5·n²·8).</summary>
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

    /// <summary>At most this many training rows get an exact leave-one-out mean (one extra right-hand side each in the solve).</summary>
    internal const int LeaveOneOutRows = 256;

    /// <summary>
    /// Fits α = C⁻¹Y. With <paramref name="looRows"/>, also the exact closed-form leave-one-out means of an evenly
    /// spaced subset of at most <see cref="LeaveOneOutRows"/> of them: the unit vectors e_i ride along as extra
    /// right-hand sides of the same conjugate-gradient solve, giving [C⁻¹]_ii to the solver's tolerance. Returns the
    /// rows used.
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
        using var pc = NngpPivotedCholesky.Create(op, diag, o.PreconditionerRank, noise, ctx.Info, o.CancellationToken);
        int k = (int)y.shape[1];
        var rhs = y.to(ScalarType.Float64).to(diag.device);
        if (looRows is not null)
        {
            var unit = torch.zeros([op.Count, looRows.Length], ScalarType.Float64, diag.device);
            unit.scatter_(0, torch.tensor(looRows, device: diag.device).unsqueeze(0), torch.ones([1, looRows.Length], ScalarType.Float64, diag.device));
            rhs = torch.cat([rhs, unit], 1);
        }
        var (solution, report) = NngpConjugateGradient.Solve(op, rhs, noise, pc.Rank > 0 ? pc : null, o.SolverTolerance, o.SolverMaxIterations,
            ctx.Info, o.CancellationToken);
        var alpha = solution[.., ..k].contiguous();
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
                var inverseDiagonal = solution[.., k..].gather(0, rows.unsqueeze(0)).squeeze(0);
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
}
