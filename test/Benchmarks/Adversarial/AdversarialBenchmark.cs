using System.Diagnostics;
using System.Globalization;
using Components.Core.Schema;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Adversarial;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Adversarial;

/// <summary>
/// Attack steps per second for a batch of 64 Fashion-MNIST-sized images (1×28×28) against an ensemble of 4 CNNs (the
/// NeuralNetwork trainer's default CNN: conv 16, conv 32, dense 128), on the CPU with one torch thread: native conv2d
/// vs the im2col (unfold) fallback kept as the reference (without the retina), and native with the retina layer, in one run. Weights are
/// random (timing does not depend on them). Each cell: median of 3 timed runs of <c>--steps</c> steps after a warm-up.
/// </summary>
internal static class AdversarialBenchmark
{
    public static int Run(string[] args)
    {
        int steps = args.Length > 1 && args[0] == "--steps" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        torch.set_num_threads(1);
        const int batch = 64, members = 4;
        Console.WriteLine($"# adversarial-bench: batch {batch}, {members} CNNs (conv 16, 32, dense 128), {steps} steps per run, EOT 2 samples (shift ±2, noise 0.02), torch threads 1; load {Load()}");
        var settings = new EnsembleAttackSettings(32.0 / 255, 4.0 / 255, steps, transformationSamples: 2, maxShift: 2, noiseStandardDeviation: 0.02, seed: 1);
        var shape = new ImageShape(1, 28, 28);
        using var x = rand([batch, 784], generator: new Generator(3));
        var target = Enumerable.Range(0, batch).Select(i => (long)(i % 10)).ToArray();
        Console.WriteLine("| convolution | retina | steps/s | ms per step | images·steps/s |");
        Console.WriteLine("|---|---|---:|---:|---:|");
        foreach (bool retina in new[] { false, true })
        {
            var nets = Enumerable.Range(0, members).Select(s => NeuralNetworkModule.Create(new NeuralNetworkArchitecture(NeuralNetworkArchitectureKind.Cnn, 784, 10, [128],
                NeuralNetworkActivation.Relu, 2, 0, [16, 32], 28, 28, retina ? new RetinaSettings() : null), new Generator((ulong)(s + 1)))).ToList();
            foreach (var n in nets)
                n.eval();
            var fs = nets.Select(n => (Func<Tensor, Tensor>)n.forward).ToArray();
            foreach (bool unfold in retina ? new[] { false } : new[] { false, true })
            {
                ImageConvolution.UseUnfold = unfold;
                using (EnsembleAttack.Run(fs, x, target, shape, new EnsembleAttackSettings(settings.Epsilon, settings.StepSize, 1, seed: 1))) { }
                var times = new List<double>();
                for (int r = 0; r < 3; r++)
                {
                    var sw = Stopwatch.StartNew();
                    using (EnsembleAttack.Run(fs, x, target, shape, settings)) { }
                    times.Add(sw.Elapsed.TotalSeconds);
                }
                double t = times.Order().ElementAt(1);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {(unfold ? "unfold (im2col) fallback" : "native conv2d")} | {(retina ? "yes" : "no")} | {steps / t:F2} | {1000 * t / steps:F0} | {batch * steps / t:F0} |"));
            }
            ImageConvolution.UseUnfold = false;
            foreach (var n in nets)
                n.Dispose();
        }
        Console.WriteLine($"# load after: {Load()}");
        return 0;
    }

    internal static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
}
