using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Mapping;

/// <summary>
/// The values of one pass-through column for the rows of a window: captured from the source cursor while it stands
/// on each row, served later by slot. Vectors are deep-copied (a source may reuse its buffers from row to row);
/// other values (numbers, text, keys, ids) are copied by value.
/// </summary>
internal abstract class RowCache
{
    /// <summary>Copies the current row of the source into <paramref name="slot"/>.</summary>
    public abstract void Capture(int slot);

    /// <summary>A getter that reads the slot returned by <paramref name="slot"/>.</summary>
    public abstract Delegate Getter(Func<int> slot);

    /// <summary>The cache of <paramref name="column"/> of <paramref name="row"/> for <paramref name="capacity"/> rows.</summary>
    public static RowCache Create(DataViewRow row, DataViewSchema.Column column, int capacity)
    {
        var raw = column.Type.RawType;
        var type = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? typeof(VectorCache<>).MakeGenericType(raw.GetGenericArguments()[0])
            : typeof(ValueCache<>).MakeGenericType(raw);
        return (RowCache)Activator.CreateInstance(type, row, column, capacity)!;
    }

    /// <summary>The row ids of the window.</summary>
    public static ValueCache<DataViewRowId> Ids(DataViewRow row, int capacity) => new(row.GetIdGetter(), capacity);
}

internal sealed class ValueCache<T> : RowCache
{
    private readonly ValueGetter<T> _source;
    private readonly T[] _values;

    public ValueCache(DataViewRow row, DataViewSchema.Column column, int capacity)
        : this(row.GetGetter<T>(column), capacity)
    {
    }

    public ValueCache(ValueGetter<T> source, int capacity)
    {
        _source = source;
        _values = new T[capacity];
    }

    public override void Capture(int slot) => _source(ref _values[slot]);

    public override Delegate Getter(Func<int> slot) => Typed(slot);

    public ValueGetter<T> Typed(Func<int> slot) => (ref T dst) => dst = _values[slot()];
}

internal sealed class VectorCache<T> : RowCache
{
    private readonly ValueGetter<VBuffer<T>> _source;
    private readonly VBuffer<T>[] _values;
    private VBuffer<T> _scratch;

    public VectorCache(DataViewRow row, DataViewSchema.Column column, int capacity)
    {
        _source = row.GetGetter<VBuffer<T>>(column);
        _values = new VBuffer<T>[capacity];
    }

    public override void Capture(int slot)
    {
        _source(ref _scratch);
        _scratch.CopyTo(ref _values[slot]);
    }

    public override Delegate Getter(Func<int> slot)
    {
        ValueGetter<VBuffer<T>> getter = (ref VBuffer<T> dst) => _values[slot()].CopyTo(ref dst);
        return getter;
    }
}
