using System.Diagnostics;
using System.Globalization;
using Components.Kernels.Nngp;
using Components.Orleans.Nngp;
using Orleans.TestingHost;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Orleans;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- nngp-orleans-bench [--n 3000] [--d 784] [--m 10] [--reps 10]
/// [--project-n 1000000] [--project-silos 8,32,128] [--cores 16] [--gbps 10] [--iterations 300]</c>: kernel products
/// K·V (V = [n, m], float64) of the single-process <see cref="NngpLocalKernelOperator"/> (whole upper triangle cached
/// in float64) against <see cref="OrleansNngpKernelOperator"/> on 1, 2 and 3 in-process silos (Orleans TestingHost,
/// two blocks per silo, float64 blocks), all in this one process with one torch thread: ms per product, payload bytes
/// per product, the load (features sent + blocks computed), and a projection of the time to solution for n = 1,000,000
/// on a cluster of the given sizes from these figures. Prints markdown.
/// </summary>
public static class OrleansNngpBenchmark
{
    public static int Run(string[] args)
    {
        int n = Arg(args, "--n", 3000), d = Arg(args, "--d", 784), m = Arg(args, "--m", 10), reps = Arg(args, "--reps", 10);
        long projectN = Arg(args, "--project-n", 1_000_000);
        int cores = Arg(args, "--cores", 16), iterations = Arg(args, "--iterations", 300);
        double gbps = Arg(args, "--gbps", 10);
        int[] projectSilos = (Value(args, "--project-silos") ?? "8,32,128").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        torch.set_num_threads(1);
        Console.WriteLine(F($"n = {n}, d = {d}, m = {m}, {reps} products per configuration, torch threads {torch.get_num_threads()}, cores {Environment.ProcessorCount}"));
        Console.WriteLine($"loadavg at start: {File.ReadAllText("/proc/loadavg").Trim()}");

        var arch = new NngpArchitecture(3, NngpNonlinearity.Relu, 2.0, 0.1, inputLayerNorm: true);
        using var g = new torch.Generator(42);
        using var x = torch.randn([n, d], ScalarType.Float32, generator: g);
        using var v = torch.randn([n, m], ScalarType.Float64, generator: g);

        // Single process: the first product computes and caches the upper triangle; the others read the cache.
        var local = new NngpLocalKernelOperatorFactory { CachePrecision = NngpPrecision.Float64, CacheBudgetBytes = 8L * n * n };
        using var lop = local.Create(arch, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        var sw = Stopwatch.StartNew();
        using var reference = lop.Multiply(v);
        double localBuild = sw.Elapsed.TotalSeconds;
        double localMs = TimeProducts(lop, v, reps);
        var rows = new List<string>
        {
            "| configuration | blocks | load (s) | ms per product | products/s | payload sent per product | received per product | max rel. diff vs single process |",
            "|---|---|---|---|---|---|---|---|",
            F($"| single process (float64 upper-triangle cache) | {(lop is NngpLocalKernelOperator l ? l.Blocks : 0)} | {localBuild:F2} (first product) | {localMs:F1} | {1000 / localMs:F1} | 0 | 0 | 0 |"),
        };
        var clusterMs = new Dictionary<int, (double Ms, long Sent, long Received, int Blocks)>();
        foreach (int silos in new[] { 1, 2, 3 })
        {
            var builder = new TestClusterBuilder((short)silos);
            using var cluster = builder.Build();
            cluster.Deploy();
            try
            {
                var factory = new OrleansNngpKernelOperatorFactory(cluster.Client) { Blocks = 2 * silos };
                sw.Restart();
                using var op = (OrleansNngpKernelOperator)factory.Create(arch, new NngpKernelOptions(), NngpOutputs.Nngp, x);
                double load = sw.Elapsed.TotalSeconds;
                using var first = op.Multiply(v);
                double diff = (first - reference).abs().max().item<double>() / reference.abs().max().item<double>();
                long sent0 = op.PayloadBytesSent, received0 = op.PayloadBytesReceived;
                double ms = TimeProducts(op, v, reps);
                long sent = (op.PayloadBytesSent - sent0) / reps, received = (op.PayloadBytesReceived - received0) / reps;
                clusterMs[silos] = (ms, sent, received, op.Blocks);
                var spread = string.Join(", ", op.BlockSilos().GroupBy(s => s).Select(s => s.Count()).Order());
                rows.Add(F($"| {silos} silo(s), blocks per silo [{spread}] | {op.Blocks} | {load:F2} | {ms:F1} | {1000 / ms:F1} | {Mb(sent)} | {Mb(received)} | {diff:G2} |"));
            }
            finally
            {
                cluster.StopAllSilos();
            }
        }
        Console.WriteLine();
        foreach (var r in rows)
            Console.WriteLine(r);
        Console.WriteLine($"loadavg at end: {File.ReadAllText("/proc/loadavg").Trim()}");

        // Projection. Compute per product scales with the kernel entries a silo owns; the client sends every block the
        // vector, so its bytes scale with blocks × n × m. The serialisation cost per byte is what the 1-silo run adds
        // over the single process here (client and silo share these 2 cores, so it is an upper bound).
        double entrySeconds = localMs / 1000 / ((double)n * n * m);            // one core, one kernel entry × one column
        double kernelSeconds = localBuild / ((double)n * (n + 1) / 2 * d);     // one core, one entry of the upper triangle, per feature
        var one = clusterMs[1];
        double perByte = Math.Max(0, (one.Ms - localMs) / 1000) / (one.Sent + one.Received);
        Console.WriteLine();
        Console.WriteLine(F($"Per core here: {entrySeconds * 1e9:F3} ns per kernel entry and column in a product, {kernelSeconds * 1e9:F3} ns per entry and feature to compute the kernel; cluster overhead {perByte * 1e9:F3} ns per payload byte (1 silo vs single process)."));
        Console.WriteLine(F($"Projection for n = {projectN:N0}, d = {d}, m = {m}, {iterations} CG iterations, {cores} cores per silo, 2 blocks per silo, {gbps:G3} Gbit/s at the client, float64 blocks:"));
        Console.WriteLine();
        Console.WriteLine("| silos | kernel per silo (GiB, float64) | build (h) | compute per product (s) | bytes per product (GiB) | network per product (s) | serialisation per product (s) | time per product (s) | time to solution (h) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        double nn = (double)projectN * projectN;
        foreach (int s in projectSilos)
        {
            int blocks = 2 * s;
            double memory = nn * 8 / s / (1L << 30);
            double build = nn / 2 * d * kernelSeconds * 2 / (s * cores) / 3600; // each block computes its full rows: n²·d over the cluster
            double compute = nn * m * entrySeconds / (s * cores);
            double bytes = (blocks + 1.0) * projectN * m * 8;
            double network = bytes / (gbps * 1e9 / 8);
            double serial = bytes * perByte;
            double product = compute + network + serial;
            Console.WriteLine(F($"| {s} | {memory:F0} | {build:F2} | {compute:F2} | {bytes / (1L << 30):F2} | {network:F2} | {serial:F2} | {product:F2} | {build + iterations * product / 3600:F2} |"));
        }
        return 0;
    }

    private static double TimeProducts(INngpKernelOperator op, Tensor v, int reps)
    {
        using (var warm = op.Multiply(v))
        {
        }
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++)
        {
            using var y = op.Multiply(v);
        }
        return sw.Elapsed.TotalMilliseconds / reps;
    }

    private static string Mb(long bytes) => F($"{bytes / 1048576.0:F2} MiB");

    private static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int Arg(string[] args, string name, int fallback) => Value(args, name) is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;

    private static long Arg(string[] args, string name, long fallback) => Value(args, name) is { } s ? long.Parse(s, CultureInfo.InvariantCulture) : fallback;

    private static double Arg(string[] args, string name, double fallback) => Value(args, name) is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : fallback;

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
