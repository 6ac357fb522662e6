using System.Diagnostics;
using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Components.Samplers.L2hmc;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.L2hmc;

public static class L2hmcBench
{
    public static int Run(string[] args)
    {
        if (args.Length > 0) torch.set_num_threads(int.Parse(args[0]));
        using var gen = new torch.Generator(2, torch.CPU);
        var energy = EnergyFunction.IllConditionedGaussian(10, 0.1, 10);
        var hmc = new HmcSampler(energy, 0.02, 5);
        var x = hmc.Adapt(energy.SampleExact(100, gen), 500, 0.7, gen, (m, p, e) => { if (m % 50 == 0 || m > 590) Console.WriteLine($"{m} acc {p:F3} eps {e:F4}"); });
        Console.WriteLine($"final {hmc.StepSize} acc {hmc.Sample(x, 100, gen).MeanAcceptanceProbability}");
        foreach (var eps in new[] { 0.2, 0.3, 0.4, 0.5, 0.6 })
        {
            var h = new HmcSampler(energy, eps, 5);
            Console.WriteLine($"eps {eps}: acc {h.Sample(x, 50, gen).MeanAcceptanceProbability:F3}");
        }
        return 0;
    }
}
