using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Components.Benchmarks.Core;

/// <summary>
/// How the runners start a numpy/scipy peer (<c>/usr/bin/python3</c>) so that the comparison is fair, and how they
/// check that it was: the peer runs on an optimised BLAS (Debian's numpy falls back to the reference BLAS, about 30×
/// slower at GEMM, unless <c>libopenblas0-pthread</c> is installed), with an OpenBLAS kernel that suits the CPU, at the
/// same thread count as ours. Every peer script imports <c>blas_report.py</c> (next to this file) and puts its report
/// into its JSON; <see cref="Check"/> refuses a reference-BLAS run unless <c>--allow-reference-blas</c> was given, and
/// then marks it loudly.
/// </summary>
internal static class NumpyPeer
{
    public const string Python = "/usr/bin/python3";
    public const string AllowReferenceBlasFlag = "--allow-reference-blas";
    public const string InstallHint = "install OpenBLAS: `apt-get install libopenblas0-pthread` (Debian's alternatives then point libblas.so.3 and liblapack.so.3 at it)";

    /// <summary>Kernels OpenBLAS falls back to when it does not recognise a CPU (SSE-era code, several times slower on an AVX2/AVX-512 machine).</summary>
    private static readonly HashSet<string> GenericKernels = new(StringComparer.OrdinalIgnoreCase)
    {
        "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai", "Coppermine", "Northwood", "Banias", "Opteron", "Barcelona", "Generic",
    };

    private static readonly Lazy<HashSet<string>> CpuFlags = new(() =>
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return line is null ? [] : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        }
        catch (IOException)
        {
            return [];
        }
    });

    /// <summary>
    /// The OpenBLAS kernel the peer is told to use (<c>OPENBLAS_CORETYPE</c>), from the CPU's flags: OpenBLAS 0.3.21
    /// (Debian 12) does not recognise some virtual CPUs and falls back to Prescott (SSE3; measured here 6× slower at
    /// GEMM than Cooperlake on an AVX-512 Xeon). Override with the environment variable <c>PEER_OPENBLAS_CORETYPE</c>
    /// (a kernel name, or <c>auto</c> for OpenBLAS's own detection). The runners check the results against ours.
    /// </summary>
    public static string? CoreType
    {
        get
        {
            var o = Environment.GetEnvironmentVariable("PEER_OPENBLAS_CORETYPE");
            if (!string.IsNullOrEmpty(o))
                return o.Equals("auto", StringComparison.OrdinalIgnoreCase) ? null : o;
            var f = CpuFlags.Value;
            if (f.Contains("avx512f") && f.Contains("avx512bw") && f.Contains("avx512vl") && f.Contains("avx512dq"))
                return f.Contains("avx512_bf16") ? "Cooperlake" : "SkylakeX";
            return f.Contains("avx2") && f.Contains("fma") ? "Haswell" : null;
        }
    }

    /// <summary>A start for <paramref name="script"/> with the peer's environment: BLAS threads = <paramref name="threads"/>, the chosen kernel, blas_report.py importable.</summary>
    public static ProcessStartInfo StartInfo(string script, int threads, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        string t = threads.ToString(CultureInfo.InvariantCulture);
        foreach (var name in new[] { "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PEER_THREADS" })
            psi.Environment[name] = t;
        // Set on some machines for older OpenBLAS builds; they slow a current one. The kernel is chosen instead (see CoreType).
        psi.Environment.Remove("OPENBLAS_L2_SIZE");
        psi.Environment.Remove("OPENBLAS_CORETYPE");
        if (CoreType is { } core)
            psi.Environment["OPENBLAS_CORETYPE"] = core;
        string reportDir = Path.Combine(AppContext.BaseDirectory, "Core");
        psi.Environment["PYTHONPATH"] = psi.Environment.TryGetValue("PYTHONPATH", out var pp) && !string.IsNullOrEmpty(pp) ? reportDir + ":" + pp : reportDir;
        return psi;
    }

    /// <summary>Runs the peer; returns its standard output (stderr goes to ours on failure).</summary>
    public static string Run(string script, int threads, IEnumerable<string> args)
    {
        using var p = Process.Start(StartInfo(script, threads, args))!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"numpy/scipy peer {Path.GetFileName(script)} failed ({p.ExitCode}): {stderr.Result}");
        return stdout;
    }

    /// <summary>Starts the peer's interpreter once with the peer's environment and checks its BLAS before any timing (see <see cref="Check"/>).</summary>
    public static bool Probe(int threads, bool allowReference)
    {
        string probe = Path.Combine(AppContext.BaseDirectory, "Core", "blas_report.py");
        using var doc = JsonDocument.Parse(Run(probe, threads, ["--print"]));
        return Check(doc.RootElement, threads, allowReference, "numpy/scipy peer (probe)");
    }

    /// <summary>True when the runner's arguments allow a reference-BLAS peer (and removes the flag).</summary>
    public static bool TakeAllowReferenceBlas(ref string[] args)
    {
        bool allow = args.Contains(AllowReferenceBlasFlag);
        args = args.Where(a => a != AllowReferenceBlasFlag).ToArray();
        return allow;
    }

    /// <summary>
    /// Checks a peer's <c>blas_report()</c> and prints which BLAS it ran on. Throws on the reference BLAS unless
    /// <paramref name="allowReference"/>; returns false (and prints a banner) for any unfair run: reference BLAS, a
    /// generic OpenBLAS kernel, or a thread count other than <paramref name="threads"/>.
    /// </summary>
    public static bool Check(JsonElement report, int threads, bool allowReference, string who)
    {
        var pools = report.GetProperty("threadpool").EnumerateArray().ToList();
        var libraries = report.GetProperty("libraries").EnumerateArray().Select(e => e.GetString() ?? "").ToList();
        var blas = pools.Where(p => p.TryGetProperty("user_api", out var u) && u.GetString() == "blas").ToList();
        bool optimisedLib = libraries.Any(l => l.Contains("openblas", StringComparison.OrdinalIgnoreCase) || l.Contains("mkl", StringComparison.OrdinalIgnoreCase) || l.Contains("blis", StringComparison.OrdinalIgnoreCase));
        var problems = new List<string>();
        var text = new StringBuilder();
        foreach (var p in blas)
        {
            string Get(string k) => p.TryGetProperty(k, out var v) ? v.ToString() : "?";
            text.Append(CultureInfo.InvariantCulture, $"{Get("internal_api")} {Get("version")} ({Get("threading_layer")}, kernel {Get("architecture")}, {Get("num_threads")} thread(s), {Get("filepath")}); ");
            if (p.TryGetProperty("num_threads", out var nt) && nt.GetInt32() != threads)
                problems.Add($"BLAS runs {nt.GetInt32()} thread(s), ours {threads}");
            if (p.TryGetProperty("architecture", out var arch) && GenericKernels.Contains(arch.GetString() ?? "") && CpuFlags.Value.Contains("avx2"))
                problems.Add($"OpenBLAS runs its generic {arch.GetString()} kernel on an AVX2 CPU (set PEER_OPENBLAS_CORETYPE)");
        }
        text.Append("libraries: ").Append(string.Join(", ", libraries));
        bool reference = blas.Count == 0 && !optimisedLib;
        if (blas.Count == 0 && optimisedLib)
            problems.Add("threadpoolctl reported no BLAS (is python3-threadpoolctl installed?): thread count unverified");
        Console.WriteLine($"{who} BLAS: {text} (OPENBLAS_CORETYPE={report.GetProperty("openblas_coretype")}, numpy {report.GetProperty("numpy")}, scipy {report.GetProperty("scipy")})");
        if (reference)
        {
            string message = $"{who} runs on the REFERENCE BLAS ({string.Join(", ", libraries)}): its GEMM is about 30x slower than OpenBLAS's and every ratio against it is meaningless; {InstallHint}.";
            if (!allowReference)
                throw new InvalidOperationException(message + $" ({AllowReferenceBlasFlag} runs it anyway, marked as unfair.)");
            problems.Add(message);
        }
        foreach (var problem in problems)
        {
            Console.WriteLine($"!!!!! UNFAIR PEER: {problem}");
            Console.Error.WriteLine($"!!!!! UNFAIR PEER: {problem}");
        }
        return problems.Count == 0;
    }
}
