namespace Components.Benchmarks;

/// <summary>Dispatches <c>dotnet run -c Release --project test/Benchmarks -- &lt;runner&gt; [args]</c> to a component's runner.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: Components.Benchmarks <runner> [args]; runners: " + string.Join(", ", Runners.Keys));
            return 2;
        }
        if (!Runners.TryGetValue(args[0], out var run))
        {
            Console.Error.WriteLine($"unknown runner '{args[0]}'; runners: " + string.Join(", ", Runners.Keys));
            return 2;
        }
        return run(args[1..]);
    }

    private static readonly Dictionary<string, Func<string[], int>> Runners = new(StringComparer.OrdinalIgnoreCase)
    {
        ["nngp-bench"] = Nngp.NngpBenchmark.Run,
        ["nngp-repro"] = Nngp.NngpReproduction.Run,
    };
}
