namespace Components.Benchmarks;

/// <summary>
/// Dispatcher: <c>dotnet run -c Release --project test/Benchmarks -- &lt;runner&gt; [args]</c>. Each component adds
/// its runners (in its own folder) to the table below.
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, (string Description, Func<string[], int> Run)> Runners = new(StringComparer.OrdinalIgnoreCase)
    {
        ["neuralnetwork"] = ("NeuralNetwork: training throughput (rows/s) of the MLP and the CNN on Fashion-MNIST, CPU", NeuralNetwork.NeuralNetworkBenchmark.Run),
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Runners.TryGetValue(args[0], out var runner))
        {
            Console.Error.WriteLine("Usage: dotnet run -c Release --project test/Benchmarks -- <runner> [args]");
            foreach (var (name, (description, _)) in Runners.OrderBy(r => r.Key))
                Console.Error.WriteLine($"  {name,-14} {description}");
            return args.Length == 0 ? 1 : 2;
        }
        return runner.Run(args[1..]);
    }
}
