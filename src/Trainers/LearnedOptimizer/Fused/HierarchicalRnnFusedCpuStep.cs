using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer.Fused;

/// <summary>
/// The per-parameter part of <see cref="HierarchicalRnnUpdate.Step"/> as one fused CPU pass for float32 tensors
/// (<see cref="HierarchicalRnnInPlaceStep"/> calls it; the libtorch path stays for other devices and dtypes), and the one
/// place that picks its SIMD width. A block of parameters at a time, one SIMD lane each: momentum and mean squares at K
/// timescales, the features, the per-parameter GRU (weights broadcast from L1), the four outputs and the per-tensor sums
/// of [h', x] and δ² are all computed in registers in one pass over the state (<see cref="Pass1"/>); a second pass
/// applies θ ← θ − exp(λ + o)·δ / rms(δ) (<see cref="Pass2"/>). The state keeps its [n, K] and [n, P] layouts (save/load
/// and the pure step use them); a block is transposed in and out.
/// <para>
/// Two variants with the same math (<see cref="FusedCpuKernel"/>): <see cref="HierarchicalRnnFusedKernel512"/> (Vector512,
/// 16 lanes) where Vector512 is hardware-accelerated, else <see cref="HierarchicalRnnFusedKernel256"/> (Vector256, 8 lanes)
/// where AVX2 and FMA are (AMD before Zen 4, most Intel client CPUs); <see cref="Detected"/> is the widest this CPU runs.
/// Each has a default-shape path (K = 4, P = 10: in-register transposes, input-outer GRU matvecs) for the full blocks and
/// a generic one for other shapes and the last partial block; this class runs both and adds their sums.
/// </para>
/// </summary>
internal static unsafe class HierarchicalRnnFusedCpuStep
{
    /// <summary>The default architecture's shape, for which both variants have a fast path.</summary>
    internal const int DefaultK = 4, DefaultP = 10, DefaultI = 3 * DefaultK;

    /// <summary>The vectorised functions of the kernels, for <see cref="Evaluate"/> (their accuracy tests and the benchmark).</summary>
    internal enum Function { Sigmoid, Tanh, Asinh, Log, Exp }

    /// <summary>The widest variant this CPU runs (<see cref="FusedCpuKernel.None"/>: neither).</summary>
    public static FusedCpuKernel Detected { get; } =
        HierarchicalRnnFusedKernel512.IsSupported ? FusedCpuKernel.Avx512
        : HierarchicalRnnFusedKernel256.IsSupported ? FusedCpuKernel.Avx2
        : FusedCpuKernel.None;

    /// <summary>Whether <paramref name="kernel"/> runs on this CPU (an AVX-512 CPU runs both variants).</summary>
    public static bool IsSupported(FusedCpuKernel kernel) => kernel switch
    {
        FusedCpuKernel.Avx512 => HierarchicalRnnFusedKernel512.IsSupported,
        FusedCpuKernel.Avx2 => HierarchicalRnnFusedKernel256.IsSupported,
        _ => false,
    };

    /// <summary>Parameters per SIMD pass of <paramref name="kernel"/>.</summary>
    public static int Lanes(FusedCpuKernel kernel) => kernel switch
    {
        FusedCpuKernel.Avx512 => HierarchicalRnnFusedKernel512.Lanes,
        FusedCpuKernel.Avx2 => HierarchicalRnnFusedKernel256.Lanes,
        _ => throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "No fused kernel."),
    };

    /// <summary>A one-line description of <paramref name="kernel"/> (for the benchmark's output).</summary>
    public static string Describe(FusedCpuKernel kernel) => kernel switch
    {
        FusedCpuKernel.Avx512 => "Avx512 (Vector512, 16 parameters per pass)",
        FusedCpuKernel.Avx2 => "Avx2 (Vector256 with AVX2 + FMA, 8 parameters per pass)",
        _ => "none (the libtorch in-place path)",
    };

    /// <summary>A float32 pointer to a contiguous CPU tensor's data.</summary>
    public static float* Pointer(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.device_type != DeviceType.CPU)
            throw new InvalidOperationException("The fused kernel needs contiguous float32 CPU tensors.");
        fixed (byte* b = t.bytes)
            return (float*)b;
    }

    /// <summary>
    /// Pass 1 over one tensor: updates the state in place, writes exp(λ + o)·δ into <paramref name="update"/> and the
    /// sums of h' ([P]), x ([I]) and δ² into <paramref name="sumH"/>, <paramref name="sumX"/>, <paramref name="sumD2"/>.
    /// <paramref name="bias"/> is the GRU's full bias [3P] (own bias plus those from the tensor and global states). The
    /// default shape's full blocks take the variant's fast path, everything else its generic path.
    /// </summary>
    public static void Pass1(FusedCpuKernel kernel, FusedWeights w, ReadOnlySpan<float> bias, FusedTensorData d, float* update,
        Span<double> sumH, Span<double> sumX, out double sumD2)
    {
        int lanes = Lanes(kernel);
        if (!IsSupported(kernel))
            throw new PlatformNotSupportedException($"The fused CPU kernel {kernel} does not run on this CPU.");
        long full = w.IsDefaultShape ? d.N / lanes * lanes : 0;
        sumH.Clear();
        sumX.Clear();
        sumD2 = 0;
        Span<double> partH = stackalloc double[w.P], partX = stackalloc double[3 * w.K];
        double partD2;
        if (full > 0)
        {
            var blocks = d.Slice(0, full, w.K, w.P);
            if (kernel == FusedCpuKernel.Avx512)
                HierarchicalRnnFusedKernel512.Pass1Default(w, bias, blocks, update, partH, partX, out partD2);
            else
                HierarchicalRnnFusedKernel256.Pass1Default(w, bias, blocks, update, partH, partX, out partD2);
            Add(sumH, sumX, ref sumD2, partH, partX, partD2);
        }
        if (full < d.N)
        {
            var rest = d.Slice(full, d.N - full, w.K, w.P);
            if (kernel == FusedCpuKernel.Avx512)
                HierarchicalRnnFusedKernel512.Pass1Generic(w, bias, rest, update + full, partH, partX, out partD2);
            else
                HierarchicalRnnFusedKernel256.Pass1Generic(w, bias, rest, update + full, partH, partX, out partD2);
            Add(sumH, sumX, ref sumD2, partH, partX, partD2);
        }
    }

    private static void Add(Span<double> sumH, Span<double> sumX, ref double sumD2, ReadOnlySpan<double> h, ReadOnlySpan<double> x, double d2)
    {
        for (int j = 0; j < sumH.Length; j++) sumH[j] += h[j];
        for (int j = 0; j < sumX.Length; j++) sumX[j] += x[j];
        sumD2 += d2;
    }

    /// <summary>Pass 2: θ ← θ − scale·update.</summary>
    public static void Pass2(FusedCpuKernel kernel, float* theta, float* update, long n, float scale)
    {
        switch (kernel)
        {
            case FusedCpuKernel.Avx512 when HierarchicalRnnFusedKernel512.IsSupported:
                HierarchicalRnnFusedKernel512.Pass2(theta, update, n, scale);
                break;
            case FusedCpuKernel.Avx2 when HierarchicalRnnFusedKernel256.IsSupported:
                HierarchicalRnnFusedKernel256.Pass2(theta, update, n, scale);
                break;
            default:
                throw new PlatformNotSupportedException($"The fused CPU kernel {kernel} does not run on this CPU.");
        }
    }

    /// <summary>
    /// <paramref name="f"/> of <paramref name="kernel"/> on each value of <paramref name="x"/>, into <paramref name="y"/>
    /// (the kernels' vectorised functions, for their accuracy tests and <c>lopt-step --function-errors</c>).
    /// </summary>
    internal static void Evaluate(FusedCpuKernel kernel, Function f, ReadOnlySpan<float> x, Span<float> y)
    {
        if (!IsSupported(kernel))
            throw new PlatformNotSupportedException($"The fused CPU kernel {kernel} does not run on this CPU.");
        if (y.Length < x.Length)
            throw new ArgumentException("The output is shorter than the input.", nameof(y));
        if (kernel == FusedCpuKernel.Avx512)
            HierarchicalRnnFusedKernel512.Evaluate(f, x, y);
        else
            HierarchicalRnnFusedKernel256.Evaluate(f, x, y);
    }

    /// <summary>
    /// Whether every value of <paramref name="t"/> is finite: one vectorised pass (Vector256, any x64 or Arm CPU) over a
    /// contiguous float32 CPU tensor (libtorch's isfinite().all() makes three passes and two temporaries), libtorch's otherwise.
    /// </summary>
    public static bool AllFinite(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.device_type != DeviceType.CPU)
            return t.isfinite().all().item<bool>();
        long n = t.numel();
        if (n == 0)
            return true;
        float* p = Pointer(t);
        // A float is NaN or ±∞ exactly when its exponent bits are all ones.
        var expMask = Vector256.Create(0x7F800000);
        var bad = Vector256<int>.Zero;
        long i = 0;
        for (; i + 8 <= n; i += 8)
            bad |= Vector256.Equals(Vector256.Load((int*)(p + i)) & expMask, expMask);
        bool ok = bad == Vector256<int>.Zero;
        for (; i < n; i++)
            ok &= float.IsFinite(p[i]);
        return ok;
    }
}
