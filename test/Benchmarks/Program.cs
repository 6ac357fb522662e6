using Components.Benchmarks;

// Benchmark and reproduction runners. Usage: dotnet run -c Release --project test/Benchmarks -- <name> [args]
var runners = new Dictionary<string, (string Description, Func<string[], int> Run)>(StringComparer.OrdinalIgnoreCase)
{
    ["loading"] = ("IDataView → tensor loading of 60,000 × 784: span copy vs GetColumn + torch.tensor", Components.Benchmarks.Core.LoadingBenchmark.Run),
    ["l2hmc-repro"] = ("L2HMC paper reproduction: ESS of L2HMC vs HMC on SCG, ICG, MoG, rough well (+ PNG plots)", Components.Benchmarks.L2hmc.L2hmcRepro.Run),
    ["l2hmc-bench"] = ("L2HMC vs HMC cost per transition / gradient evaluation and per training step, 200 chains", Components.Benchmarks.L2hmc.L2hmcBench.Run),
};

if (args.Length == 0 || !runners.TryGetValue(args[0], out var runner))
{
    Console.WriteLine("Usage: dotnet run -c Release --project test/Benchmarks -- <runner> [args]");
    foreach (var (name, (description, _)) in runners.OrderBy(r => r.Key))
        Console.WriteLine($"  {name,-20} {description}");
    return args.Length == 0 ? 0 : 2;
}
return runner.Run(args[1..]);
