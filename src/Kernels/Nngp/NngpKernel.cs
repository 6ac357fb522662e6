using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// Infinite-width kernels of a deep fully connected network (Lee et al. 2018, "Deep Neural Networks as Gaussian
/// Processes", arXiv:1711.00165; NTK as in neural-tangents): one <see cref="NngpArchitecture"/> gives the NNGP kernel
/// and the neural tangent kernel. Computation is tiled (tile size from the available memory), only upper-triangle
/// tiles are computed for K(X, X), correlations are clamped to [−1, 1], and everything runs in float64 on the
/// configured device.
/// </summary>
/// <remarks>
/// On the CPU the closed forms run as one fused, vectorised pass per tile on top of deterministic Gram products, so
/// results do not depend on the tile size, K(X, X) is exactly symmetric and its diagonal equals
/// <see cref="ComputeDiagonal(Tensor, NngpOutputs)"/> bit for bit. On CUDA every step is a TorchSharp operation
/// (cuBLAS Gram products), and results can differ in the last bits between tile sizes.
/// Instances are thread-safe for concurrent <c>Compute</c> calls.
/// </remarks>
public sealed class NngpKernel : IDisposable
{
    private readonly NngpLookupGrid? _grid;
    private readonly NngpGaussHermite? _hermite;
    private bool _disposed;

    /// <summary>Creates the kernel; builds the lookup table now when <see cref="NngpIntegration.LookupGrid"/> is used.</summary>
    /// <param name="architecture">The network.</param>
    /// <param name="options">How to compute (null = defaults: closed form or Gauss–Hermite, float64, CPU, automatic tiles).</param>
    public NngpKernel(NngpArchitecture architecture, NngpKernelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        Options = (options ?? new NngpKernelOptions()).Clone();
        Options.Validate(architecture);
        Architecture = architecture;
        Integration = Options.Resolve(architecture.Nonlinearity);
        Device = Options.Device ?? torch.CPU;
        if (Integration == NngpIntegration.LookupGrid)
        {
            _grid = new NngpLookupGrid(architecture.Nonlinearity, Options.GridGaussPoints, Options.GridVariancePoints,
                Options.GridCorrelationPoints, Options.GridMaxVariance, Options.GridMaxGauss, Device);
        }
        else if (Integration == NngpIntegration.GaussHermite)
        {
            _hermite = new NngpGaussHermite(architecture.Nonlinearity, Options.GaussHermiteDegree);
        }
    }

    /// <summary>The architecture.</summary>
    public NngpArchitecture Architecture { get; }

    /// <summary>The options (a private copy).</summary>
    public NngpKernelOptions Options { get; }

    /// <summary>The integration method actually used (<see cref="NngpIntegration.Auto"/> resolved).</summary>
    public NngpIntegration Integration { get; }

    /// <summary>Where the computation runs.</summary>
    public Device Device { get; }

    internal NngpLookupGrid? Grid => _grid;

    internal NngpGaussHermite? Hermite => _hermite;

    private bool IsCpu => Device.type == DeviceType.CPU;

    private bool Fused => IsCpu && Integration == NngpIntegration.ClosedForm && !Options.ForceTensorPath;

    /// <summary>
    /// Prepares inputs for repeated use: converts to float64 on the device, layer-normalises rows if the architecture
    /// says so, and runs the diagonal recursion.
    /// </summary>
    /// <param name="x">[n, d] floating-point tensor, any device; finite values.</param>
    /// <param name="cancellation">Cancellation token.</param>
    /// <exception cref="ArgumentOutOfRangeException">x is not a non-empty 2-D floating-point tensor.</exception>
    /// <exception cref="InvalidOperationException">x holds NaN or infinity, or the variances overflow or leave the lookup grid.</exception>
    public NngpPreparedInput Prepare(Tensor x, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 2)
            throw new ArgumentOutOfRangeException(nameof(x), $"Expected a 2-D [rows, features] tensor, got {x.dim()} dimension(s).");
        if (x.shape[0] == 0 || x.shape[1] == 0)
            throw new ArgumentOutOfRangeException(nameof(x), $"Expected at least one row and one feature, got [{x.shape[0]}, {x.shape[1]}].");
        if (!x.is_floating_point())
            throw new ArgumentOutOfRangeException(nameof(x), $"Expected a floating-point tensor, got {x.dtype}.");
        if (x.shape[0] > int.MaxValue / 2 || x.shape[1] > int.MaxValue / 2)
            throw new ArgumentOutOfRangeException(nameof(x), "Too many rows or features.");
        int n = (int)x.shape[0], d = (int)x.shape[1];
        int dp = NngpGram.PaddedWidth(d);
        if (IsCpu && (long)n * dp > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(x), $"{n} × {d} values exceed the largest CPU array; use fewer rows or a GPU.");

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var xd = x.detach().to(ScalarType.Float64, Device).contiguous();
        CheckFinite(xd);
        if (Architecture.InputLayerNorm)
        {
            var mean = xd.mean([1], keepdim: true);
            var variance = xd.var(1, unbiased: false, keepdim: true);
            xd = ((xd - mean) / (variance + 1e-15).sqrt()).contiguous();
        }
        cancellation.ThrowIfCancellationRequested();

        var schedule = NngpSchedule.Create(Architecture, d, Options.Rescale);
        int depth = Architecture.Depth;
        var layerDiag = new double[(depth + 1) * n];
        var ntkDiag = new double[n];
        double[]? padded = null;
        Tensor dots;
        if (IsCpu)
        {
            padded = GC.AllocateUninitializedArray<double>(n * dp);
            CopyPadded(xd, padded, n, d, dp);
            var dotArr = new double[n];
            Parallel.For(0, (n + 255) / 256, new ParallelOptions { CancellationToken = cancellation, MaxDegreeOfParallelism = Math.Max(1, torch.get_num_threads()) }, b =>
            {
                for (int i = b * 256, e = Math.Min(n, i + 256); i < e; i++)
                    dotArr[i] = NngpGram.Dot(padded, i * dp, padded, i * dp, dp);
            });
            if (Fused)
            {
                NngpClosedForm.Diagonal(Architecture, schedule, dotArr, layerDiag, ntkDiag);
                dots = torch.empty(0);
            }
            else
            {
                dots = torch.tensor(dotArr, ScalarType.Float64);
            }
        }
        else
        {
            dots = (xd * xd).sum(1);
        }
        if (!Fused)
        {
            var k = dots * schedule.W0 + schedule.B0;
            var t = k;
            var diag = new List<Tensor> { k };
            for (int l = 0; l < depth; l++)
            {
                var (g, dot) = MapDiagonal(schedule, k);
                var kNew = g * schedule.A[l] + schedule.B[l];
                t = kNew + t * dot * schedule.A[l];
                k = kNew;
                diag.Add(k);
            }
            TensorData.CopyTo(torch.stack(diag), layerDiag);
            TensorData.CopyTo(t, ntkDiag);
        }
        CheckDiagonal(layerDiag, ntkDiag, n, depth);

        var layerT = torch.tensor(layerDiag, [depth + 1, n], ScalarType.Float64).to(Device).DetachFromDisposeScope();
        var ntkT = torch.tensor(ntkDiag, ScalarType.Float64).to(Device).DetachFromDisposeScope();
        var xKeep = IsCpu ? null : xd.DetachFromDisposeScope();
        return new NngpPreparedInput(this, n, d, padded, dp, xKeep, layerDiag, layerT, ntkDiag, ntkT);
    }

    /// <summary>
    /// Computes K(x1, x2) (and Θ(x1, x2)); with <paramref name="x2"/> null, the symmetric K(x1, x1) from upper-triangle tiles.
    /// </summary>
    /// <param name="x1">[n1, d] inputs.</param>
    /// <param name="x2">[n2, d] inputs, or null for x1 itself.</param>
    /// <param name="outputs">Which kernels to return.</param>
    /// <param name="cancellation">Checked between tiles.</param>
    public NngpKernelResult Compute(Tensor x1, Tensor? x2 = null, NngpOutputs outputs = NngpOutputs.Both, CancellationToken cancellation = default)
    {
        using var p1 = Prepare(x1, cancellation);
        if (x2 is null)
            return Compute(p1, null, outputs, cancellation);
        using var p2 = Prepare(x2, cancellation);
        return Compute(p1, p2, outputs, cancellation);
    }

    /// <summary>Computes the kernels between prepared inputs (see <see cref="Compute(Tensor, Tensor?, NngpOutputs, CancellationToken)"/>).</summary>
    public NngpKernelResult Compute(NngpPreparedInput x1, NngpPreparedInput? x2 = null, NngpOutputs outputs = NngpOutputs.Both, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(x1);
        CheckOwner(x1, nameof(x1));
        bool symmetric = x2 is null || ReferenceEquals(x1, x2);
        var b = x2 ?? x1;
        CheckOwner(b, nameof(x2));
        if (b.Features != x1.Features)
            throw new ArgumentOutOfRangeException(nameof(x2), $"x2 has {b.Features} features, x1 has {x1.Features}; both must have the same number.");
        if (!Enum.IsDefined(outputs) || outputs == 0)
            throw new ArgumentOutOfRangeException(nameof(outputs), outputs, "Ask for Nngp, Ntk or Both.");
        bool ntk = outputs.HasFlag(NngpOutputs.Ntk);
        int n1 = x1.Rows, n2 = b.Rows;
        var schedule = NngpSchedule.Create(Architecture, x1.Features, Options.Rescale);
        int tile = ChooseTile(n1, n2);
        var dtype = Options.Precision == NngpPrecision.Float64 ? ScalarType.Float64 : ScalarType.Float32;

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var kOut = torch.empty([n1, n2], dtype, Device);
        var tOut = ntk ? torch.empty([n1, n2], dtype, Device) : null;
        var tiles = new List<(int I, int J)>();
        for (int i = 0; i < n1; i += tile)
        {
            for (int j = symmetric ? i : 0; j < n2; j += tile)
                tiles.Add((i, j));
        }
        if (Fused)
            ComputeFused(x1, b, symmetric, schedule, tile, tiles, kOut, tOut, cancellation);
        else
            ComputeTensor(x1, b, symmetric, schedule, tile, tiles, kOut, tOut, cancellation);

        int depth = Architecture.Depth;
        var cov1 = x1.LayerDiagTensor[depth].to(dtype).clone();
        var cov2 = symmetric ? null : b.LayerDiagTensor[depth].to(dtype).clone();
        var result = new NngpKernelResult(kOut.DetachFromDisposeScope(), tOut?.DetachFromDisposeScope(), cov1.DetachFromDisposeScope(),
            cov2?.DetachFromDisposeScope(), false, schedule.LogScale, tile);
        return result;
    }

    /// <summary>The diagonal only, K(x_i, x_i) and Θ(x_i, x_i), in O(n·(d + depth)).</summary>
    public NngpKernelResult ComputeDiagonal(Tensor x, NngpOutputs outputs = NngpOutputs.Both)
    {
        using var p = Prepare(x);
        return ComputeDiagonal(p, outputs);
    }

    /// <summary>The diagonal of prepared inputs.</summary>
    public NngpKernelResult ComputeDiagonal(NngpPreparedInput x, NngpOutputs outputs = NngpOutputs.Both)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(x);
        CheckOwner(x, nameof(x));
        if (!Enum.IsDefined(outputs) || outputs == 0)
            throw new ArgumentOutOfRangeException(nameof(outputs), outputs, "Ask for Nngp, Ntk or Both.");
        var dtype = Options.Precision == NngpPrecision.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var schedule = NngpSchedule.Create(Architecture, x.Features, Options.Rescale);
        using var scope = torch.NewDisposeScope();
        var k = x.LayerDiagTensor[Architecture.Depth].to(dtype).clone();
        var t = outputs.HasFlag(NngpOutputs.Ntk) ? x.NtkDiagTensor.to(dtype).clone() : null;
        var cov = k.clone();
        return new NngpKernelResult(k.DetachFromDisposeScope(), t?.DetachFromDisposeScope(), cov.DetachFromDisposeScope(), null, true, schedule.LogScale, 0);
    }

    private unsafe void ComputeFused(NngpPreparedInput a, NngpPreparedInput b, bool symmetric, NngpSchedule schedule, int tile,
        List<(int I, int J)> tiles, Tensor kOut, Tensor? tOut, CancellationToken cancellation)
    {
        int n1 = a.Rows, n2 = b.Rows, dp = a.PaddedWidth, depth = Architecture.Depth;
        bool f32 = kOut.dtype == ScalarType.Float32;
        nint kBase = BasePointer(kOut), tBase = tOut is null ? 0 : BasePointer(tOut);
        var pa = a.Padded!;
        var pb = b.Padded!;
        var arch = Architecture;
        var po = new ParallelOptions { CancellationToken = cancellation, MaxDegreeOfParallelism = Math.Max(1, torch.get_num_threads()) };
        Parallel.For(0, tiles.Count, po,
            () => (Gram: ArrayPool<double>.Shared.Rent(tile * tile), K: ArrayPool<double>.Shared.Rent(tile * tile),
                T: tOut is null ? Array.Empty<double>() : ArrayPool<double>.Shared.Rent(tile * tile), Q: new double[depth]),
            (index, state, buf) =>
            {
                var (i0, j0) = tiles[index];
                int i1 = Math.Min(n1, i0 + tile), j1 = Math.Min(n2, j0 + tile);
                int rows = i1 - i0, cols = j1 - j0;
                NngpGram.Tile(pa, pb, dp, i0, i1, j0, j1, buf.Gram, tile);
                for (int r = 0; r < rows; r++)
                {
                    for (int l = 0; l < depth; l++)
                        buf.Q[l] = a.LayerDiag[l * n1 + i0 + r];
                    NngpClosedForm.Row(arch, schedule, buf.Gram.AsSpan(r * tile, cols), cols, buf.Q, b.LayerDiag, n2, j0,
                        buf.K.AsSpan(r * tile, cols), tOut is null ? Span<double>.Empty : buf.T.AsSpan(r * tile, cols));
                }
                bool mirror = symmetric && i0 != j0;
                Write(kBase, f32, n2, i0, rows, j0, cols, buf.K, tile, mirror);
                if (tOut is not null)
                    Write(tBase, f32, n2, i0, rows, j0, cols, buf.T, tile, mirror);
                return buf;
            },
            buf =>
            {
                ArrayPool<double>.Shared.Return(buf.Gram);
                ArrayPool<double>.Shared.Return(buf.K);
                if (buf.T.Length > 0)
                    ArrayPool<double>.Shared.Return(buf.T);
            });
        GC.KeepAlive(kOut);
        GC.KeepAlive(tOut);
    }

    private static unsafe void Write(nint baseAddr, bool f32, int ld, int i0, int rows, int j0, int cols, double[] src, int lds, bool mirror)
    {
        if (f32)
        {
            float* o = (float*)baseAddr;
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < cols; c++)
                {
                    float v = (float)src[r * lds + c];
                    o[(long)(i0 + r) * ld + j0 + c] = v;
                    if (mirror)
                        o[(long)(j0 + c) * ld + i0 + r] = v;
                }
            }
            return;
        }
        double* p = (double*)baseAddr;
        for (int r = 0; r < rows; r++)
        {
            src.AsSpan(r * lds, cols).CopyTo(new Span<double>(p + (long)(i0 + r) * ld + j0, cols));
            if (mirror)
            {
                for (int c = 0; c < cols; c++)
                    p[(long)(j0 + c) * ld + i0 + r] = src[r * lds + c];
            }
        }
    }

    private void ComputeTensor(NngpPreparedInput a, NngpPreparedInput b, bool symmetric, NngpSchedule schedule, int tile,
        List<(int I, int J)> tiles, Tensor kOut, Tensor? tOut, CancellationToken cancellation)
    {
        int n1 = a.Rows, n2 = b.Rows, dp = a.PaddedWidth, depth = Architecture.Depth;
        bool ntk = tOut is not null;
        double[]? gramBuf = IsCpu ? new double[tile * tile] : null;
        foreach (var (i0, j0) in tiles)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            int i1 = Math.Min(n1, i0 + tile), j1 = Math.Min(n2, j0 + tile);
            int rows = i1 - i0, cols = j1 - j0;
            Tensor gram;
            if (IsCpu)
            {
                NngpGram.Tile(a.Padded!, b.Padded!, dp, i0, i1, j0, j1, gramBuf, cols);
                gram = torch.tensor(gramBuf!.AsSpan(0, rows * cols).ToArray(), [rows, cols], ScalarType.Float64);
            }
            else
            {
                gram = torch.mm(a.X![i0..i1], b.X![j0..j1].T);
            }
            var k = gram * schedule.W0 + schedule.B0;
            var t = k;
            for (int l = 0; l < depth; l++)
            {
                var q1 = a.LayerDiagTensor[l, i0..i1].unsqueeze(1);
                var q2 = b.LayerDiagTensor[l, j0..j1].unsqueeze(0);
                var (g, dot) = MapTile(schedule, k, q1, q2, ntk);
                var kNew = g * schedule.A[l] + schedule.B[l];
                if (ntk)
                    t = kNew + t * dot! * schedule.A[l];
                k = kNew;
            }
            kOut[i0..i1, j0..j1].copy_(k);
            if (symmetric && i0 != j0)
                kOut[j0..j1, i0..i1].copy_(k.T);
            if (ntk)
            {
                tOut![i0..i1, j0..j1].copy_(t);
                if (symmetric && i0 != j0)
                    tOut[j0..j1, i0..i1].copy_(t.T);
            }
        }
        if (symmetric)
        {
            // The diagonal entries of K(X, X) are the diagonal recursion's values (a numerical map evaluated at c = 1
            // can differ slightly from its one-dimensional diagonal).
            kOut.diagonal().copy_(a.LayerDiagTensor[depth].to(kOut.dtype));
            tOut?.diagonal().copy_(a.NtkDiagTensor.to(tOut.dtype));
        }
    }

    private (Tensor G, Tensor? Dot) MapTile(NngpSchedule s, Tensor k, Tensor q1, Tensor q2, bool needDot) => Integration switch
    {
        NngpIntegration.ClosedForm => NngpClosedForm.Map(Architecture, s, k, q1, q2, needDot),
        NngpIntegration.LookupGrid => _grid!.Map(k, q1, q2, needDot),
        _ => _hermite!.Map(k, q1, q2, needDot),
    };

    private (Tensor G, Tensor Dot) MapDiagonal(NngpSchedule s, Tensor q)
    {
        switch (Integration)
        {
            case NngpIntegration.ClosedForm:
                var (g, d) = NngpClosedForm.Map(Architecture, s, q, q, q, true);
                return (g, d!);
            case NngpIntegration.LookupGrid:
                if (q.max().item<double>() > _grid!.MaxVariance)
                {
                    throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                        $"A pre-activation variance of {q.max().item<double>():G6} exceeds the lookup grid's largest variance {_grid.MaxVariance}; raise GridMaxVariance or normalise the inputs."));
                }
                return _grid.Diagonal(q);
            default:
                return _hermite!.Diagonal(q);
        }
    }

    /// <summary>Tile size: the option, or from the memory budget and the path's working set per entry.</summary>
    internal int ChooseTile(int n1, int n2)
    {
        int max = Math.Max(n1, n2);
        if (Options.TileSize > 0)
            return Math.Min(Options.TileSize, max);
        long budget = Options.MemoryBudgetBytes ?? (IsCpu
            ? Math.Min(NngpKernelOptions.Defaults.MaxCpuTileBudget, AvailableMemoryBytes() / 8)
            : NngpKernelOptions.Defaults.CudaMemoryBudget);
        // float64 values alive per tile entry: fused = gram + K + Θ buffers; tensor paths keep more temporaries.
        double perEntry = Fused ? 3 : Integration switch
        {
            NngpIntegration.ClosedForm => 16,
            NngpIntegration.LookupGrid => 24,
            _ => 3.0 * Options.GaussHermiteDegree + 16,
        };
        int t = (int)Math.Sqrt(budget / (8.0 * perEntry));
        int cap = Fused ? 512 : 4096;   // fused CPU tiles beyond 512 gain nothing and lose cache locality
        t = Math.Clamp(t, 16, cap) / 4 * 4;
        return Math.Max(1, Math.Min(t, max));
    }

    // Tile sizes are chosen per Compute call (every prediction batch and PredictionEngine row): read /proc/meminfo
    // at most every 2 s, not per call.
    private static readonly ExpiringValue<long> s_availableMemory = new(ReadAvailableMemoryBytes, TimeSpan.FromSeconds(2));

    /// <summary>Memory the OS reports as available (MemAvailable), or the GC's view of it; cached for 2 s.</summary>
    internal static long AvailableMemoryBytes() => s_availableMemory.Get();

    private static long ReadAvailableMemoryBytes()
    {
        try
        {
            if (File.Exists("/proc/meminfo"))
            {
                foreach (var line in File.ReadLines("/proc/meminfo"))
                {
                    if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    {
                        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                        return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
                    }
                }
            }
        }
        catch (IOException)
        {
        }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    private static unsafe nint BasePointer(Tensor t)
    {
        if (t.numel() == 0)
            return 0;
        using var first = t.view(-1).narrow(0, 0, 1);
        return (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(first.bytes));
    }

    private static void CopyPadded(Tensor x, double[] padded, int n, int d, int dp)
    {
        int chunk = Math.Max(1, (1 << 24) / d);
        for (int r0 = 0; r0 < n; r0 += chunk)
        {
            int r1 = Math.Min(n, r0 + chunk);
            using var part = x.narrow(0, r0, r1 - r0).contiguous();
            var src = MemoryMarshal.Cast<byte, double>(part.bytes);
            for (int r = r0; r < r1; r++)
            {
                var row = padded.AsSpan(r * dp, dp);
                src.Slice((r - r0) * d, d).CopyTo(row);
                row.Slice(d).Clear();
            }
        }
    }

    private static void CheckFinite(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var bad = torch.isfinite(x).logical_not();
        if (!bad.any().item<bool>())
            return;
        var at = bad.nonzero()[0];
        long r = at[0].item<long>(), c = at[1].item<long>();
        double v = x[r, c].item<double>();
        throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
            $"Input row {r}, feature {c} is {v}: NNGP kernel inputs must be finite."));
    }

    private void CheckDiagonal(double[] layerDiag, double[] ntkDiag, int n, int depth)
    {
        for (int l = 0; l <= depth; l++)
        {
            for (int i = 0; i < n; i++)
            {
                double v = layerDiag[l * n + i];
                if (!double.IsFinite(v))
                {
                    throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                        $"The kernel variance of row {i} is {v} at layer {l} of {Architecture}: the recursion overflowed. Use Rescale (ReLU-like φ), a smaller σ_w² or fewer layers."));
                }
                if (_grid is not null && l < depth && v > _grid.MaxVariance)
                {
                    throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                        $"The pre-activation variance of row {i} reaches {v:G6} at layer {l}, above the lookup grid's largest variance {_grid.MaxVariance}; raise GridMaxVariance or normalise the inputs."));
                }
            }
        }
        foreach (var v in ntkDiag)
        {
            if (!double.IsFinite(v))
                throw new InvalidOperationException($"The NTK diagonal overflowed for {Architecture}. Use Rescale (ReLU-like φ), a smaller σ_w² or fewer layers.");
        }
    }

    private void CheckOwner(NngpPreparedInput p, string name)
    {
        if (!ReferenceEquals(p.Owner, this))
            throw new ArgumentOutOfRangeException(name, "The prepared input belongs to another NngpKernel; prepare it with this kernel.");
    }

    /// <summary>Releases the lookup table.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _grid?.Dispose();
    }
}
