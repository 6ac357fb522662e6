using System.Globalization;
using Components.Kernels.Nngp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Orleans.Nngp;

/// <summary>
/// The training kernel K(X, X) as an <see cref="INngpKernelOperator"/> whose row-blocks K[r0:r1, :] live in
/// <see cref="INngpKernelBlockGrain"/>s on an Orleans cluster; the solver (conjugate gradients) runs here, in the
/// client. A product sends every block the whole vector block V [n, m] and gathers the blocks' partial products
/// K[r0:r1, :]·V; the diagonal and requested rows are gathered the same way. Created by
/// <see cref="OrleansNngpKernelOperatorFactory"/>, which also documents the timeouts and retries.
/// </summary>
/// <remarks>
/// Each grain computes its block with <see cref="NngpKernel"/> from the training features (sent by this operator) and
/// the hyperparameters, deterministically, with its diagonal set to the diagonal recursion's values as the
/// single-process <see cref="NngpLocalKernelOperator"/> does: the entries equal the local operator's bit for bit, and
/// products agree with it to rounding (the local operator sums each product in another order). When a silo is lost,
/// the grains it hosted come back empty on another silo; the next request finds them empty, sends the features
/// again and waits for the block to be recomputed, so a solve goes on with the same values. Per product the client
/// sends blocks × n × m × 8 bytes of payload and receives n × m × 8 (<see cref="PayloadBytesSent"/>).
/// Call it from one thread at a time (as the interface says); disposing it releases the grains.
/// </remarks>
public sealed class OrleansNngpKernelOperator : INngpKernelOperator
{
    private readonly Tensor _features;
    private readonly Device _device;
    private readonly Guid _job;
    private readonly NngpBlockSpec[] _specs;
    private readonly INngpKernelBlockGrain[] _grains;
    private readonly TimeSpan _callTimeout, _buildTimeout, _retryDelay;
    private readonly int _maxAttempts, _chunkRows;
    private readonly long _messageBytes;
    private long _reloads, _retries, _sent, _received;
    private bool _disposed;

    private OrleansNngpKernelOperator(OrleansNngpKernelOperatorFactory settings, NngpArchitecture architecture, NngpKernelOptions kernelOptions,
        NngpOutputs kernel, Tensor features, int blocks)
    {
        _features = features;
        _device = kernelOptions.Device ?? torch.CPU;
        _job = Guid.NewGuid();
        _callTimeout = settings.CallTimeout;
        _buildTimeout = settings.BuildTimeout;
        _retryDelay = settings.RetryDelay;
        _maxAttempts = settings.MaxAttempts;
        Count = (int)features.shape[0];
        int d = (int)features.shape[1];
        bool f64 = features.dtype == ScalarType.Float64;
        // Orleans closes a connection that carries a message body above MaxMessageBodySize (100 MB by default), and
        // its encoding adds to the raw bytes (90% of the limit was too much in the tests): products and rows are split
        // into messages of at most half the client's limit in raw bytes.
        int limit = settings.Client.ServiceProvider.GetService<IOptions<ClientMessagingOptions>>()?.Value.MaxMessageBodySize
            ?? 100 * 1024 * 1024;
        _messageBytes = limit / 2;
        _chunkRows = (int)Math.Max(1, Math.Min(settings.FeatureChunkBytes, _messageBytes) / ((long)d * (f64 ? 8 : 4)));
        if (8L * Count > _messageBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(features), string.Create(CultureInfo.InvariantCulture,
                $"One kernel column of {Count} rows ({8L * Count} bytes) does not fit in an Orleans message of at most {limit} bytes; raise MessagingOptions.MaxMessageBodySize on the client and the silos."));
        }
        _specs = new NngpBlockSpec[blocks];
        _grains = new INngpKernelBlockGrain[blocks];
        for (int b = 0; b < blocks; b++)
        {
            int r0 = (int)((long)b * Count / blocks), r1 = (int)((long)(b + 1) * Count / blocks);
            _specs[b] = NngpBlockSpec.Create(_job, b, r0, r1, Count, d, f64, architecture, kernelOptions, kernel == NngpOutputs.Ntk, settings.Float32Cache);
            _grains[b] = settings.Client.GetGrain<INngpKernelBlockGrain>(string.Create(CultureInfo.InvariantCulture, $"{_job:N}/{b}"));
        }
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <summary>Number of row-blocks (grains).</summary>
    public int Blocks => _specs.Length;

    /// <summary>The job id in the grains' keys (<c>"{job:N}/{block}"</c>).</summary>
    public Guid Job => _job;

    /// <summary>The rows [first, end) of each block.</summary>
    public IReadOnlyList<(int First, int End)> BlockRows => [.. _specs.Select(s => (s.FirstRow, s.EndRow))];

    /// <summary>Times a block was found empty (its silo was lost) and loaded again, since creation.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Requests tried again after a timeout or an unavailable silo, since creation.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Payload bytes sent to the grains (vectors, features, row indices; without Orleans' headers), since creation.</summary>
    public long PayloadBytesSent => Interlocked.Read(ref _sent);

    /// <summary>Payload bytes received from the grains (products, diagonal, rows), since creation.</summary>
    public long PayloadBytesReceived => Interlocked.Read(ref _received);

    internal static OrleansNngpKernelOperator Create(OrleansNngpKernelOperatorFactory settings, NngpArchitecture architecture, NngpKernelOptions kernelOptions,
        NngpOutputs kernel, Tensor features, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(kernelOptions);
        ArgumentNullException.ThrowIfNull(features);
        settings.Validate();
        NngpKernelOperatorArguments.CheckKernel(kernel);
        if (features.dim() != 2 || features.shape[0] == 0 || features.shape[1] == 0)
            throw new ArgumentOutOfRangeException(nameof(features), $"Expected a non-empty [n, d] tensor of training features, got [{string.Join(", ", features.shape)}].");
        if (features.dtype != ScalarType.Float32 && features.dtype != ScalarType.Float64)
            throw new ArgumentOutOfRangeException(nameof(features), features.dtype, "The training features must be float32 or float64.");
        if (features.shape[0] > int.MaxValue || features.shape[1] > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(features), "Too many rows or features.");
        if (architecture.Nonlinearity.Kind == NngpNonlinearityKind.Custom)
        {
            throw new ArgumentOutOfRangeException(nameof(architecture),
                $"The nonlinearity {architecture.Nonlinearity.Name} is a user function, which cannot be sent to Orleans silos; use ReLU, leaky ReLU, ABReLU, Abs, Erf or Tanh.");
        }
        // The kernel's own checks of the options, here rather than on every silo.
        using (new NngpKernel(architecture, kernelOptions))
        {
        }
        int n = (int)features.shape[0];
        int blocks = settings.Blocks;
        if (blocks == 0)
        {
            var hosts = RunSync(() => settings.Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(settings.CallTimeout, cancellation));
            blocks = OrleansNngpKernelOperatorFactory.Defaults.BlocksPerSilo * Math.Max(1, hosts.Count);
        }
        blocks = Math.Min(blocks, n);
        var op = new OrleansNngpKernelOperator(settings, architecture, kernelOptions, kernel, features.cpu(), blocks);
        try
        {
            RunSync(() => Task.WhenAll(Enumerable.Range(0, blocks).Select(b => op.Call(b, "loading", async (g, ct) =>
            {
                await op.Load(b, ct).ConfigureAwait(false);
                return string.Empty;
            }, cancellation, load: true))));
        }
        catch
        {
            op.Dispose();
            throw;
        }
        return op;
    }

    /// <inheritdoc/>
    public Tensor Diagonal(CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var parts = RunSync(() => Task.WhenAll(Enumerable.Range(0, Blocks).Select(b => Call(b, "its diagonal",
            async (g, ct) => Reply(await g.Diagonal(_job).ConfigureAwait(false), _specs[b].BlockRows), cancellation))));
        var all = new double[Count];
        for (int b = 0; b < Blocks; b++)
            parts[b].CopyTo(all, _specs[b].FirstRow);
        return torch.tensor(all, ScalarType.Float64).to(_device);
    }

    /// <inheritdoc/>
    public Tensor Rows(ReadOnlySpan<long> indices, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var idx = NngpKernelOperatorArguments.CheckRows(indices, Count);
        var output = new double[(long)idx.Length * Count];
        int perMessage = (int)Math.Max(1, _messageBytes / (8L * Count));
        var requests = idx.Select((row, position) => (Row: (int)row, Position: position)).GroupBy(p => BlockOf(p.Row))
            .SelectMany(g => g.Chunk(perMessage).Select(c => (Block: g.Key, Rows: c))).ToArray();
        RunSync(() => Task.WhenAll(requests.Select(request => Call(request.Block, "its rows", async (g, ct) =>
        {
            var rows = request.Rows.Select(p => p.Row).ToArray();
            Interlocked.Add(ref _sent, 4L * rows.Length);
            var values = Reply(await g.Rows(_job, rows).ConfigureAwait(false), (long)rows.Length * Count);
            if (values is not null)
            {
                int k = 0;
                foreach (var p in request.Rows)
                    Array.Copy(values, (long)k++ * Count, output, (long)p.Position * Count, Count);
            }
            return values;
        }, cancellation))));
        return torch.tensor(output, [idx.Length, Count], ScalarType.Float64).to(_device);
    }

    /// <inheritdoc/>
    public Tensor Multiply(Tensor v, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(v);
        if (v.dim() != 2 || v.shape[0] != Count || v.shape[1] == 0)
            throw new ArgumentOutOfRangeException(nameof(v), $"Expected a [{Count}, m] tensor with m ≥ 1, got [{string.Join(", ", v.shape)}].");
        if (!v.is_floating_point())
            throw new ArgumentOutOfRangeException(nameof(v), v.dtype, "Expected a floating-point tensor.");
        int m = checked((int)v.shape[1]);
        double[] values;
        using (var scope = torch.NewDisposeScope())
        {
            var vd = v.detach().to(ScalarType.Float64, torch.CPU).contiguous();
            if (!torch.isfinite(vd).all().item<bool>())
                throw new ArgumentOutOfRangeException(nameof(v), "The vector holds NaN or infinity.");
            values = vd.data<double>().ToArray();
        }
        var output = new double[(long)Count * m];
        // Columns per message: the vector sent and the block's product must both fit (the vector is the larger).
        int perMessage = (int)Math.Clamp(_messageBytes / (8L * Count), 1, m);
        var groups = Enumerable.Range(0, (m + perMessage - 1) / perMessage)
            .Select(k => (First: k * perMessage, Count: Math.Min(perMessage, m - k * perMessage)))
            .Select(c => (c.First, c.Count, Values: c.Count == m ? values : Columns(values, m, c.First, c.Count))).ToArray();
        RunSync(() => Task.WhenAll(Enumerable.Range(0, Blocks).Select(async b =>
        {
            foreach (var group in groups)
            {
                await Call(b, "a product", async (g, ct) =>
                {
                    Interlocked.Add(ref _sent, 8L * group.Values.LongLength);
                    var part = Reply(await g.Multiply(_job, group.Values, group.Count, ct).ConfigureAwait(false), (long)_specs[b].BlockRows * group.Count);
                    if (part is not null)
                    {
                        for (int r = 0; r < _specs[b].BlockRows; r++)
                            Array.Copy(part, (long)r * group.Count, output, ((long)_specs[b].FirstRow + r) * m + group.First, group.Count);
                    }
                    return part;
                }, cancellation).ConfigureAwait(false);
            }
        })));
        return torch.tensor(output, [Count, m], ScalarType.Float64).to(_device);
    }

    private static double[] Columns(double[] values, int m, int first, int count)
    {
        long rows = values.LongLength / m;
        var part = new double[rows * count];
        for (long r = 0; r < rows; r++)
            Array.Copy(values, r * m + first, part, r * count, count);
        return part;
    }

    /// <summary>The silo each block's grain runs on now (diagnostics; activates empty grains without loading them).</summary>
    public IReadOnlyList<string> BlockSilos(CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return RunSync(() => Task.WhenAll(_grains.Select(g => g.Silo().WaitAsync(_callTimeout, cancellation))));
    }

    /// <summary>Releases the grains (best effort, within the call timeout); the training features are not owned.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            RunSync(() => Task.WhenAll(_grains.Select(g => g.Release(_job))).WaitAsync(_callTimeout));
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // A grain that cannot be reached is collected by Orleans when idle; nothing else holds the block.
        }
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"OrleansNngpKernelOperator(n = {Count}, {Blocks} blocks, job {_job:N})");

    private int BlockOf(int row)
    {
        int lo = 0, hi = _specs.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_specs[mid].FirstRow <= row)
                lo = mid;
            else
                hi = mid - 1;
        }
        return lo;
    }

    private double[]? Reply(NngpBlockReply reply, long expected)
    {
        if (!reply.Loaded)
            return null;
        if (reply.Values.LongLength != expected)
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"The grain answered {reply.Values.LongLength} values, expected {expected}."));
        Interlocked.Add(ref _received, 8L * reply.Values.LongLength);
        return reply.Values;
    }

    /// <summary>Sends block b the features and has it compute its block.</summary>
    private async Task Load(int b, CancellationToken cancellation)
    {
        var spec = _specs[b];
        var grain = _grains[b];
        async Task Run()
        {
            await grain.Begin(spec).ConfigureAwait(false);
            for (int r0 = 0; r0 < Count; r0 += _chunkRows)
            {
                cancellation.ThrowIfCancellationRequested();
                var chunk = Chunk(r0, Math.Min(Count, r0 + _chunkRows));
                Interlocked.Add(ref _sent, chunk.Single is { } s ? 4L * s.LongLength : 8L * chunk.Double!.LongLength);
                if (!await grain.AppendFeatures(_job, chunk).ConfigureAwait(false))
                    throw new BlockLostException(spec);
            }
            if (!await grain.Build(_job, cancellation).ConfigureAwait(false))
                throw new BlockLostException(spec);
        }
        await Run().WaitAsync(_buildTimeout, cancellation).ConfigureAwait(false);
    }

    private NngpFeatureChunk Chunk(int r0, int r1)
    {
        using var scope = torch.NewDisposeScope();
        var rows = _features[r0..r1].contiguous();
        return rows.dtype == ScalarType.Float64
            ? new NngpFeatureChunk { FirstRow = r0, RowCount = r1 - r0, Double = rows.data<double>().ToArray() }
            : new NngpFeatureChunk { FirstRow = r0, RowCount = r1 - r0, Single = rows.data<float>().ToArray() };
    }

    /// <summary>
    /// One request to block b with the timeouts and retries of the factory: a null answer means the grain is empty
    /// (re-activated after its silo was lost), so the block is loaded again and the request repeated.
    /// </summary>
    private async Task<T> Call<T>(int b, string what, Func<INngpKernelBlockGrain, CancellationToken, Task<T?>> request,
        CancellationToken cancellation, bool load = false)
        where T : class
    {
        var spec = _specs[b];
        Exception? last = null;
        for (int attempt = 1; attempt <= _maxAttempts; attempt++)
        {
            cancellation.ThrowIfCancellationRequested();
            try
            {
                var timeout = load ? _buildTimeout : _callTimeout;
                var answer = await request(_grains[b], cancellation).WaitAsync(timeout, cancellation).ConfigureAwait(false);
                if (answer is null)
                {
                    if (!load)
                        Interlocked.Increment(ref _reloads);
                    await Load(b, cancellation).ConfigureAwait(false);
                    answer = await request(_grains[b], cancellation).WaitAsync(timeout, cancellation).ConfigureAwait(false)
                        ?? throw new BlockLostException(spec);
                }
                return answer;
            }
            catch (Exception e) when (IsTransient(e) && !cancellation.IsCancellationRequested)
            {
                last = e;
                if (attempt < _maxAttempts)
                {
                    Interlocked.Increment(ref _retries);
                    await Task.Delay(_retryDelay, cancellation).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                throw new NngpClusterException($"The kernel {spec} failed on the Orleans cluster while computing {what}: {e.GetType().Name}: {e.Message}", b, e);
            }
        }
        throw new NngpClusterException(string.Create(CultureInfo.InvariantCulture,
            $"The kernel {spec} did not answer {what} in {_maxAttempts} attempt(s) (timeouts: {_callTimeout} per request, {_buildTimeout} per load): {last?.GetType().Name}: {last?.Message}"), b, last);
    }

    private static bool IsTransient(Exception e) => e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException
        or ConnectionFailedException or BlockLostException;

    private static T RunSync<T>(Func<Task<T>> work) => Task.Run(work).GetAwaiter().GetResult();

    private static void RunSync(Func<Task> work) => Task.Run(work).GetAwaiter().GetResult();

    /// <summary>The grain lost its job between two requests of one load (it was re-activated): load again.</summary>
    private sealed class BlockLostException(NngpBlockSpec spec) : Exception($"The grain of {spec} came back empty.");
}
