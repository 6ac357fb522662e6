using System.Collections;
using System.Globalization;

namespace Components.Core.Training;

/// <summary>
/// Named metrics of a step or an epoch, in the order they were first reported (the optimizers' losses first). An
/// epoch's training metrics are means over its steps, weighted by the batches' <see cref="IWeightedBatch.Weight"/>.
/// </summary>
public sealed class TrainingMetrics : IReadOnlyDictionary<string, double>
{
    private readonly List<string> _names = [];
    private readonly Dictionary<string, double> _values = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public double this[string key] => _values.TryGetValue(key, out double v)
        ? v
        : throw new KeyNotFoundException($"No metric '{key}'; the metrics are: {string.Join(", ", _names.Select(n => $"'{n}'"))}.");

    /// <inheritdoc/>
    public IEnumerable<string> Keys => _names;

    /// <inheritdoc/>
    public IEnumerable<double> Values => _names.Select(n => _values[n]);

    /// <inheritdoc/>
    public int Count => _names.Count;

    /// <inheritdoc/>
    public bool ContainsKey(string key) => _values.ContainsKey(key);

    /// <inheritdoc/>
    public bool TryGetValue(string key, out double value) => _values.TryGetValue(key, out value);

    /// <summary>The metric's value, or null when it was not reported.</summary>
    public double? Get(string key) => _values.TryGetValue(key, out double v) ? v : null;

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, double>> GetEnumerator()
        => _names.Select(n => new KeyValuePair<string, double>(n, _values[n])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>"name value, name value" with four decimals (the format of the engine's log lines).</summary>
    public override string ToString()
        => string.Join(", ", _names.Select(n => string.Create(CultureInfo.InvariantCulture, $"{n} {_values[n]:F4}")));

    internal void Set(string name, double value)
    {
        if (!_values.ContainsKey(name))
            _names.Add(name);
        _values[name] = value;
    }
}
