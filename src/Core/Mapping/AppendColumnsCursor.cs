using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Mapping;

/// <summary>Getters of the appended columns, served from a <see cref="BatchFiller"/>.</summary>
internal static class AppendedGetters
{
    public static Delegate Create(AppendColumnsTransformer parent, int outputIndex, BatchFiller fill, Func<long> position)
    {
        var col = parent.OutputColumns[outputIndex];
        switch (col.Kind)
        {
            case OutputKind.Vector:
                ValueGetter<VBuffer<float>> vec = (ref VBuffer<float> dst) =>
                {
                    int r = fill.Ensure(position());
                    var editor = VBufferEditor.Create(ref dst, col.Width);
                    fill.Batch.OutputRow(outputIndex, r).CopyTo(editor.Values);
                    dst = editor.Commit();
                };
                return vec;
            case OutputKind.Single:
                ValueGetter<float> single = (ref float dst) => dst = fill.Batch.OutputRow(outputIndex, fill.Ensure(position()))[0];
                return single;
            default:
                ValueGetter<uint> key = (ref uint dst) =>
                {
                    float v = fill.Batch.OutputRow(outputIndex, fill.Ensure(position()))[0];
                    dst = v >= 1 && v <= col.Width ? (uint)v : 0;
                };
                return key;
        }
    }

    public static ValueGetter<TValue> Cast<TValue>(Delegate getter, DataViewSchema.Column column)
        => getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
            $"Invalid TValue in GetGetter for column '{column.Name}': expected {column.Type.RawType.Name}, got {typeof(TValue).Name}.");
}

/// <summary>
/// The getters of one row or cursor: appended columns come from the filler; input columns pass through, from the
/// input row, or from the filler's window when it reads ahead.
/// </summary>
internal sealed class AppendedRowGetters
{
    private readonly DataViewRow _input;
    private readonly HashSet<int> _active;
    private readonly Delegate?[] _getters;
    private readonly BatchFiller? _window;
    private readonly int _nInput;

    public AppendedRowGetters(AppendColumnsTransformer parent, DataViewRow input, DataViewSchema schema, HashSet<int> active, BatchFiller? fill, Func<long> position, BatchFiller? window = null)
    {
        _input = input;
        _active = active;
        _window = window;
        _nInput = input.Schema.Count;
        _getters = new Delegate?[schema.Count - _nInput];
        if (fill is not null)
        {
            for (int i = 0; i < _getters.Length; i++)
            {
                if (active.Contains(_nInput + i))
                    _getters[i] = AppendedGetters.Create(parent, i, fill, position);
            }
        }
    }

    public bool IsActive(DataViewSchema.Column column) => _active.Contains(column.Index);

    public ValueGetter<TValue> Get<TValue>(DataViewSchema.Column column)
    {
        if (column.Index < _nInput)
        {
            if (_window is null)
                return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            var passThrough = _window.PassThroughGetter(_input.Schema[column.Index])
                ?? throw new InvalidOperationException($"Column '{column.Name}' is not active.");
            return AppendedGetters.Cast<TValue>(passThrough, column);
        }
        var g = _getters[column.Index - _nInput] ?? throw new InvalidOperationException($"Column '{column.Name}' is not active.");
        return AppendedGetters.Cast<TValue>(g, column);
    }
}

/// <summary>
/// Cursor over <see cref="AppendColumnsDataView"/>. Without appended columns it passes the input cursor through;
/// with them it reads the input through a window (<see cref="BatchFiller.Window"/>), so that the source is read
/// once, by this one cursor.
/// </summary>
internal sealed class AppendColumnsCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly BatchFiller? _window;
    private readonly AppendedRowGetters _getters;

    public AppendColumnsCursor(AppendColumnsTransformer parent, DataViewRowCursor input, DataViewSchema schema, HashSet<int> active, BatchFiller? window)
    {
        _input = input;
        Schema = schema;
        _window = window;
        _getters = window is null
            ? new AppendedRowGetters(parent, input, schema, active, null, () => input.Position)
            : new AppendedRowGetters(parent, input, schema, active, window, () => window.Position, window);
    }

    public override DataViewSchema Schema { get; }

    public override long Position => _window?.Position ?? _input.Position;

    public override long Batch => _input.Batch;

    public override bool MoveNext() => _window?.MoveNext() ?? _input.MoveNext();

    public override ValueGetter<DataViewRowId> GetIdGetter() => _window?.IdGetter() ?? _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => _getters.IsActive(column);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _getters.Get<TValue>(column);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _input.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Row returned by <see cref="AppendColumnsRowMapper.GetRow"/>.</summary>
internal sealed class AppendColumnsRow : DataViewRow
{
    private readonly DataViewRow _input;
    private readonly AppendedRowGetters _getters;

    public AppendColumnsRow(AppendColumnsTransformer parent, DataViewRow input, DataViewSchema schema, HashSet<int> active, BatchFiller? fill)
    {
        _input = input;
        Schema = schema;
        _getters = new AppendedRowGetters(parent, input, schema, active, fill, () => input.Position);
    }

    public override DataViewSchema Schema { get; }

    public override long Position => _input.Position;

    public override long Batch => _input.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => _getters.IsActive(column);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _getters.Get<TValue>(column);
}
