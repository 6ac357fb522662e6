using System.Diagnostics;
using System.Globalization;
using Components.Samplers.Hmc;
using Components.Samplers.L2hmc;
using TorchSharp;

namespace Components.Benchmarks.L2hmc;

/// <summary>
/// Cost of L2HMC vs HMC on the four paper targets, in the same run: time per transition and per gradient evaluation
/// for 200 parallel chains (T = L = 10), and time per L2HMC training step (200 chains + 200 burn-in draws).
/// Stopwatch timing: one warm-up, then the median of <c>--reps</c> repetitions.
/// Usage: l2hmc-bench [--chains 200] [--transitions 50] [--train-steps 10] [--reps 5] [--threads 1]
/// </summary>
public static class L2hmcBench
{
    public static int Run(string[] args)
    {
        var o = L2hmcRepro.ParseArgs(args);
        int chains = o.Int("chains", 200), transitions = o.Int("transitions", 50), trainSteps = o.Int("train-steps", 10), reps = o.Int("reps", 5);
        int threads = o.Int("threads", 1);
        torch.set_num_threads(threads);
        Console.WriteLine($"# L2HMC vs HMC cost: {chains} chains, T = L = 10, {transitions} transitions × {reps} reps (median), " +
                          $"{threads} torch thread(s), {Environment.ProcessorCount} cores, load average {LoadAverage()}, {DateTime.UtcNow:u}");
        Console.WriteLine();
        Console.WriteLine("| Target | d | HMC ms / transition | HMC µs / gradient eval | L2HMC ms / transition | L2HMC µs / gradient eval | L2HMC / HMC | L2HMC training ms / step |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var target in ReproTarget.All)
        {
            using var gen = new torch.Generator(3, torch.CPU);
            using var scope = torch.NewDisposeScope();
            var energy = target.Energy;
            var x0 = target.Start(chains, gen);
            var hmc = new HmcSampler(energy, 0.1, 10);
            using var l2hmc = new L2hmcSampler(energy, gen);
            double hmcMs = Median(reps, () => hmc.Sample(x0, transitions, gen)) / transitions;
            double l2Ms = Median(reps, () => l2hmc.Sample(x0, transitions, gen)) / transitions;
            double trainMs = Median(Math.Max(1, reps / 2), () => l2hmc.Train(x0, trainSteps, gen, logInterval: 1000)) / trainSteps;
            Console.WriteLine(FormattableString.Invariant(
                $"| {target.Key.ToUpperInvariant()} | {energy.Dimension} | {hmcMs:F2} | {1000 * hmcMs / 10:F0} | {l2Ms:F2} | {1000 * l2Ms / 10:F0} | {l2Ms / hmcMs:F1}× | {trainMs:F0} |"));
        }
        Console.WriteLine();
        Console.WriteLine($"load average after: {LoadAverage()}");
        return 0;
    }

    private static double Median(int reps, Action action)
    {
        action();
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times[i] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[reps / 2];
    }

    internal static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
