using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Trainers.Rebar;
using Microsoft.ML;

namespace Quickstart;

internal static partial class Program
{
    /// <summary>
    /// REBAR: a sigmoid belief network with 200 binary latent variables trained on binarized Fashion-MNIST with dynamic
    /// REBAR gradients; the appended per-row ELBO on test images, against the untrained network's.
    /// </summary>
    private static bool Rebar(MLContext ml, FashionMnistData data, List<MetricsRow> results)
    {
        const int trainRows = 2000, testRows = 500, steps = 200;
        Console.WriteLine();
        Console.WriteLine($"== Rebar: 784-200 sigmoid belief network on {trainRows:N0} binarized images (> 0.5), dynamic REBAR, {steps} steps of 24 rows");
        var train = ml.Data.TakeRows(data.Train, trainRows);
        var test = ml.Data.TakeRows(data.Test, testRows);
        SigmoidBeliefNetworkEstimator.Options Options(int n) => new() { Steps = n, BinarizationThreshold = 0.5f, Seed = 1 };
        var watch = Stopwatch.StartNew();
        using var trained = ml.Transforms.SigmoidBeliefNetwork(Options(steps)).Fit(train);
        watch.Stop();
        using var untrained = ml.Transforms.SigmoidBeliefNetwork(Options(1)).Fit(train);
        double MeanElbo(ITransformer model) => ml.Data.CreateEnumerable<ElboRow>(model.Transform(test), reuseRowObject: false).Average(r => r.Elbo);
        double before = MeanElbo(untrained), after = MeanElbo(trained);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   mean test ELBO (nats, 10 samples per row): {before:F1} after 1 step, {after:F1} after {steps} steps; Fit {watch.Elapsed.TotalSeconds:F1} s"));
        return after > before;
    }

    private sealed class ElboRow
    {
        public float Elbo { get; set; }
    }
}
