using System.Diagnostics;
using System.Globalization;
using Components.Trainers.Gan;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Gan;

/// <summary>
/// Training steps/s (one discriminator + one generator update) of the MLP pair (2-d data, latent 16, [128, 128]) and
/// the DCGAN pair (28×28, latent 64, 32 base channels) at batch 64 and 256 on the CPU, per objective, and each
/// objective's cost relative to minimax in the same run (rounds interleave the objectives; the median of the rounds).
/// Options: --threads T (1), --steps N (MLP steps per measurement, 200; DCGAN a tenth), --rounds R (3).
/// </summary>
internal static class GanBench
{
    public static int Run(string[] args)
    {
        int threads = int.Parse(GanRuns.Arg(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int steps = int.Parse(GanRuns.Arg(args, "--steps", "200"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(GanRuns.Arg(args, "--rounds", "3"), CultureInfo.InvariantCulture);
        torch.set_num_threads(threads);
        Console.WriteLine($"gan-bench: {threads} thread(s), {rounds} rounds; loadavg {GanRuns.LoadAverage()}");
        var objectives = new (string Label, GeneratorObjective Objective)[]
        {
            ("minimax", GeneratorObjective.Create(GanObjective.Minimax)),
            ("−log D", GeneratorObjective.Create(GanObjective.NonSaturating)),
            ("reverse KL", GeneratorObjective.Create(GanObjective.ReverseKl)),
            ("forward KL", GeneratorObjective.Create(GanObjective.ForwardKl)),
            ("JS", GeneratorObjective.Create(GanObjective.JensenShannon)),
            ("sq. Hellinger", GeneratorObjective.Create(GanObjective.SquaredHellinger)),
            ("Pearson χ²", GeneratorObjective.Create(GanObjective.PearsonChiSquared)),
            ("α = −1", GeneratorObjective.Create(GanObjective.Alpha, -1)),
            ("custom f = u log u (autograd g)", GeneratorObjective.Create(GanObjective.Custom, f: u => u * u.log())),
        };
        foreach (var (pair, arch, dataSteps) in new[]
        {
            ("MLP", new GanArchitecture(GanNetworkKind.Mlp, 2, 16, [128, 128], 1), steps),
            ("DCGAN", new GanArchitecture(GanNetworkKind.Dcgan, 784, 64, [], 32), Math.Max(5, steps / 10)),
        })
        {
            foreach (int batch in new[] { 64, 256 })
            {
                var times = objectives.Select(_ => new List<double>()).ToArray();
                for (int round = 0; round < rounds; round++)
                {
                    for (int i = 0; i < objectives.Length; i++)
                        times[i].Add(Measure(arch, batch, dataSteps, objectives[i].Objective));
                }
                var medians = times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
                Console.WriteLine($"\n{pair}, batch {batch}, {dataSteps} steps per measurement; loadavg {GanRuns.LoadAverage()}");
                Console.WriteLine("| objective | steps/s | time relative to minimax |");
                Console.WriteLine("|---|---|---|");
                for (int i = 0; i < objectives.Length; i++)
                    Console.WriteLine(FormattableString.Invariant($"| {objectives[i].Label} | {dataSteps / medians[i]:F1} | {medians[i] / medians[0]:F2} |"));
            }
        }
        return 0;
    }

    /// <summary>Seconds for <paramref name="steps"/> training steps after 3 warm-up steps.</summary>
    private static double Measure(GanArchitecture arch, int batch, int steps, GeneratorObjective objective)
    {
        using var scope = NewDisposeScope();
        using var init = new Generator(1, CPU);
        using var g = new GanGenerator(arch, init);
        using var d = new GanDiscriminator(arch, init);
        var data = rand([4 * batch, arch.DataSize], generator: init);
        using var shuffle = new Generator(2, CPU);
        using var noise = new Generator(3, CPU);
        GanTrainingSettings Settings(int n) => new(objective, null, n, 1, batch, 2e-4, 2e-4, 0.5, n);
        GanTraining.Train(g, d, data, Settings(3), shuffle, noise, null, default);
        var clock = Stopwatch.StartNew();
        GanTraining.Train(g, d, data, Settings(steps), shuffle, noise, null, default);
        return clock.Elapsed.TotalSeconds;
    }
}
