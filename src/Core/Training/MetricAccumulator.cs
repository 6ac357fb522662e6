using static TorchSharp.torch;

namespace Components.Core.Training;

/// <summary>
/// Weighted sums of named metrics. Tensor values are summed on their device in float64 without a host round trip;
/// the sums are detached from every dispose scope and freed by <see cref="Dispose"/>. Call it inside a dispose scope.
/// </summary>
internal sealed class MetricAccumulator : IDisposable
{
    private readonly List<string> _names = [];
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Fixes the position of <paramref name="name"/> in the output order without giving it a value.</summary>
    public void Reserve(string name) => Get(name);

    public void Add(string name, Tensor value, double weight)
    {
        CheckScalar(name, value);
        var e = Get(name);
        // Temporaries go to the caller's (the step's) dispose scope; detached values build no graph.
        var v = value.detach().to(ScalarType.Float64) * weight;
        if (e.Sum is null)
            e.Sum = v.reshape(1).DetachFromDisposeScope();
        else
            e.Sum.add_(v);
        e.Weight += weight;
    }

    public void Add(string name, double value, double weight)
    {
        var e = Get(name);
        e.Scalar += value * weight;
        e.Weight += weight;
    }

    /// <summary>The weighted mean of every metric that received a value, in order.</summary>
    public TrainingMetrics Means()
    {
        var metrics = new TrainingMetrics();
        foreach (var name in _names)
        {
            var e = _entries[name];
            if (e.Weight > 0)
                metrics.Set(name, ((e.Sum?.item<double>() ?? 0) + e.Scalar) / e.Weight);
        }
        return metrics;
    }

    public void Dispose()
    {
        foreach (var e in _entries.Values)
            e.Sum?.Dispose();
        _entries.Clear();
        _names.Clear();
    }

    internal static void CheckScalar(string name, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value, name);
        if (value.numel() != 1)
            throw new ArgumentException($"Metric '{name}' must be a single value, got a tensor of shape [{string.Join(", ", value.shape)}].", nameof(value));
    }

    private Entry Get(string name)
    {
        if (!_entries.TryGetValue(name, out var e))
        {
            e = new Entry();
            _entries.Add(name, e);
            _names.Add(name);
        }
        return e;
    }

    private sealed class Entry
    {
        public Tensor? Sum;
        public double Scalar;
        public double Weight;
    }
}
