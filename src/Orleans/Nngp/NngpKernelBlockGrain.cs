using System.Globalization;
using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Orleans.Placement;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Orleans.Nngp;

/// <summary>
/// The silo side of <see cref="INngpKernelBlockGrain"/>: computes its row-block with <see cref="NngpKernel"/> on the
/// silo's CPU (float64, or float32 storage when <see cref="NngpBlockSpec.Float32Cache"/>), then answers products,
/// diagonal entries and rows from memory. Placed by activation count, so the blocks of a job spread evenly over the
/// silos. Nothing is persisted: a new activation starts empty.
/// </summary>
[ActivationCountBasedPlacement]
internal sealed class NngpKernelBlockGrain : Grain, INngpKernelBlockGrain, IDisposable
{
    private NngpBlockSpec? _spec;
    private float[]? _single;
    private double[]? _double;
    private bool[]? _received;
    private int _receivedRows;
    private Tensor? _block;
    private double[]? _diagonal;

    public Task Begin(NngpBlockSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        Reset();
        _spec = spec;
        long values = (long)spec.Rows * spec.Features;
        if (spec.Float64Features)
            _double = GC.AllocateUninitializedArray<double>((int)values);
        else
            _single = GC.AllocateUninitializedArray<float>((int)values);
        _received = new bool[spec.Rows];
        _receivedRows = 0;
        return Task.CompletedTask;
    }

    public Task<bool> AppendFeatures(Guid job, NngpFeatureChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (_spec is not { } spec || spec.Job != job || _received is null)
            return Task.FromResult(false);
        int d = spec.Features;
        if (chunk.FirstRow < 0 || chunk.RowCount <= 0 || (long)chunk.FirstRow + chunk.RowCount > spec.Rows)
        {
            throw new ArgumentException(Text($"The feature chunk of rows {chunk.FirstRow}..{(long)chunk.FirstRow + chunk.RowCount - 1} is outside the {spec.Rows} training rows of {spec}."), nameof(chunk));
        }
        long expected = (long)chunk.RowCount * d;
        if (spec.Float64Features)
        {
            if (chunk.Double is null || chunk.Double.LongLength != expected)
                throw new ArgumentException(Text($"The feature chunk at row {chunk.FirstRow} must carry {expected} float64 values ({chunk.RowCount} rows × {d}), got {chunk.Double?.LongLength.ToString(CultureInfo.InvariantCulture) ?? "none"}."), nameof(chunk));
            Array.Copy(chunk.Double, 0, _double!, (long)chunk.FirstRow * d, expected);
        }
        else
        {
            if (chunk.Single is null || chunk.Single.LongLength != expected)
                throw new ArgumentException(Text($"The feature chunk at row {chunk.FirstRow} must carry {expected} float32 values ({chunk.RowCount} rows × {d}), got {chunk.Single?.LongLength.ToString(CultureInfo.InvariantCulture) ?? "none"}."), nameof(chunk));
            Array.Copy(chunk.Single, 0, _single!, (long)chunk.FirstRow * d, expected);
        }
        for (int r = chunk.FirstRow, e = chunk.FirstRow + chunk.RowCount; r < e; r++)
        {
            if (!_received[r])
            {
                _received[r] = true;
                _receivedRows++;
            }
        }
        return Task.FromResult(true);
    }

    public Task<bool> Build(Guid job, CancellationToken cancellation = default)
    {
        if (_spec is not { } spec || spec.Job != job)
            return Task.FromResult(false);
        if (_block is not null)
            return Task.FromResult(true);
        if (_received is null || _receivedRows != spec.Rows)
        {
            int missing = Array.IndexOf(_received ?? [], false);
            throw new InvalidOperationException(Text($"The {spec} cannot be built: {spec.Rows - _receivedRows} of the {spec.Rows} training rows have not arrived (first missing: row {missing})."));
        }
        var architecture = spec.Architecture();
        var options = spec.KernelOptions();
        if (spec.Float32Cache)
            options.Precision = NngpPrecision.Float32;
        var outputs = spec.Ntk ? NngpOutputs.Both : NngpOutputs.Nngp;
        using (var scope = torch.NewDisposeScope())
        using (var noGrad = torch.no_grad())
        {
            var x = spec.Float64Features
                ? torch.from_array(_double!).reshape(spec.Rows, spec.Features)
                : torch.from_array(_single!).reshape(spec.Rows, spec.Features);
            using var kernel = new NngpKernel(architecture, options);
            using var all = kernel.Prepare(x, cancellation);
            using var mine = kernel.Prepare(x[TensorIndex.Slice(spec.FirstRow, spec.EndRow)], cancellation);
            using var result = kernel.Compute(mine, all, outputs, cancellation);
            var k = spec.Ntk ? result.Ntk! : result.Nngp;
            using var diagonal = kernel.ComputeDiagonal(mine, outputs);
            var dk = spec.Ntk ? diagonal.Ntk! : diagonal.Nngp;
            _diagonal = new double[spec.BlockRows];
            TensorData.CopyTo(dk.to(ScalarType.Float64), _diagonal);
            // As the dense K(X, X) and the local operator: the block's diagonal entries are the diagonal recursion's values.
            var block = k.contiguous();
            block[TensorIndex.Colon, TensorIndex.Slice(spec.FirstRow, spec.EndRow)].diagonal().copy_(dk.to(block.dtype));
            _block = block.DetachFromDisposeScope();
        }
        // The features were needed for the block only; a re-activated grain is sent them again.
        _single = null;
        _double = null;
        _received = null;
        return Task.FromResult(true);
    }

    public Task<NngpBlockReply> Multiply(Guid job, double[] vector, int columns, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(vector);
        if (!IsBuilt(job, out var spec))
            return Task.FromResult(NngpBlockReply.NotLoaded);
        if (columns <= 0 || vector.LongLength != (long)spec.Rows * columns)
        {
            throw new ArgumentException(Text($"The vector sent to {spec} must hold {spec.Rows} rows × {columns} columns = {(long)spec.Rows * Math.Max(columns, 0)} values, got {vector.LongLength}."), nameof(vector));
        }
        for (long i = 0; i < vector.LongLength; i++)
        {
            if (!double.IsFinite(vector[i]))
                throw new ArgumentException(Text($"The vector sent to {spec} holds {vector[i]} at row {i / columns}, column {i % columns}: the values must be finite."), nameof(vector));
        }
        cancellation.ThrowIfCancellationRequested();
        var output = new double[spec.BlockRows * columns];
        using (var scope = torch.NewDisposeScope())
        using (var noGrad = torch.no_grad())
        {
            var v = torch.from_array(vector).reshape(spec.Rows, columns);
            var product = _block!.dtype == ScalarType.Float64 ? _block.mm(v) : MultiplyFloat32(_block, v, cancellation);
            TensorData.CopyTo(product, output);
        }
        return Task.FromResult(new NngpBlockReply { Loaded = true, Values = output });
    }

    public Task<NngpBlockReply> Diagonal(Guid job)
    {
        if (!IsBuilt(job, out _))
            return Task.FromResult(NngpBlockReply.NotLoaded);
        return Task.FromResult(new NngpBlockReply { Loaded = true, Values = (double[])_diagonal!.Clone() });
    }

    public Task<NngpBlockReply> Rows(Guid job, int[] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (!IsBuilt(job, out var spec))
            return Task.FromResult(NngpBlockReply.NotLoaded);
        foreach (var r in rows)
        {
            if (r < spec.FirstRow || r >= spec.EndRow)
                throw new ArgumentException(Text($"Row {r} is not in {spec}."), nameof(rows));
        }
        var output = new double[(long)rows.Length * spec.Rows];
        if (rows.Length > 0)
        {
            using var scope = torch.NewDisposeScope();
            var local = torch.tensor(rows.Select(r => (long)(r - spec.FirstRow)).ToArray());
            TensorData.CopyTo(_block!.index_select(0, local).to(ScalarType.Float64), output);
        }
        return Task.FromResult(new NngpBlockReply { Loaded = true, Values = output });
    }

    public Task<string> Silo() => Task.FromResult(RuntimeIdentity);

    public Task Release(Guid job)
    {
        if (_spec is { } spec && spec.Job == job)
        {
            Reset();
            DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Reset();
        return Task.CompletedTask;
    }

    public void Dispose() => Reset();

    private bool IsBuilt(Guid job, out NngpBlockSpec spec)
    {
        spec = _spec!;
        return _spec is not null && _spec.Job == job && _block is not null;
    }

    // float32 storage: convert a few rows at a time so the float64 copy stays small; products accumulate in float64.
    private static Tensor MultiplyFloat32(Tensor block, Tensor v, CancellationToken cancellation)
    {
        const long RowsPerStep = 512;
        long rows = block.shape[0];
        var parts = new List<Tensor>();
        for (long r = 0; r < rows; r += RowsPerStep)
        {
            cancellation.ThrowIfCancellationRequested();
            parts.Add(block[TensorIndex.Slice(r, Math.Min(rows, r + RowsPerStep))].to(ScalarType.Float64).mm(v));
        }
        return torch.cat(parts, 0);
    }

    private void Reset()
    {
        _spec = null;
        _single = null;
        _double = null;
        _received = null;
        _receivedRows = 0;
        _block?.Dispose();
        _block = null;
        _diagonal = null;
    }

    private static string Text(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
