using System.Diagnostics;
using System.Globalization;
using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using TorchSharp;

namespace Components.Benchmarks.SignalPropagation;

/// <summary>Simulator throughput: networks (samples) per second, CPU, one thread, both methods. <c>sigprop-bench</c>.</summary>
internal static class SignalPropagationBenchmark
{
    public static int Run(string[] args)
    {
        torch.set_num_threads(1);
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine("| method | φ | width | depth | networks | load avg before | seconds | networks/s | layer draws/s |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var (method, width, samples) in new[]
        {
            (RandomNetworkSimulationMethod.ConditionalGaussian, 1000, 2000),
            (RandomNetworkSimulationMethod.ConditionalGaussian, 100, 10000),
            (RandomNetworkSimulationMethod.ExplicitWeights, 1000, 20),
            (RandomNetworkSimulationMethod.ExplicitWeights, 100, 1000),
        })
        {
            const int depth = 20;
            var o = new RandomNetworkSimulator.Options
            {
                Nonlinearity = NngpNonlinearity.Tanh, Width = width, Depth = depth, WeightVariance = 1.5, BiasVariance = 0.05,
                Samples = samples, Method = method, Seed = 0,
            };
            new RandomNetworkSimulator(new RandomNetworkSimulator.Options { Width = width, Depth = 2, Samples = 4, Method = method }).Run(); // warm-up
            string load = SignalPropagationRepro.Load().Split(' ')[0];
            var clock = Stopwatch.StartNew();
            new RandomNetworkSimulator(o).Run();
            double s = clock.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(ci, $"| {method} | tanh | {width} | {depth} | {samples} | {load} | {s:F2} | **{samples / s:N0}** | {samples * depth / s:N0} |"));
        }
        return 0;
    }
}
