using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Components.Benchmarks.Core;
using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Components.Trainers.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Nngp;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- nngp-bench [n] [solveN] [--threads T] [--solve-only]
/// [--allow-reference-blas]</c>: the NNGP kernel (ReLU, depth 3, float64) against an independent numpy implementation
/// of the same recursion and against the plain GEMM X·Xᵀ, and the GP solve against scipy cho_factor/cho_solve; peak
/// memory of each. Both sides run on T threads (default: torch's default): torch.set_num_threads(T) for ours,
/// OPENBLAS_NUM_THREADS / threadpoolctl for the peer (see <see cref="NumpyPeer"/>, which also refuses a peer on the
/// reference BLAS). Prints a markdown table.
/// </summary>
public static class NngpBenchmark
{
    public static int Run(string[] args)
    {
        bool allowReference = NumpyPeer.TakeAllowReferenceBlas(ref args);
        bool solveOnly = args.Contains("--solve-only");
        int threads = torch.get_num_threads();
        var positional = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads")
                threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] != "--solve-only")
                positional.Add(args[i]);
        }
        int n = positional.Count > 0 ? int.Parse(positional[0], CultureInfo.InvariantCulture) : 10_000;
        int solveN = positional.Count > 1 ? int.Parse(positional[1], CultureInfo.InvariantCulture) : 20_000;
        torch.set_num_threads(threads);
        const int d = 784, depth = 3, classes = 10;
        const double sw = 2.0, sb = 0.1, reg = 1e-2;
        string dir = Path.Combine(Path.GetTempPath(), "nngp-bench");
        Directory.CreateDirectory(dir);
        Console.WriteLine($"torch threads {torch.get_num_threads()} (peer BLAS threads {threads}), cores {Environment.ProcessorCount}, MemAvailable {NngpKernel.AvailableMemoryBytes() >> 20} MiB, load average {LoadAverage()}");
        bool fair;
        try
        {
            fair = NumpyPeer.Probe(threads, allowReference);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 5;
        }
        string unfair = fair ? "" : " **(UNFAIR PEER, see above)**";
        var rows = new List<string>();
        Warmup();

        // 1. Kernel n x n, d = 784, depth 3.
        if (!solveOnly)
        {
            using var g = new torch.Generator(42);
            using var x = torch.randn([n, d], ScalarType.Float64, generator: g);
            string xPath = Path.Combine(dir, "x.bin"), blockPath = Path.Combine(dir, "block.bin");
            WriteDoubles(x, xPath);
            var arch = new NngpArchitecture(depth, NngpNonlinearity.Relu, sw, sb);
            using var kernel = new NngpKernel(arch);
            ResetPeak();
            double gemm = Time(() => { using var gm = torch.mm(x, x.T); });
            long gemmPeak = PeakMb();
            ResetPeak();
            Tensor? block = null;
            double nngpCpu = Cpu();
            double nngpOnly = Time(() => { using var r = kernel.Compute(x, null, NngpOutputs.Nngp); block?.Dispose(); block = r.Nngp[..200].clone(); });
            nngpCpu = Cpu() - nngpCpu;
            long nngpPeak = PeakMb();
            ResetPeak();
            double both = Time(() => { using var r = kernel.Compute(x, null, NngpOutputs.Both); });
            long bothPeak = PeakMb();
            WriteDoubles(block!, blockPath);
            block!.Dispose();
            Console.WriteLine(F($"kernel load average {LoadAverage()}"));
            var py = Python(threads, "kernel", xPath, n, d, depth, sw, sb, blockPath);
            fair &= NumpyPeer.Check(py.GetProperty("blas"), threads, allowReference, "numpy kernel peer");
            double pyKernel = py.GetProperty("kernel_s").GetDouble(), pyGemm = py.GetProperty("gemm_s").GetDouble();
            double pyKernelCpu = py.GetProperty("kernel_cpu_s").GetDouble();
            Console.WriteLine(F($"kernel CPU time (user + system): ours {nngpCpu:F2} s, numpy {pyKernelCpu:F2} s: {pyKernelCpu / nngpCpu:F2}x"));
            Console.WriteLine(F($"max |K_C# - K_numpy| on 200 rows: {py.GetProperty("max_abs_diff_vs_csharp").GetDouble():G3} (max |K| {py.GetProperty("max_abs_kernel").GetDouble():G4})"));
            rows.Add(F($"| NNGP kernel, ReLU depth 3, n = {n}, d = {d}, fp64 | {nngpOnly:F2} s | numpy same recursion {pyKernel:F2} s | {pyKernel / nngpOnly:F2}x faster (goal >= 2x){unfair} | {nngpPeak} MiB (numpy {py.GetProperty("peak_rss_mb").GetDouble():F0} MiB) |"));
            rows.Add(F($"| same, vs plain GEMM X·Xᵀ (torch.mm, fp64) | {nngpOnly:F2} s | GEMM {gemm:F2} s (numpy GEMM {pyGemm:F2} s) | {nngpOnly / gemm:F2}x GEMM time (goal <= 2x) | GEMM {gemmPeak} MiB |"));
            rows.Add(F($"| NNGP + NTK together, same size | {both:F2} s | | {both / gemm:F2}x GEMM time | {bothPeak} MiB |"));
        }

        // 2. GP solve at solveN: Cholesky (+ jitter ladder) and multiple right-hand sides.
        using (var g = new torch.Generator(43))
        using (var x = torch.randn([solveN, d], ScalarType.Float64, generator: g))
        using (var y = torch.randn([solveN, classes], ScalarType.Float64, generator: g))
        {
            string xPath = Path.Combine(dir, "xs.bin"), yPath = Path.Combine(dir, "y.bin"), aPath = Path.Combine(dir, "alpha.bin");
            WriteDoubles(x, xPath);
            WriteDoubles(y, yPath);
            var k = torch.mm(x, x.T).div_(d);
            ResetPeak();
            long before = RssMb("VmRSS");
            NngpPosterior? post = null;
            // Fit consumes k: the factor is computed in k's storage and kept by the posterior (for variances).
            double solveCpu = Cpu();
            double solve = Time(() => post = NngpPosterior.Fit(k, y, reg, true, null, CancellationToken.None));
            solveCpu = Cpu() - solveCpu;
            long solvePeak = PeakMb();
            k.Dispose();
            WriteDoubles(post!.Alpha, aPath);
            post.Dispose();
            Console.WriteLine(F($"GP solve load average {LoadAverage()}"));
            var py = Python(threads, "solve", xPath, solveN, d, reg, classes, yPath, aPath);
            fair &= NumpyPeer.Check(py.GetProperty("blas"), threads, allowReference, "scipy solve peer");
            unfair = fair ? "" : " **(UNFAIR PEER, see above)**";
            double pySolve = py.GetProperty("solve_s").GetDouble(), pySolveCpu = py.GetProperty("solve_cpu_s").GetDouble();
            Console.WriteLine(F($"GP solve CPU time (user + system): ours {solveCpu:F2} s, scipy {pySolveCpu:F2} s: {solveCpu / pySolveCpu:F2}x scipy"));
            double pyBefore = py.GetProperty("rss_before_solve_mb").GetDouble(), pyPeak = py.GetProperty("solve_peak_rss_mb").GetDouble();
            long matrixMb = (long)solveN * solveN * 8 >> 20;
            Console.WriteLine(F($"alpha relative difference C# vs scipy: {py.GetProperty("alpha_rel_diff_vs_csharp").GetDouble():G3}; load average {LoadAverage()}"));
            Console.WriteLine(F($"GP solve peak RSS from the kernel resident to the end of the solve: ours {before} -> {solvePeak} MiB (+{solvePeak - before}), scipy {pyBefore:F0} -> {pyPeak:F0} MiB (+{pyPeak - pyBefore:F0}); one {solveN}x{solveN} float64 matrix is {matrixMb} MiB"));
            rows.Add(F($"| GP solve (Cholesky + {classes} RHS), n = {solveN} | {solve:F2} s | scipy cho_factor/cho_solve {pySolve:F2} s | {solve / pySolve:F2}x scipy time (goal <= 1.2x){unfair} | {solvePeak} MiB (+{solvePeak - before} over the kernel) vs scipy {pyPeak:F0} MiB (+{pyPeak - pyBefore:F0}) (goal <= scipy) |"));
        }
        Console.WriteLine();
        Console.WriteLine("| case | Components (TorchSharp/C#) | reference | ratio | peak RSS |");
        Console.WriteLine("|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        Directory.Delete(dir, recursive: true);
        return 0;
    }

    /// <summary>JIT, thread pools and the BLAS/LAPACK libraries warmed on small problems first.</summary>
    private static void Warmup()
    {
        using var g = new torch.Generator(1);
        using var x = torch.randn([600, 784], ScalarType.Float64, generator: g);
        using var kernel = new NngpKernel(new NngpArchitecture(3, NngpNonlinearity.Relu, 2.0, 0.1));
        using (var r = kernel.Compute(x)) { }
        using var k = torch.mm(x, x.T).div_(784);
        using var y = torch.randn([600, 10], ScalarType.Float64, generator: g);
        using (var p = NngpPosterior.Fit(k, y, 1e-2, true, null, CancellationToken.None)) { }
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static double Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalSeconds;
    }

    private static void WriteDoubles(Tensor t, string path)
    {
        using var c = t.contiguous().to(ScalarType.Float64);
        using var f = File.Create(path);
        long rows = c.shape[0];
        long chunk = Math.Max(1, (1L << 24) / Math.Max(1, c.numel() / rows));
        for (long r0 = 0; r0 < rows; r0 += chunk)
        {
            using var part = c.narrow(0, r0, Math.Min(chunk, rows - r0)).contiguous();
            f.Write(part.bytes);
        }
    }

    private static void ResetPeak()
    {
        GC.Collect();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static long PeakMb() => RssMb("VmHWM");

    private static long RssMb(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        return -1;
    }

    private static JsonElement Python(int threads, params object[] args)
    {
        string stdout = NumpyPeer.Run(Path.Combine(AppContext.BaseDirectory, "Nngp", "nngp_numpy.py"), threads,
            args.Select(a => Convert.ToString(a, CultureInfo.InvariantCulture)!));
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    /// <summary>User + system CPU time of this process so far, in seconds (robust to other jobs on the machine where wall time is not).</summary>
    private static double Cpu()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalSeconds;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
}
