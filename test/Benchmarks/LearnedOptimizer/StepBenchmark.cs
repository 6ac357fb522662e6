using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Components.Trainers.LearnedOptimizer;
using Components.Trainers.LearnedOptimizer.Fused;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Benchmarks.LearnedOptimizer;

/// <summary>
/// <c>lopt-step [--kernel Avx512|Avx2] [--threads T] [--sizes 10000,100000,1000000]</c> (and, after those options,
/// <c>--fused-only N</c>, <c>--function-errors N</c>, <c>--profile N</c>): time and memory of one optimizer step of the
/// hierarchical RNN optimizer (the fused float32 CPU kernel, the libtorch in-place path it replaced on the CPU, and the
/// pure differentiable Step)
/// against TorchSharp's Adam, at each size in the same run; per-parameter state; FLOPs per parameter per step against
/// this machine's float32 GEMM rate (torch.mm, 1 and 2 threads). Prints markdown tables.
/// </summary>
public static partial class StepBenchmark
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): with one torch thread every op runs on it, so a loaded machine's waiting is left out.</summary>
    private static double ThreadCpuSeconds()
    {
        ClockGetTime(3, out var t);
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    public static int Run(string[] args)
    {
        int threads = 1;
        long[] sizes = [10_000, 100_000, 1_000_000];
        var kernel = HierarchicalRnnFusedCpuStep.Detected; // the fused column's variant (default: what the optimizer picks here)
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--threads": threads = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--kernel":
                    kernel = Enum.Parse<FusedCpuKernel>(args[i + 1], ignoreCase: true);
                    if (kernel != FusedCpuKernel.None && !HierarchicalRnnFusedCpuStep.IsSupported(kernel))
                    {
                        Console.Error.WriteLine($"The fused kernel {kernel} does not run on this CPU (it runs {HierarchicalRnnFusedCpuStep.Detected}).");
                        return 2;
                    }
                    break;
                case "--profile": return Profile(long.Parse(args[i + 1], CultureInfo.InvariantCulture));
                case "--fused-only": return FusedOnly(long.Parse(args[i + 1], CultureInfo.InvariantCulture), kernel);
                case "--function-errors": return FunctionErrors(long.Parse(args[i + 1], CultureInfo.InvariantCulture), kernel);
                case "--sizes": sizes = [.. args[i + 1].Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture))]; break;
                default: Console.Error.WriteLine($"Unknown option '{args[i]}'."); return 2;
            }
        }
        Console.WriteLine($"load {Load()}, cores {Environment.ProcessorCount}");
        Console.WriteLine(Machine(kernel));

        // 1. The machine's float32 GEMM rate (2048³, best of 5), 1 and 2 threads.
        var gemm = new Dictionary<int, double>();
        foreach (int t in new[] { 1, 2 })
        {
            torch.set_num_threads(t);
            gemm[t] = GemmRate(2048);
            Console.WriteLine(F($"float32 GEMM (torch.mm 2048×2048·2048×2048), {t} thread(s): {gemm[t] / 1e9:F1} GFLOP/s ({(t == 1 ? "thread CPU time" : "wall clock")}, best of 5)"));
        }
        torch.set_num_threads(threads);

        var architecture = HierarchicalRnnArchitecture.Default;
        var flops = FlopsPerParameter(architecture);
        Console.WriteLine(F($"FLOPs per parameter per step (model below): GEMMs {flops.Gemm}, element-wise {flops.Elementwise}, total {flops.Gemm + flops.Elementwise}"));
        Console.WriteLine();
        Console.WriteLine($"Step time: CPU time of the stepping thread, torch threads {threads} (median of the timed steps after 3 warm-up steps); wall-clock medians in the last column; load {Load()}");
        Console.WriteLine();
        Console.WriteLine($"learned, fused: the fused float32 CPU kernel (HierarchicalRnnFusedCpuStep, variant {HierarchicalRnnFusedCpuStep.Describe(kernel)}); learned, libtorch in place: the element-wise libtorch path it replaced on the CPU");
        Console.WriteLine();
        Console.WriteLine($"| parameters | Adam | learned, pure Step | learned, libtorch in place | learned, fused | fused / Adam | libtorch / fused | achieved GFLOP/s (fused) | % of {threads}-thread GEMM rate | extra peak RSS per step: Adam / pure / libtorch / fused | wall: Adam / pure / libtorch / fused |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        using var meta = HierarchicalRnnMetaParameters.LoadShipped();
        foreach (long n in sizes)
        {
            int reps = n >= 1_000_000 ? 8 : n >= 100_000 ? 20 : 60;
            var (adamWall, adamMb, adam) = Time(n, reps, ps => torch.optim.Adam(ps, 1e-3));
            var (pureWall, pureMb, pure) = Time(n, Math.Max(4, reps / 2), ps => new HierarchicalRnnOptimizer(ps, meta) { UseReferenceStep = true });
            var (libWall, libMb, lib) = Time(n, reps, ps => new HierarchicalRnnOptimizer(ps, meta) { CpuKernel = FusedCpuKernel.None });
            var (fastWall, fastMb, fast) = Time(n, reps, ps => new HierarchicalRnnOptimizer(ps, meta) { CpuKernel = kernel });
            double rate = (flops.Gemm + flops.Elementwise) * (double)n / fast;
            Console.WriteLine(F($"| {n:N0} | {Ms(adam)} | {Ms(pure)} | {Ms(lib)} | {Ms(fast)} | {fast / adam:F1}× | {lib / fast:F2}× | {rate / 1e9:F2} | {100 * rate / gemm[threads]:F1}% | {adamMb:F0} / {pureMb:F0} / {libMb:F0} / {fastMb:F0} MiB | {Ms(adamWall)} / {Ms(pureWall)} / {Ms(libWall)} / {Ms(fastWall)} |"));
        }
        Console.WriteLine();

        // Per-parameter state: the optimizer's state dict against Adam's two moments.
        using (var p = new Parameter(zeros(1000, 100), requires_grad: true))
        using (var lo = new HierarchicalRnnOptimizer([p], meta))
        {
            var dict = lo.StateDict();
            long perParameter = dict.Where(kv => kv.Value.numel() % 100_000 == 0 && kv.Value.numel() > 1).Sum(kv => kv.Value.numel()) / 100_000;
            long perTensor = dict.Where(kv => kv.Key.StartsWith("tensor.", StringComparison.Ordinal) && kv.Value.numel() % 100_000 != 0).Sum(kv => kv.Value.numel());
            Console.WriteLine($"State per parameter: learned {perParameter} float32 ({perParameter * 4} bytes), Adam 2 float32 (exp_avg, exp_avg_sq: 8 bytes); " +
                $"plus per tensor {perTensor} values and {dict["global.hidden"].numel()} global.");
            foreach (var t in dict.Values)
                t.Dispose();
        }
        Console.WriteLine($"load {Load()}");
        return 0;
    }

    /// <summary>
    /// FLOPs of one step per parameter at the default shape, counting a multiply-add as 2 and every element-wise
    /// operation (add, multiply, sqrt, asinh, log, sigmoid, tanh, exp, clamp) as 1 per element.
    /// </summary>
    public static (int Gemm, int Elementwise) FlopsPerParameter(HierarchicalRnnArchitecture a)
    {
        int k = a.GradientScales, p = a.ParameterCellSize, i = a.InputSize;
        int gemm = 2 * i * 3 * p        // x·Wx (all three GRU blocks)
            + 2 * p * 2 * p            // h·Wh, gates
            + 2 * p * p                // (r⊙h)·Wh, candidate
            + 2 * p * 4                // h·[w_update, w_σ, w_β, w_lr]
            + 2 * k;                   // s·w_shortcut
        int elementwise = 2 * k        // timescales β₁^(2^−j), 1 − β
            + 3 * k                    // m ← m + (1 − β)(g − m)
            + 4 * k                    // v ← v + (1 − σ)(m² − v)
            + 3 * k                    // √(v + ε), m/√·, asinh
            + (k - 1)                  // adjacent products
            + 3 * k + k                // log, ×2, mean over scales, subtract
            + 1                        // relative log lr
            + 3 * p                    // + bias (the addmm's add)
            + 2 * p + 2 * p            // gates: + h·Wh, sigmoid
            + p + p + p                // r⊙h, + candidate, tanh
            + 3 * p                    // h' = (h − c)⊙u + c
            + (p + i)                  // tensor GRU input: mean over the tensor of [h', x]
            + 4 + 1 + 2                // output biases, + shortcut, direction²
            + 2 + 2                    // two decays: copy + sigmoid
            + 2 + 2                    // step log lr: add, clamp; lerp (2)
            + 4 + 1;                   // + offset, exp, × direction, × 1/rms; θ − update
        return (gemm, elementwise);
    }

    private static (double Seconds, double ExtraMb, double CpuSeconds) Time(long n, int reps, Func<Parameter[], torch.optim.Optimizer> create)
    {
        // An MLP-like split: one weight matrix and one bias of 1% of the parameters (at least 10).
        long bias = Math.Max(10, n / 100);
        using var gen = new Generator(7);
        Parameter[] ps = [new(randn([(n - bias) / bias, bias], generator: gen), requires_grad: true), new(randn([bias + (n - bias) % bias], generator: gen), requires_grad: true)];
        foreach (var p in ps)
            p.grad = randn(p.shape, generator: gen).mul_(1e-2);
        using var optimizer = create(ps);
        for (int i = 0; i < 3; i++)
            optimizer.step();
        var times = new List<double>();
        var cpu = new List<double>();
        GC.Collect();
        long before = ResetPeak();
        for (int i = 0; i < reps; i++)
        {
            double c0 = ThreadCpuSeconds();
            var sw = Stopwatch.StartNew();
            optimizer.step();
            times.Add(sw.Elapsed.TotalSeconds);
            cpu.Add(ThreadCpuSeconds() - c0);
        }
        double extra = (PeakKb() - before) / 1024.0;
        foreach (var p in ps)
            p.Dispose();
        times.Sort();
        cpu.Sort();
        return (times[times.Count / 2], extra, cpu[cpu.Count / 2]);
    }

    /// <summary>Only the fused step at n parameters, 200 steps (for a profiler: <c>perf record</c>).</summary>
    private static int FusedOnly(long n, FusedCpuKernel kernel)
    {
        torch.set_num_threads(1);
        using var meta = HierarchicalRnnMetaParameters.LoadShipped();
        var (wall, _, cpu) = Time(n, 200, ps => new HierarchicalRnnOptimizer(ps, meta) { CpuKernel = kernel });
        Console.WriteLine(F($"fused step ({kernel}), {n:N0} parameters: {Ms(cpu)} CPU, {Ms(wall)} wall (median of 200); load {Load()}"));
        return 0;
    }

    /// <summary>
    /// The fused kernel's vectorised functions (variant <paramref name="kernel"/>) against System.Math (double): the
    /// largest absolute and relative errors over n evenly spaced points of [−40, 40] and n log-spaced magnitudes
    /// 10⁻³⁰…10³⁰ of each sign (Log and Exp on the values they take: Log on |x| &gt; 0, Exp below 80). Relative errors
    /// only where |f(x)| ≥ 1e-30, and again where |f(x)| ≥ 0.01 (near a zero of f, tanh and asinh have an absolute, not
    /// a relative, accuracy).
    /// </summary>
    private static int FunctionErrors(long n, FusedCpuKernel kernel)
    {
        if (kernel == FusedCpuKernel.None)
        {
            Console.Error.WriteLine("No fused kernel runs on this CPU.");
            return 2;
        }
        Console.WriteLine(Machine(kernel));
        var xs = new List<float>();
        for (long i = 0; i < n; i++)
            xs.Add((float)(-40 + 80.0 * i / (n - 1)));
        for (long i = 0; i < n; i++)
        {
            float a = (float)Math.Pow(10, -30 + 60.0 * i / (n - 1));
            xs.Add(a);
            xs.Add(-a);
        }
        var fs = new (HierarchicalRnnFusedCpuStep.Function F, Func<double, double> Exact, Func<float, bool> Domain)[]
        {
            (HierarchicalRnnFusedCpuStep.Function.Sigmoid, v => 1 / (1 + Math.Exp(-v)), _ => true),
            (HierarchicalRnnFusedCpuStep.Function.Tanh, Math.Tanh, _ => true),
            (HierarchicalRnnFusedCpuStep.Function.Asinh, Math.Asinh, _ => true),
            (HierarchicalRnnFusedCpuStep.Function.Log, Math.Log, v => v > 0),
            (HierarchicalRnnFusedCpuStep.Function.Exp, Math.Exp, v => v >= -87 && v <= 80),
        };
        foreach (var (f, exact, domain) in fs)
        {
            var pts = xs.Where(domain).ToArray();
            var y = new float[pts.Length];
            HierarchicalRnnFusedCpuStep.Evaluate(kernel, f, pts, y);
            double maxAbs = 0, maxRel = 0, atAbs = 0, atRel = 0, maxRel1 = 0, atRel1 = 0;
            for (int j = 0; j < pts.Length; j++)
            {
                double e = exact(pts[j]), err = Math.Abs(e - y[j]);
                if (err > maxAbs) (maxAbs, atAbs) = (err, pts[j]);
                if (Math.Abs(e) >= 1e-30 && err / Math.Abs(e) > maxRel) (maxRel, atRel) = (err / Math.Abs(e), pts[j]);
                if (Math.Abs(e) >= 1e-2 && err / Math.Abs(e) > maxRel1) (maxRel1, atRel1) = (err / Math.Abs(e), pts[j]);
            }
            string name = f.ToString().ToLowerInvariant();
            Console.WriteLine(F($"{name,-8} {pts.Length,9} points: max absolute error {maxAbs:G3} (at x = {atAbs:G6}), max relative error {maxRel:G3} (at x = {atRel:G6}), where |f| ≥ 0.01 {maxRel1:G3} (at x = {atRel1:G6})"));
        }
        return 0;
    }

    /// <summary>The CPU model (Linux: /proc/cpuinfo) and the fused kernel variant that runs.</summary>
    private static string Machine(FusedCpuKernel kernel)
    {
        string model = "unknown";
        try
        {
            model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? model;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return $"CPU: {model}; fused kernel: {HierarchicalRnnFusedCpuStep.Describe(kernel)} (this CPU's widest: {HierarchicalRnnFusedCpuStep.Detected})";
    }

    /// <summary>Thread CPU time of the single operations of a step on n parameters (one torch thread).</summary>
    private static int Profile(long n)
    {
        torch.set_num_threads(1);
        using var scope = NewDisposeScope();
        var gen = new Generator(3);
        var m4 = randn([n, 4], generator: gen);
        var x = randn([n, 12], generator: gen);
        var h = randn([n, 10], generator: gen);
        var w = randn([12, 30], generator: gen);
        var wh = randn([10, 30], generator: gen);
        var b = randn([1, 30], generator: gen);
        var f30 = randn([n, 30], generator: gen);
        var v = randn([n], generator: gen).abs_();
        var halv = tensor(new float[] { 1, 0.5f, 0.25f, 0.125f }).unsqueeze(0);
        void T(string name, Action a)
        {
            for (int i = 0; i < 2; i++) { using var s1 = NewDisposeScope(); a(); }
            var c = new List<double>();
            for (int i = 0; i < 7; i++) { using var s1 = NewDisposeScope(); double c0 = ThreadCpuSeconds(); a(); c.Add(ThreadCpuSeconds() - c0); }
            c.Sort();
            Console.WriteLine(F($"{name,-40} {c[3] * 1e3,9:F3} ms"));
        }
        T("addmm [n,12]x[12,30]+b", () => torch.addmm(b, x, w, 1, 1));
        T("mm [n,10]x[10,30]", () => h.mm(wh));
        T("mm [n,10]x[10,20] (narrow W)", () => h.mm(wh.narrow(1, 0, 20)));
        T("mm [n,30]^T-free [n,10]x[10,4]", () => h.mm(wh.narrow(1, 0, 4)));
        T("sigmoid_ [n,20] strided view", () => f30.narrow(1, 0, 20).sigmoid_());
        T("sigmoid_ [n,30] contiguous", () => f30.sigmoid_());
        T("tanh_ [n,10] strided", () => f30.narrow(1, 20, 10).tanh_());
        T("mul_ [n,10]", () => h.mul_(1.0001));
        T("asinh_ [n,4] strided (in [n,12])", () => x.narrow(1, 0, 4).asinh_());
        T("asinh [n,4] contiguous", () => m4.asinh());
        T("log_ [n,4] strided", () => x.narrow(1, 4, 4).abs_().log_());
        T("sqrt [n,4]", () => m4.abs().sqrt_());
        T("pow [n,1]^[1,4]", () => v.unsqueeze(1).pow(halv));
        T("lerp_ [n,4] tensor weight", () => m4.lerp_(x.narrow(1, 0, 4), m4.abs()));
        T("copy_ into narrow [n,4]", () => x.narrow(1, 0, 4).copy_(m4));
        T("mean dim 1 [n,4] strided", () => x.narrow(1, 0, 4).mean([1], keepdim: true));
        T("mean dim 0 [n,10]", () => h.mean([0], keepdim: true));
        T("exp_ [n]", () => v.exp().exp_());
        T("square().mean() [n]", () => v.square().mean());
        T("select(1,1) copy_ [n]", () => v.copy_(f30.select(1, 1)));
        return 0;
    }

    private static double GemmRate(int size)
    {
        using var gen = new Generator(1);
        using var a = randn([size, size], generator: gen);
        using var b = randn([size, size], generator: gen);
        using (var warm = a.mm(b)) { }
        double best = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            using var c = a.mm(b);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        // With one thread, the thread's CPU time is what the GEMM costs on a loaded machine (wall time also counts waiting).
        if (torch.get_num_threads() == 1)
        {
            best = double.MaxValue;
            for (int i = 0; i < 5; i++)
            {
                double c0 = ThreadCpuSeconds();
                using var c = a.mm(b);
                best = Math.Min(best, ThreadCpuSeconds() - c0);
            }
        }
        return 2.0 * size * size * size / best;
    }

    /// <summary>Resets the peak RSS (Linux clear_refs 5) and returns the current RSS in KiB.</summary>
    private static long ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Status("VmRSS:");
    }

    private static long PeakKb() => Status("VmHWM:");

    private static long Status(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        return -1;
    }

    private static string Ms(double seconds) => F($"{seconds * 1e3:F3} ms");

    private static string Load() => File.ReadAllText("/proc/loadavg").Trim();

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
