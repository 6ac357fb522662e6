using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>
/// Creates <see cref="NngpLocalKernelOperator"/>s: the training kernel computed on this machine, row block by row
/// block, optionally cached (upper-triangle blocks only, in float32 by default) within a memory budget.
/// </summary>
public sealed class NngpLocalKernelOperatorFactory : INngpKernelOperatorFactory
{
    /// <summary>Defaults of every option, in one place.</summary>
    internal static class Defaults
    {
        public const int BlockRows = 0;
        public const double CacheFractionOfAvailableMemory = 0.5;
        public const NngpPrecision CachePrecision = NngpPrecision.Float32;
        public const long AutoBlockBytes = 64L << 20;
        public const NngpPrecision ProductPrecision = NngpPrecision.Float64;
    }

    /// <summary>Rows per kernel block (each block is computed, and cached, as one unit); 0 (default) = about 64 MiB of float64 per block.</summary>
    public int BlockRows = Defaults.BlockRows;

    /// <summary>
    /// Bytes the cache of kernel blocks may hold; blocks beyond it are recomputed on every product. null (default) =
    /// half of the memory the OS reports available when the operator is created; 0 = no cache (every product
    /// recomputes the kernel: O(n²·d) per product, memory O(n·block)).
    /// </summary>
    public long? CacheBudgetBytes;

    /// <summary>
    /// Precision of cached blocks. Float32 (default) halves the memory (K is then perturbed by ~6e-8 relative, which
    /// a solve amplifies by at most the condition number of K + λI); Float64 caches the exact values.
    /// </summary>
    public NngpPrecision CachePrecision = Defaults.CachePrecision;

    /// <summary>
    /// Precision of each block's product K(B_b, ·)·v: Float64 (default) converts every block to float64 first; Float32
    /// multiplies the (float32-cached) block by v rounded to float32 and accumulates the blocks' partial products in
    /// float64, which halves the memory traffic of a product and skips the conversion (2.4× faster iterations at
    /// n = 10,000), but conjugate gradients then stall: their true residual stays near 1e-4 (measured 3e-5 to 1e-4 on
    /// Fashion-MNIST, test <c>Float64ProductsReachTheToleranceInTheTrueResidual…</c>) while the reported one falls
    /// below the tolerance. Use it only with a solver tolerance of 1e-4 or looser.
    /// </summary>
    public NngpPrecision ProductPrecision = Defaults.ProductPrecision;

    /// <inheritdoc/>
    public INngpKernelOperator Create(NngpArchitecture architecture, NngpKernelOptions kernelOptions, NngpOutputs kernel, Tensor trainingFeatures,
        CancellationToken cancellation = default)
        => new NngpLocalKernelOperator(architecture, kernelOptions, kernel, trainingFeatures, this, cancellation);
}

/// <summary>
/// The training kernel K(X, X) as an operator on one machine (<see cref="INngpKernelOperator"/>). Rows are split into
/// blocks B_b = [i_b, i_{b+1}); block b stores (or recomputes) only its upper part K(B_b, X[i_b..n)), so a cache of
/// the whole kernel costs n²/2 values (7.2 GB in float32 at n = 60,000) and a product computes each entry once:
/// (Kv)[B_b] += K(B_b, X[i_b..])·v[i_b..] and (Kv)[i_{b+1}..] += K(B_b, X[i_{b+1}..])ᵀ·v[B_b]. Entries come from
/// <see cref="NngpKernel"/> (deterministic on the CPU, so a recomputed block equals a cached float64 one bit for
/// bit), with the diagonal set to the diagonal recursion's values as the dense K(X, X) has it. Each block's work
/// runs in its own dispose scope.
/// </summary>
public sealed class NngpLocalKernelOperator : INngpKernelOperator
{
    private readonly NngpKernel _kernel;
    private readonly Tensor _features;
    private readonly NngpOutputs _kind;
    private readonly Tensor _diagonal;
    private readonly NngpPreparedInput _all;
    private readonly int _blockRows;
    private readonly Tensor?[] _cache;
    private readonly long _budget;
    private readonly ScalarType _cacheType;
    private readonly ScalarType _productType;
    private long _cached;
    private bool _disposed;

    internal NngpLocalKernelOperator(NngpArchitecture architecture, NngpKernelOptions kernelOptions, NngpOutputs kernel, Tensor features,
        NngpLocalKernelOperatorFactory settings, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(kernelOptions);
        ArgumentNullException.ThrowIfNull(features);
        NngpKernelOperatorArguments.CheckKernel(kernel);
        if (features.dim() != 2 || features.shape[0] == 0)
            throw new ArgumentOutOfRangeException(nameof(features), "Expected a non-empty [n, d] tensor of training features.");
        if (settings.BlockRows < 0)
            throw new ArgumentOutOfRangeException(nameof(settings.BlockRows), settings.BlockRows, "BlockRows must be 0 (automatic) or positive.");
        if (settings.CacheBudgetBytes is long b && b < 0)
            throw new ArgumentOutOfRangeException(nameof(settings.CacheBudgetBytes), b, "The cache budget must be non-negative.");
        if (!Enum.IsDefined(settings.CachePrecision))
            throw new ArgumentOutOfRangeException(nameof(settings.CachePrecision), settings.CachePrecision, "Unknown cache precision.");
        if (!Enum.IsDefined(settings.ProductPrecision))
            throw new ArgumentOutOfRangeException(nameof(settings.ProductPrecision), settings.ProductPrecision, "Unknown product precision.");
        _kernel = new NngpKernel(architecture, kernelOptions);
        _features = features;
        _kind = kernel;
        Count = checked((int)features.shape[0]);
        _blockRows = settings.BlockRows > 0
            ? Math.Min(settings.BlockRows, Count)
            : (int)Math.Clamp(NngpLocalKernelOperatorFactory.Defaults.AutoBlockBytes / (8L * Count), 16, Math.Max(16, Count));
        _blockRows = Math.Min(_blockRows, Count);
        _cache = new Tensor?[(Count + _blockRows - 1) / _blockRows];
        _budget = settings.CacheBudgetBytes
            ?? (long)(NngpKernel.AvailableMemoryBytes() * NngpLocalKernelOperatorFactory.Defaults.CacheFractionOfAvailableMemory);
        _cacheType = settings.CachePrecision == NngpPrecision.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        _productType = settings.ProductPrecision == NngpPrecision.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        _all = _kernel.Prepare(features, cancellation);
        var d = (kernel == NngpOutputs.Ntk ? _all.NtkDiagTensor : _all.LayerDiagTensor[architecture.Depth]).to(ScalarType.Float64).clone();
        _diagonal = d.DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <summary>Rows per block.</summary>
    public int BlockRows => _blockRows;

    /// <summary>Bytes of kernel blocks cached so far.</summary>
    public long CachedBytes => Interlocked.Read(ref _cached);

    /// <summary>Number of blocks in the cache.</summary>
    public int CachedBlocks => _cache.Count(c => c is not null);

    /// <summary>Number of blocks.</summary>
    public int Blocks => _cache.Length;

    /// <summary>The kernel computing the entries.</summary>
    internal NngpKernel Kernel => _kernel;

    /// <inheritdoc/>
    public Tensor Diagonal(CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _diagonal.to(_kernel.Device).clone();
    }

    /// <inheritdoc/>
    public Tensor Rows(ReadOnlySpan<long> indices, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var idx = NngpKernelOperatorArguments.CheckRows(indices, Count);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        if (idx.Length == 0)
            return torch.empty([0, Count], ScalarType.Float64, _kernel.Device).MoveToOuterDisposeScope();
        using var rows = _kernel.Prepare(_features.index_select(0, torch.tensor(idx)), cancellation);
        using var r = _kernel.Compute(rows, _all, _kind == NngpOutputs.Ntk ? NngpOutputs.Both : NngpOutputs.Nngp, cancellation);
        var k = (_kind == NngpOutputs.Ntk ? r.Ntk! : r.Nngp).to(ScalarType.Float64).clone();
        var at = torch.tensor(idx, device: k.device).unsqueeze(1);
        k.scatter_(1, at, _diagonal.to(k.device).index_select(0, at.squeeze(1)).unsqueeze(1));
        return k.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor Multiply(Tensor v, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(v);
        if (v.dim() != 2 || v.shape[0] != Count)
            throw new ArgumentOutOfRangeException(nameof(v), $"Expected a [{Count}, m] tensor, got [{string.Join(", ", v.shape)}].");
        using var outer = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var vd = v.to(ScalarType.Float64, _kernel.Device).contiguous();
        var vp = _productType == ScalarType.Float64 ? vd : vd.to(_productType);
        var result = torch.zeros(vd.shape, ScalarType.Float64, _kernel.Device);
        for (int b = 0; b < _cache.Length; b++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            int i0 = b * _blockRows, i1 = Math.Min(Count, i0 + _blockRows);
            var block = Block(b, i0, i1, cancellation);
            var kd = block.dtype == _productType ? block : block.to(_productType);
            result[i0..i1].add_(torch.mm(kd, vp[i0..]));      // a float32 partial product is accumulated in float64
            if (i1 < Count)
                result[i1..].add_(torch.mm(kd[.., (i1 - i0)..].T, vp[i0..i1]));
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Block b's upper part K(B_b, X[i0..n)), [i1 − i0, n − i0]: from the cache, or computed (and cached while the
    /// budget allows); float64 when computed, or the cache's precision when it is in the product's precision.
    /// </summary>
    private Tensor Block(int b, int i0, int i1, CancellationToken cancellation)
    {
        if (_cache[b] is { } cached)
            return cached.alias();
        using var rows = _kernel.Prepare(_features[i0..i1], cancellation);
        using var tail = _kernel.Prepare(_features[i0..], cancellation);
        using var r = _kernel.Compute(rows, tail, _kind == NngpOutputs.Ntk ? NngpOutputs.Both : NngpOutputs.Nngp, cancellation);
        var computed = _kind == NngpOutputs.Ntk ? r.Ntk! : r.Nngp;
        // One copy: r owns `computed`, so a float64 result is cloned, anything else converted.
        var k = computed.dtype == ScalarType.Float64 ? computed.clone() : computed.to(ScalarType.Float64);
        k.diagonal().copy_(_diagonal.to(k.device)[i0..i1]);
        long bytes = k.numel() * (_cacheType == ScalarType.Float64 ? 8 : 4);
        if (_cached + bytes > _budget)
            return k;
        // The float64 block itself is kept, or its one float32 conversion.
        var keep = _cacheType == ScalarType.Float64 ? k : k.to(_cacheType);
        _cache[b] = keep.DetachFromDisposeScope();
        _cached += bytes;
        return keep.dtype == _productType ? keep.alias() : k;
    }

    /// <summary>Releases the cache and the kernel.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        for (int b = 0; b < _cache.Length; b++)
        {
            _cache[b]?.Dispose();
            _cache[b] = null;
        }
        _diagonal.Dispose();
        _all.Dispose();
        _kernel.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"NngpLocalKernelOperator(n = {Count}, {Blocks} blocks of {BlockRows} rows, {CachedBlocks} cached, {CachedBytes / (1 << 20)} MiB)");
}
