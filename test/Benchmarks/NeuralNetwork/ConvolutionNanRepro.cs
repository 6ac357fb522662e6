using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.NeuralNetwork;

/// <summary>
/// Minimal reproduction of the NaN input gradients of libtorch's CPU <c>conv2d</c> (docs/trainers/neural-network.md):
/// one 5×5 convolution with padding 2, backward of a random output gradient, repeated; counts the repetitions whose
/// input gradient holds a NaN and the largest deviation from the same gradient computed in float64 with
/// <c>unfold</c> + matmul. Switches: threads, dtype, oneDNN on/off (libtorch's <c>at::Context::setUserEnabledMkldnn</c>,
/// which TorchSharp 0.107 does not expose), a non-contiguous output gradient, and "poisoning" the caching allocator
/// with NaN or 1e30 before each step (freed buffers that an operation reads without writing first show up then).
/// Native switches that need a fresh process go in the environment (ONEDNN_MAX_CPU_ISA, ONEDNN_VERBOSE,
/// ATEN_CPU_CAPABILITY).
/// </summary>
/// <remarks>Usage: <c>conv-nan [--threads 1,2] [--steps 40] [--batch 64] [--side 14] [--in 4] [--out 8]</c>.</remarks>
public static class ConvolutionNanRepro
{
    [DllImport("libtorch_cpu.so", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("libtorch_cpu.so", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu.so", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledMkldnn(IntPtr context);

    public static int Run(string[] args)
    {
        int[] threads = [1, 2];
        int steps = 40, batch = 64, side = 14, cin = 4, cout = 8;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            int Int() => int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--threads": threads = args[i + 1].Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--steps": steps = Int(); break;
                case "--batch": batch = Int(); break;
                case "--side": side = Int(); break;
                case "--in": cin = Int(); break;
                case "--out": cout = Int(); break;
                default: Console.Error.WriteLine($"Unknown option {args[i]}"); return 2;
            }
        }
        _ = torch.zeros(1); // loads libtorch, so the DllImports below resolve against the loaded library
        var context = GlobalContext();
        Console.WriteLine($"# conv2d NaN reproduction: x [{batch}, {cin}, {side}, {side}], w [{cout}, {cin}, 5, 5], padding 2, {steps} backward passes per row; " +
                          $"{Environment.ProcessorCount} cores, load {File.ReadAllText("/proc/loadavg").Trim()}, oneDNN enabled by default: {UserEnabledMkldnn(context)}, " +
                          $"ONEDNN_MAX_CPU_ISA={Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") ?? "unset"}, ATEN_CPU_CAPABILITY={Environment.GetEnvironmentVariable("ATEN_CPU_CAPABILITY") ?? "unset"}");
        Console.WriteLine();
        Console.WriteLine("| dtype | oneDNN | threads | grad_output | allocator poisoned with | steps with NaN in dL/dx | max abs error of dL/dx (finite steps) | max abs error of dL/dw |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (int t in threads)
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        foreach (bool mkldnn in new[] { true, false })
        foreach (bool contiguousGrad in new[] { true, false })
        foreach (double? poison in new double?[] { null, double.NaN, 1e30 })
        {
            if (dtype == ScalarType.Float64 && !mkldnn)
                continue; // float64 never takes the oneDNN path: the "on" row already is the native (slow_conv2d) path
            if (!contiguousGrad && poison is not null)
                continue;
            torch.set_num_threads(t);
            SetUserEnabledMkldnn(context, mkldnn);
            var (nan, errX, errW) = Measure(dtype, contiguousGrad, poison, steps, batch, side, cin, cout);
            string p = poison is null ? "—" : poison.Value.ToString("G3", CultureInfo.InvariantCulture);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {dtype} | {(dtype == ScalarType.Float64 ? "n/a" : mkldnn ? "on" : "off")} | {t} | {(contiguousGrad ? "contiguous" : "transposed view")} | {p} | {nan} / {steps} | {errX:E1} | {errW:E1} |"));
        }
        SetUserEnabledMkldnn(context, true);
        return 0;
    }

    private static (int Nan, double ErrX, double ErrW) Measure(ScalarType dtype, bool contiguousGrad, double? poison, int steps, int batch, int side, int cin, int cout)
    {
        using var generator = new Generator(7);
        int nan = 0;
        double errX = 0, errW = 0;
        for (int s = 0; s < steps; s++)
        {
            using var scope = NewDisposeScope();
            if (poison is { } value)
            {
                // Fill and free buffers of the sizes this step allocates, so the allocator hands them back dirty.
                for (int k = 0; k < 4; k++)
                    _ = torch.full([batch * Math.Max(cin, cout) * side * side * 4], value, dtype);
                GC.KeepAlive(null);
            }
            var x64 = randn([batch, cin, side, side], float64, generator: generator);
            var w64 = randn([cout, cin, 5, 5], float64, generator: generator).mul_(0.1);
            var b64 = randn([cout], float64, generator: generator).mul_(0.1);
            var g64 = randn([batch, cout, side, side], float64, generator: generator);
            var x = x64.to(dtype).requires_grad_();
            var w = w64.to(dtype).requires_grad_();
            var b = b64.to(dtype).requires_grad_();
            var g = g64.to(dtype);
            if (!contiguousGrad)
                g = g.transpose(2, 3).contiguous().transpose(2, 3); // same values, non-contiguous strides
            var y = nn.functional.conv2d(x, w, b, padding: [2, 2]);
            y.backward([g]);
            var gx = x.grad!;
            if (gx.isnan().any().item<bool>())
                nan++;
            else
                errX = Math.Max(errX, (gx.to(float64) - ReferenceInputGradient(x64, w64, g64)).abs().max().item<double>());
            var gw = w.grad!;
            if (!gw.isnan().any().item<bool>())
                errW = Math.Max(errW, (gw.to(float64) - ReferenceWeightGradient(x64, w64, b64, g64)).abs().max().item<double>());
        }
        return (nan, errX, errW);
    }

    // Reference in float64 with unfold + matmul (autograd of unfold/matmul, no conv kernel involved).
    private static Tensor ReferenceInputGradient(Tensor x, Tensor w, Tensor g)
    {
        var xr = x.detach().clone().requires_grad_();
        var y = UnfoldConv(xr, w.detach());
        y.backward([g]);
        return xr.grad!;
    }

    private static Tensor ReferenceWeightGradient(Tensor x, Tensor w, Tensor b, Tensor g)
    {
        var wr = w.detach().clone().requires_grad_();
        var y = UnfoldConv(x.detach(), wr) + b.view(1, -1, 1, 1);
        y.backward([g]);
        return wr.grad!;
    }

    private static Tensor UnfoldConv(Tensor x, Tensor w)
    {
        long n = x.shape[0], h = x.shape[2], wd = x.shape[3], o = w.shape[0];
        var columns = nn.functional.unfold(x, 5, padding: 2);
        return w.view(o, -1).matmul(columns).view(n, o, h, wd);
    }
}
