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
    /// <summary>
    /// Fits the GP on <paramref name="x"/> ([n, d] float32 CPU, kept by the predictor) and targets
    /// <paramref name="y"/> ([n, k] float64 on the device).
    /// </summary>
    internal static (NngpPredictor Predictor, IReadOnlyList<NngpSelectionEntry>? Selection) Fit(ComponentContext ctx, NngpTrainerOptions o, Tensor x, Tensor y, bool classification)
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
        try
        {
            train = kernel.Prepare(x, o.CancellationToken);
            var outputs = o.Kernel == NngpKernelKind.Ntk ? NngpOutputs.Both : NngpOutputs.Nngp;
            NngpPosterior posterior;
            using (var k = kernel.Compute(train, null, outputs, o.CancellationToken))
            {
                ctx.Info(string.Create(CultureInfo.InvariantCulture,
                    $"{o.Kernel} kernel of {train.Rows} training rows ({arch}) in {watch.Elapsed.TotalSeconds:F2} s, tiles of {k.TileSize}."));
                watch.Restart();
                var kk = o.Kernel == NngpKernelKind.Ntk ? k.Ntk! : k.Nngp;
                posterior = NngpPosterior.Fit(kk, y, reg, o.PredictVariance, ctx.Info, o.CancellationToken);
            }
            ctx.Info(string.Create(CultureInfo.InvariantCulture, $"GP solve in {watch.Elapsed.TotalSeconds:F2} s ({posterior.Kind})."));
            return (new NngpPredictor(x, arch, kernelOptions, o.Kernel, reg, posterior, kernel, train), selection);
        }
        catch
        {
            train?.Dispose();
            kernel.Dispose();
            throw;
        }
    }
}
