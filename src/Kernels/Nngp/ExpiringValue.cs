using System.Diagnostics;

namespace Components.Kernels.Nngp;

/// <summary>
/// A value read from a slow source (a file such as <c>/proc/meminfo</c>) at most once per <c>maxAge</c>; thread-safe.
/// </summary>
internal sealed class ExpiringValue<T>
{
    private readonly Func<T> _read;
    private readonly long _maxAgeTicks;
    private readonly Func<long> _clock;
    private readonly object _gate = new();
    private T _value = default!;
    private long _readAt;
    private bool _has;

    /// <param name="read">The source.</param>
    /// <param name="maxAge">How long a read value is reused.</param>
    /// <param name="clock">Monotonic clock in <see cref="Stopwatch"/> ticks (tests pass their own).</param>
    public ExpiringValue(Func<T> read, TimeSpan maxAge, Func<long>? clock = null)
    {
        _read = read;
        _clock = clock ?? Stopwatch.GetTimestamp;
        _maxAgeTicks = (long)(maxAge.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>The cached value, re-read when older than the maximum age.</summary>
    public T Get()
    {
        long now = _clock();
        lock (_gate)
        {
            if (!_has || now - _readAt >= _maxAgeTicks)
            {
                _value = _read();
                _readAt = now;
                _has = true;
            }
            return _value;
        }
    }
}
