using System.Diagnostics;
using System.Globalization;
using Components.Core.Runtime;
using Components.Kernels.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>The fitting steps shared by both trainers: optional search, training kernel, factorisation.</summary>
internal static class NngpTraining
{
    /// <summary>At most this many training rows get a leave-one-out mean for the classifier's temperature.</summary>
    internal const int CalibrationMaxRows = 2048;

    /// <summary>
    /// Fits the GP on <paramref name="x"/> ([n, d] float32 CPU, kept by the parameters) and targets
    /// <paramref name="y"/> ([n, k] float64 on the device). With <paramref name="classification"/>, also returns the
    /// leave-one-out means of (at most <see cref="CalibrationMaxRows"/>, a seeded random subset of) the training rows,
    /// [m, k] on the CPU, and those rows' indices (ascending); the caller owns the tensor.
    /// </summary>
    internal static (NngpModelParameters Parameters, IReadOnlyList<NngpSelectionEntry>? Selection, Tensor? LeaveOneOut, long[]? LeaveOneOutRows) Fit(
        ComponentContext ctx, NngpTrainerOptions o, Tensor x, Tensor y, bool classification)
    {
        var arch = o.Architecture();
        double reg = o.Regularizer;
        IReadOnlyList<NngpSelectionEntry>? selection = null;
        if (o.Selection != NngpSelectionCriterion.None)
            (arch, reg, selection) = NngpModelSelection.Search(ctx, o, x, y, classification);

        var watch = Stopwatch.StartNew();
        var kernelOptions = o.KernelOptions(ctx.Device);
        var kernel = new NngpKernel(arch, kernelOptions);
        NngpPreparedInput? train = null;
        Tensor? loo = null;
        NngpPosterior? posterior = null;
        try
        {
            train = kernel.Prepare(x, o.CancellationToken);
            var outputs = o.Kernel == NngpKernelKind.Ntk ? NngpOutputs.Both : NngpOutputs.Nngp;
            long[]? looRows = classification ? CalibrationRows(ctx, train.Rows) : null;
            if (NngpMatrixFree.Use(ctx, o, train.Rows))
                (posterior, loo, looRows) = NngpMatrixFree.Fit(ctx, o, arch, reg, kernelOptions, x, y, looRows);
            else
            using (var k = kernel.Compute(train, null, outputs, o.CancellationToken))
            using (var rowsTensor = looRows is null ? null : torch.tensor(looRows))
            {
                ctx.Info(string.Create(CultureInfo.InvariantCulture,
                    $"{o.Kernel} kernel of {train.Rows} training rows ({arch}) in {watch.Elapsed.TotalSeconds:F2} s, tiles of {k.TileSize}."));
                watch.Restart();
                var kk = o.Kernel == NngpKernelKind.Ntk ? k.Ntk! : k.Nngp;
                (posterior, loo) = NngpPosterior.Fit(kk, y, reg, o.PredictVariance, rowsTensor, ctx.Info, o.CancellationToken);
            }
            double outputScale = OutputScale(y, posterior.Alpha);
            ctx.Info(string.Create(CultureInfo.InvariantCulture,
                $"GP solve in {watch.Elapsed.TotalSeconds:F2} s ({posterior.Kind}); output scale yᵀC⁻¹y/(nk) = {outputScale:G4}."));
            if (loo is not null && loo.device_type != DeviceType.CPU)
            {
                var cpu = loo.cpu();
                loo.Dispose();
                loo = cpu;
            }
            return (new NngpModelParameters(x, arch, kernelOptions, o.Kernel, reg, posterior, outputScale, kernel, train), selection, loo, looRows);
        }
        catch
        {
            loo?.Dispose();
            posterior?.Dispose();
            train?.Dispose();
            kernel.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Closed-form maximum-likelihood output scale of the targets: with prior Y ~ N(0, σ²C) column by column (C the
    /// regularised kernel), σ̂² = tr(YᵀC⁻¹Y)/(nk) = Σ Y⊙α / (nk).
    /// </summary>
    internal static double OutputScale(Tensor y, Tensor alpha)
    {
        using var scope = torch.NewDisposeScope();
        double s = (y * alpha).sum().item<double>() / y.numel();
        // 0 when every target is 0 (constant labels): the maximum-likelihood scale is then 0, and so are the variances.
        if (!double.IsFinite(s) || s < 0)
            throw new InvalidOperationException($"The fitted output scale yᵀC⁻¹y/n is {s}; the kernel matrix is numerically unusable for these targets.");
        return s;
    }

    private static long[] CalibrationRows(ComponentContext ctx, int n)
    {
        if (n <= CalibrationMaxRows)
            return Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        using var perm = torch.randperm(n, ScalarType.Int64, generator: ctx.CreateGenerator("calibration-subset", torch.CPU));
        var rows = perm.data<long>().ToArray()[..CalibrationMaxRows];
        Array.Sort(rows);
        return rows;
    }
}
