using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Trainers;
using Components.Trainers.Gan;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Quickstart;

internal static partial class Program
{
    private sealed class PointRow
    {
        [VectorType(2)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>
    /// GAN generator objectives (Poole et al., 2016): the same MLP GAN on the 8-Gaussian ring trained with two
    /// f-divergence objectives, compared by modes covered, sample quality and KDE estimates of both KL divergences.
    /// Uses its own 2-d data, not Fashion-MNIST.
    /// </summary>
    private static bool Gan(MLContext ml, FashionMnistData _)
    {
        const int steps = 1500;
        var centers = GanToyData.RingCenters();
        var data = ml.Data.LoadFromEnumerable(GanToyData.Sample(centers, 0.1, 10000, seed: 1).Select(r => new PointRow { Features = r }));
        Console.WriteLine();
        Console.WriteLine($"== GAN: 8-Gaussian ring (σ = 0.1), MLP generator/discriminator, {steps} generator steps per objective");
        bool ok = true;
        foreach (var objective in new[] { GanObjective.NonSaturating, GanObjective.ReverseKl })
        {
            var watch = Stopwatch.StartNew();
            using var model = ml.Generative.Gan(new GanEstimator.Options
            {
                Objective = objective, Steps = steps, BatchSize = 128, LatentSize = 8, HiddenUnits = [64, 64], Seed = 2,
            }).Fit(data);
            using var scope = TorchSharp.torch.NewDisposeScope();
            var (_, generated) = model.SampleArrays(2000);
            var q = GanMetrics.EvaluateMixture(TorchSharp.torch.tensor(generated, [2000, 2]), GanToyData.ToTensor(centers), 0.1,
                GanToyData.ToTensor(GanToyData.Sample(centers, 0.1, 2000, seed: 3)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {model.Objective,-11} modes covered {q.ModesCovered}/{q.Modes}, within 3σ of a mode {q.HighQualityFraction:P0}, KL(p‖q) {q.ForwardKl:F2}, KL(q‖p) {q.ReverseKl:F2} ({watch.Elapsed.TotalSeconds:F1} s)"));
            ok &= q.ModesCovered >= 1 && double.IsFinite(q.ForwardKl);
        }
        return ok;
    }
}
