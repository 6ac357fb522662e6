using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>
/// Streaming SVCCA: accumulates the means and centred co-moment matrices of A [·, p] and B [·, q] batch by batch
/// (Chan et al.'s pairwise update, in float64), so memory is O((p + q)²) whatever the number of datapoints.
/// <see cref="Compute"/> then runs the SVD step and CCA on the covariances; it equals the batch computation.
/// </summary>
/// <remarks>Rows are datapoints and columns neurons. Not thread-safe.</remarks>
public sealed class SvccaAccumulator : IDisposable
{
    private readonly Device _device;
    private long _n;
    private Tensor? _meanA;
    private Tensor? _meanB;
    private Tensor? _maa;
    private Tensor? _mab;
    private Tensor? _mbb;
    private bool _disposed;

    /// <summary>Creates an empty accumulator.</summary>
    /// <param name="neuronsA">Columns of A.</param>
    /// <param name="neuronsB">Columns of B.</param>
    /// <param name="device">Where the float64 statistics live; null = CPU.</param>
    public SvccaAccumulator(int neuronsA, int neuronsB, Device? device = null)
    {
        if (neuronsA <= 0)
            throw new ArgumentOutOfRangeException(nameof(neuronsA), neuronsA, "Must be positive.");
        if (neuronsB <= 0)
            throw new ArgumentOutOfRangeException(nameof(neuronsB), neuronsB, "Must be positive.");
        NeuronsA = neuronsA;
        NeuronsB = neuronsB;
        _device = device ?? torch.CPU;
    }

    /// <summary>Columns of A.</summary>
    public int NeuronsA { get; }

    /// <summary>Columns of B.</summary>
    public int NeuronsB { get; }

    /// <summary>Name of side A in error messages (e.g. its column).</summary>
    internal string NameA { get; init; } = "A";

    /// <summary>Name of side B in error messages.</summary>
    internal string NameB { get; init; } = "B";

    /// <summary>Datapoints accumulated so far.</summary>
    public long Count => _n;

    /// <summary>Adds a batch of datapoints: rows of <paramref name="a"/> [n, NeuronsA] and <paramref name="b"/> [n, NeuronsB].</summary>
    /// <exception cref="ArgumentException">Wrong shapes or different row counts.</exception>
    /// <exception cref="InvalidOperationException">A NaN or infinite activation (the row is named).</exception>
    public void Add(Tensor a, Tensor b)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (ra, ca) = InputChecks.Matrix(a, nameof(a));
        var (rb, cb) = InputChecks.Matrix(b, nameof(b));
        if (ca != NeuronsA)
            throw new ArgumentException($"'a' has {ca} neurons (columns); this accumulator expects {NeuronsA}.", nameof(a));
        if (cb != NeuronsB)
            throw new ArgumentException($"'b' has {cb} neurons (columns); this accumulator expects {NeuronsB}.", nameof(b));
        if (ra != rb)
            throw new ArgumentException($"'a' has {ra} datapoints (rows) but 'b' has {rb}.", nameof(b));

        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var x = a.to(_device).to(ScalarType.Float64);
        var y = b.to(_device).to(ScalarType.Float64);
        var mx = x.mean([0]);
        var my = y.mean([0]);
        // A NaN or infinity anywhere makes the column mean non-finite: only then search for the row.
        InputChecks.FiniteGivenMean(x, mx, "a", _n);
        InputChecks.FiniteGivenMean(y, my, "b", _n);
        // Centre in place when the float64 copy is ours (never the caller's tensor).
        var xc = Owned(a, x) ? x.sub_(mx) : x - mx;
        var yc = Owned(b, y) ? y.sub_(my) : y - my;
        var maa = torch.matmul(xc.mT, xc);
        var mab = torch.matmul(xc.mT, yc);
        var mbb = torch.matmul(yc.mT, yc);
        if (_n == 0)
        {
            _meanA = mx.DetachFromDisposeScope();
            _meanB = my.DetachFromDisposeScope();
            _maa = maa.DetachFromDisposeScope();
            _mab = mab.DetachFromDisposeScope();
            _mbb = mbb.DetachFromDisposeScope();
            _n = ra;
            return;
        }
        long n = _n + ra;
        double f = (double)_n * ra / n;
        var da = mx - _meanA!;
        var db = my - _meanB!;
        _maa!.add_(maa).add_(torch.outer(da, da).mul_(f));
        _mab!.add_(mab).add_(torch.outer(da, db).mul_(f));
        _mbb!.add_(mbb).add_(torch.outer(db, db).mul_(f));
        _meanA!.add_(da.mul((double)ra / n));
        _meanB!.add_(db.mul((double)ra / n));
        _n = n;
    }

    private bool Owned(Tensor input, Tensor converted)
        => input.dtype != ScalarType.Float64 || input.device_type != _device.type || input.device_index != _device.index;

    /// <summary>Adds <paramref name="rows"/> datapoints given as row-major spans.</summary>
    public void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int rows)
    {
        if (rows <= 0)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, "Must be positive.");
        using var ta = TensorData.FromSpan(a, [rows, NeuronsA]);
        using var tb = TensorData.FromSpan(b, [rows, NeuronsB]);
        Add(ta, tb);
    }

    /// <summary>Runs the SVD step and CCA on the accumulated covariances.</summary>
    /// <exception cref="InvalidOperationException">No or too few datapoints, or a side with no variance.</exception>
    public SvccaResult Compute(SvccaSettings? settings = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        settings ??= SvccaSettings.Default;
        settings.Validate();
        if (_n == 0)
            throw new InvalidOperationException("No datapoints were added.");
        InputChecks.EnoughDatapoints(_n, NeuronsA, NameA, arg: false);
        InputChecks.EnoughDatapoints(_n, NeuronsB, NameB, arg: false);

        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        double d = _n - 1;
        var caa = _maa! / d;
        var cab = _mab! / d;
        var cbb = _mbb! / d;
        using var sa = SvdStep.Reduce(caa, _meanA!, settings, NameA);
        using var sb = SvdStep.Reduce(cbb, _meanB!, settings, NameB);
        var cross = torch.matmul(torch.matmul(sa.Basis.mT, cab), sb.Basis);
        var (rho, coefA, coefB) = CcaCore.Correlate(sa, sb, cross, settings.Epsilon);
        var wa = torch.matmul(sa.Basis, coefA);
        var wb = torch.matmul(sb.Basis, coefB);
        var side = sa.Kept <= sb.Kept ? SvccaSide.A : SvccaSide.B;
        var weights = side == SvccaSide.A ? CcaCore.PwccaWeights(wa, caa) : CcaCore.PwccaWeights(wb, cbb);
        double cka = LinearCkaOf(caa, cab, cbb);
        return new SvccaResult(rho, settings.Threshold, _n, NeuronsA, NeuronsB, sa.Kept, sb.Kept, sa.VarianceKept, sb.VarianceKept,
            TensorData.ToDoubleArray(_meanA!), TensorData.ToDoubleArray(_meanB!), ToMatrix(wa), ToMatrix(wb), weights, side, cka);
    }

    /// <summary>Linear CKA from the accumulated covariances: ‖Σab‖²_F / (‖Σaa‖_F ‖Σbb‖_F).</summary>
    public double LinearCka()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_n < 2)
            throw new InvalidOperationException("Linear CKA needs at least two datapoints.");
        return LinearCkaOf(_maa!, _mab!, _mbb!);
    }

    internal static double LinearCkaOf(Tensor caa, Tensor cab, Tensor cbb)
    {
        using var scope = torch.NewDisposeScope();
        double num = cab.square().sum().item<double>();
        double den = Math.Sqrt(caa.square().sum().item<double>()) * Math.Sqrt(cbb.square().sum().item<double>());
        if (!(den > 0))
            throw new InvalidOperationException("Linear CKA is undefined: a representation has no variance (every neuron is constant).");
        return num / den;
    }

    internal static double[,] ToMatrix(Tensor t)
    {
        var flat = TensorData.ToDoubleArray(t);
        var m = new double[t.shape[0], t.shape[1]];
        Buffer.BlockCopy(flat, 0, m, 0, flat.Length * sizeof(double));
        return m;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _meanA?.Dispose();
        _meanB?.Dispose();
        _maa?.Dispose();
        _mab?.Dispose();
        _mbb?.Dispose();
    }
}
