using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Mapping;

/// <summary>The lazy output of <see cref="AppendColumnsTransformer.Transform"/>.</summary>
internal sealed class AppendColumnsDataView : IDataView
{
    private readonly AppendColumnsTransformer _parent;
    private readonly IDataView _source;

    public AppendColumnsDataView(AppendColumnsTransformer parent, IDataView source, DataViewSchema schema)
    {
        _parent = parent;
        _source = source;
        Schema = schema;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = new HashSet<int>(columnsNeeded.Select(c => c.Index));
        int nInput = _source.Schema.Count;
        bool anyOutput = needed.Any(i => i >= nInput);
        var passThrough = needed.Where(i => i < nInput).Select(i => _source.Schema[i]).ToList();
        if (!anyOutput)
            return new AppendColumnsCursor(_parent, _source.GetRowCursor(passThrough), Schema, needed, null);
        // One cursor over the source for the mapper's inputs and the pass-through columns: the source is read once.
        var read = passThrough.Concat(_parent.InputColumns.Select(c => _source.Schema[c.Name])).DistinctBy(c => c.Index).ToList();
        var cursor = _source.GetRowCursor(read);
        return new AppendColumnsCursor(_parent, cursor, Schema, needed, BatchFiller.Window(_parent, cursor, passThrough));
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];
}

/// <summary>Row-to-row mapper for PredictionEngine and chained mappers: maps one row at a time.</summary>
internal sealed class AppendColumnsRowMapper : IRowToRowMapper
{
    private readonly AppendColumnsTransformer _parent;

    public AppendColumnsRowMapper(AppendColumnsTransformer parent, DataViewSchema input, DataViewSchema output)
    {
        _parent = parent;
        InputSchema = input;
        OutputSchema = output;
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = new HashSet<int>();
        int nInput = InputSchema.Count;
        foreach (var c in dependingColumns)
        {
            if (c.Index < nInput)
                needed.Add(c.Index);
            else
            {
                foreach (var ic in _parent.InputColumns)
                    needed.Add(InputSchema[ic.Name].Index);
            }
        }
        return needed.OrderBy(i => i).Select(i => InputSchema[i]);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        var needed = new HashSet<int>(activeColumns.Select(c => c.Index));
        var fill = needed.Any(i => i >= InputSchema.Count) ? BatchFiller.SingleRow(_parent, input) : null;
        return new AppendColumnsRow(_parent, input, OutputSchema, needed, fill);
    }
}
