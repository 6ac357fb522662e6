using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Components.Trainers.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Nngp;

/// <summary>
/// <c>dotnet run -c Release --project test/Benchmarks -- nngp-bench [n] [solveN]</c>: the NNGP kernel (ReLU, depth 3,
/// float64) against an independent numpy implementation of the same recursion and against the plain GEMM X·Xᵀ, and the
/// GP solve against scipy cho_factor/cho_solve; peak memory of each. Prints a markdown table.
/// </summary>
public static class NngpBenchmark
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        int solveN = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        const int d = 784, depth = 3, classes = 10;
        const double sw = 2.0, sb = 0.1, reg = 1e-2;
        string dir = Path.Combine(Path.GetTempPath(), "nngp-bench");
        Directory.CreateDirectory(dir);
        string script = Path.Combine(AppContext.BaseDirectory, "Nngp", "nngp_numpy.py");
        Console.WriteLine($"torch threads {torch.get_num_threads()}, cores {Environment.ProcessorCount}, MemAvailable {NngpKernel.AvailableMemoryBytes() >> 20} MiB");
        var rows = new List<string>();
        Warmup();

        // 1. Kernel n x n, d = 784, depth 3.
        using (var g = new torch.Generator(42))
        using (var x = torch.randn([n, d], ScalarType.Float64, generator: g))
        {
            string xPath = Path.Combine(dir, "x.bin"), blockPath = Path.Combine(dir, "block.bin");
            WriteDoubles(x, xPath);
            var arch = new NngpArchitecture(depth, NngpNonlinearity.Relu, sw, sb);
            using var kernel = new NngpKernel(arch);
            ResetPeak();
            double gemm = Time(() => { using var gm = torch.mm(x, x.T); });
            long gemmPeak = PeakMb();
            ResetPeak();
            Tensor? block = null;
            double nngpOnly = Time(() => { using var r = kernel.Compute(x, null, NngpOutputs.Nngp); block?.Dispose(); block = r.Nngp[..200].clone(); });
            long nngpPeak = PeakMb();
            ResetPeak();
            double both = Time(() => { using var r = kernel.Compute(x, null, NngpOutputs.Both); });
            long bothPeak = PeakMb();
            WriteDoubles(block!, blockPath);
            block!.Dispose();
            var py = Python("kernel", xPath, n, d, depth, sw, sb, blockPath);
            double pyKernel = py.GetProperty("kernel_s").GetDouble(), pyGemm = py.GetProperty("gemm_s").GetDouble();
            Console.WriteLine($"numpy BLAS: {py.GetProperty("blas")}");
            Console.WriteLine(F($"max |K_C# - K_numpy| on 200 rows: {py.GetProperty("max_abs_diff_vs_csharp").GetDouble():G3} (max |K| {py.GetProperty("max_abs_kernel").GetDouble():G4})"));
            rows.Add(F($"| NNGP kernel, ReLU depth 3, n = {n}, d = {d}, fp64 | {nngpOnly:F2} s | numpy same recursion {pyKernel:F2} s | {pyKernel / nngpOnly:F2}x faster (goal >= 2x) | {nngpPeak} MiB (numpy {py.GetProperty("peak_rss_mb").GetDouble():F0} MiB) |"));
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
            NngpPosterior? post = null;
            double solve = Time(() => post = NngpPosterior.Fit(k, y, reg, true, null, CancellationToken.None));
            long solvePeak = PeakMb();
            k.Dispose();
            WriteDoubles(post!.Alpha, aPath);
            post.Dispose();
            var py = Python("solve", xPath, solveN, d, reg, classes, yPath, aPath);
            double pySolve = py.GetProperty("solve_s").GetDouble();
            Console.WriteLine(F($"alpha relative difference C# vs scipy: {py.GetProperty("alpha_rel_diff_vs_csharp").GetDouble():G3}"));
            rows.Add(F($"| GP solve (Cholesky + {classes} RHS), n = {solveN} | {solve:F2} s | scipy cho_factor/cho_solve {pySolve:F2} s | {solve / pySolve:F2}x scipy time (goal <= 1.2x) | {solvePeak} MiB incl. the 3.2 GB kernel (scipy process {py.GetProperty("peak_rss_mb").GetDouble():F0} MiB) |"));
        }
        Console.WriteLine();
        Console.WriteLine("| case | Components (TorchSharp/C#) | reference | ratio | peak RSS |");
        Console.WriteLine("|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
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

    private static long PeakMb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        return -1;
    }

    private static JsonElement Python(params object[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        // Only this invocation runs without the OpenBLAS core-type override (it slows a current numpy down).
        psi.Environment.Remove("OPENBLAS_CORETYPE");
        psi.Environment.Remove("OPENBLAS_L2_SIZE");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Nngp", "nngp_numpy.py"));
        foreach (var a in args)
            psi.ArgumentList.Add(Convert.ToString(a, CultureInfo.InvariantCulture)!);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException("numpy reference failed: " + stderr);
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
