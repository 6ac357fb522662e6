using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Core;

/// <summary>
/// Test source that counts its cursors and the rows they read, can refuse a second cursor (a source that can be read
/// only once, such as a network stream), and can misreport its row count.
/// </summary>
internal sealed class CountingDataView : IDataView
{
    private readonly IDataView _inner;
    private readonly bool _readOnce;
    private readonly Func<long?>? _reportedRows;

    public CountingDataView(IDataView inner, bool readOnce = false, Func<long?>? reportedRows = null)
    {
        _inner = inner;
        _readOnce = readOnce;
        _reportedRows = reportedRows;
    }

    public int Cursors { get; private set; }

    public long RowsRead { get; private set; }

    public bool CanShuffle => false;

    public DataViewSchema Schema => _inner.Schema;

    public long? GetRowCount() => _reportedRows is null ? _inner.GetRowCount() : _reportedRows();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        if (_readOnce && Cursors > 0)
            throw new InvalidOperationException("This source can be read only once.");
        Cursors++;
        return new Cursor(this, _inner.GetRowCursor(columnsNeeded));
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(CountingDataView parent, DataViewRowCursor inner) : DataViewRowCursor
    {
        public override DataViewSchema Schema => inner.Schema;

        public override long Position => inner.Position;

        public override long Batch => inner.Batch;

        public override bool MoveNext()
        {
            bool more = inner.MoveNext();
            if (more)
                parent.RowsRead++;
            return more;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
