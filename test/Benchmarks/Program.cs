// Benchmark and reproduction runners, one per component: dotnet run -c Release --project test/Benchmarks -- <runner> [args]
using Components.Benchmarks.L2hmc;

var runners = new Dictionary<string, Func<string[], int>>(StringComparer.OrdinalIgnoreCase)
{
    ["l2hmc-repro"] = L2hmcRepro.Run,
    ["l2hmc-bench"] = L2hmcBench.Run,
};

if (args.Length == 0 || !runners.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"Usage: dotnet run -c Release --project test/Benchmarks -- <{string.Join("|", runners.Keys)}> [options]");
    return 2;
}
return run(args[1..]);
