using System.Runtime.InteropServices;
using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Tensors;

/// <summary>
/// Bulk loading of IDataView columns into tensors: one cursor pass, each row's values copied straight into the
/// tensor's CPU storage (no per-row managed arrays). Bad data fails here with the column and row named.
/// </summary>
public static class DataLoading
{
    /// <summary>
    /// Loads a known-size Single vector column as an [n, d] float32 tensor on the CPU, in one pass of one cursor (a
    /// source that can be read only once works). Throws for a missing or mistyped column, empty data, or a
    /// NaN/infinite value (when <paramref name="rejectNonFinite"/>). No size cap: tensors over 2 GiB are filled
    /// through row blocks of under 2 GiB each.
    /// </summary>
    /// <remarks>
    /// Storage: up to <see cref="Array.MaxLength"/> values (8 GiB) the tensor wraps an uninitialised managed array
    /// (torch.from_array, no copy), filled row by row; its memory comes from the .NET heap, which reuses pages that
    /// earlier loads freed, where a fresh native allocation pays a page fault per 4 KiB on its first touch (see
    /// docs/benchmarks.md). Larger data go to a native tensor whose blocks are advised to use transparent huge pages
    /// (Linux) before their first touch, which cuts that page-fault cost.
    /// </remarks>
    public static Tensor LoadFeatures(IDataView data, string column, string role = "feature", bool rejectNonFinite = true, CancellationToken cancellation = default)
        => LoadFeatures(data, column, role, rejectNonFinite, cancellation, StorageLimits.Default);

    internal static Tensor LoadFeatures(IDataView data, string column, string role, bool rejectNonFinite, CancellationToken cancellation, StorageLimits limits)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Load(data, [new VectorReader(data.Schema, column, role, null, rejectNonFinite)], cancellation, limits)[0];
    }

    /// <summary>
    /// Loads a vector column and a key label column together, in one pass of one cursor: features as
    /// <see cref="LoadFeatures(IDataView, string, string, bool, CancellationToken)"/> does, labels as
    /// <see cref="LoadKeyLabels"/> does (0-based int64 class indices [n], with the class names).
    /// </summary>
    public static (Tensor Features, Tensor Labels, string[] ClassNames) LoadFeaturesAndKeyLabels(IDataView data, string featureColumn, string labelColumn,
        string featureRole = "feature", string labelRole = "label", int? featureSize = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var key = new KeyReader(data.Schema, labelColumn, labelRole);
        var t = Load(data, [new VectorReader(data.Schema, featureColumn, featureRole, featureSize, true), key], cancellation, StorageLimits.Default);
        return (t[0], KeyIndices(t[1]), key.Names);
    }

    /// <summary>
    /// Loads a vector column and a Single column together, in one pass of one cursor: features as
    /// <see cref="LoadFeatures(IDataView, string, string, bool, CancellationToken)"/> does, the values as
    /// <see cref="LoadSingle"/> does (float32 [n]).
    /// </summary>
    public static (Tensor Features, Tensor Labels) LoadFeaturesAndSingle(IDataView data, string featureColumn, string labelColumn,
        string featureRole = "feature", string labelRole = "label", int? featureSize = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var t = Load(data, [new VectorReader(data.Schema, featureColumn, featureRole, featureSize, true), new SingleReader(data.Schema, labelColumn, labelRole)],
            cancellation, StorageLimits.Default);
        return (t[0], Flat(t[1]));
    }

    /// <summary>Loads several vector columns (finite values) in one pass of one cursor, one [n, d] tensor each.</summary>
    public static Tensor[] LoadVectors(IDataView data, IReadOnlyList<string> columns, string role = "feature", CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(columns);
        return Load(data, columns.Select(c => (ColumnReader)new VectorReader(data.Schema, c, role, null, true)).ToArray(), cancellation, StorageLimits.Default);
    }

    /// <summary>
    /// Loads a key column as 0-based class indices (int64 tensor) and returns the key values (class names) too.
    /// Missing keys (0) throw.
    /// </summary>
    public static (Tensor Labels, string[] ClassNames) LoadKeyLabels(IDataView data, string column, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var key = new KeyReader(data.Schema, column, "label");
        return (KeyIndices(Load(data, [key], cancellation, StorageLimits.Default)[0]), key.Names);
    }

    /// <summary>Loads a Single column as a float32 vector tensor [n]; NaN/infinite values throw.</summary>
    public static Tensor LoadSingle(IDataView data, string column, string role = "label", CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Flat(Load(data, [new SingleReader(data.Schema, column, role)], cancellation, StorageLimits.Default)[0]);
    }

    /// <summary>
    /// The one pass: opens one cursor over the readers' columns and fills one <see cref="RowBuffer"/> per reader, row
    /// by row. Every reader's tensor has the same rows.
    /// </summary>
    private static Tensor[] Load(IDataView data, ColumnReader[] readers, CancellationToken cancellation, StorageLimits limits)
    {
        long expected = data.GetRowCount() is long n0 && n0 > 0 ? n0 : 0;
        var buffers = new RowBuffer[readers.Length];
        try
        {
            for (int i = 0; i < readers.Length; i++)
                buffers[i] = new RowBuffer(expected, readers[i].Width, limits);
            long row = 0;
            using (var cursor = data.GetRowCursor(readers.Select(r => r.Column).Distinct()))
            {
                foreach (var r in readers)
                    r.Bind(cursor);
                while (cursor.MoveNext())
                {
                    if ((row & 1023) == 0)
                        cancellation.ThrowIfCancellationRequested();
                    for (int i = 0; i < readers.Length; i++)
                        readers[i].Read(buffers[i].Row(row), row);
                    row++;
                }
            }
            if (row == 0)
                throw new InvalidOperationException($"Column '{readers[0].Column.Name}': the data has no rows.");
            var result = new Tensor[readers.Length];
            for (int i = 0; i < readers.Length; i++)
                result[i] = buffers[i].Finish(row);
            return result;
        }
        finally
        {
            foreach (var b in buffers)
                b?.Dispose();
        }
    }

    private static Tensor Flat(Tensor column)
    {
        using (column)
            return column.view(-1);
    }

    private static Tensor KeyIndices(Tensor column)
    {
        using (column)
        using (var flat = column.view(-1))
            return flat.to(ScalarType.Int64);
    }

    /// <summary>
    /// The rows of one column being loaded: a <see cref="RowStorage"/> for the rows the source reported, then managed
    /// chunks for any rows beyond (a source that reports no count or too few), joined when done.
    /// </summary>
    private sealed class RowBuffer(long expected, int d, StorageLimits limits) : IDisposable
    {
        private const int OverflowRows = 4096;
        private readonly RowStorage _primary = new(expected, d, limits);
        private readonly List<float[]> _overflow = [];
        private float[]? _current;
        private int _inCurrent;
        private long _blockStart, _blockEnd;

        /// <summary>The d values of <paramref name="row"/> (rows come in order, from 0).</summary>
        public Span<float> Row(long row)
        {
            if (row < expected)
            {
                if (row >= _blockEnd)
                    _primary.Block(row, out _blockStart, out _blockEnd);
                return _primary.Current.Slice((int)(row - _blockStart) * d, d);
            }
            if (_current is null || _inCurrent == OverflowRows)
            {
                _current = GC.AllocateUninitializedArray<float>(OverflowRows * d);
                _overflow.Add(_current);
                _inCurrent = 0;
            }
            return _current.AsSpan(_inCurrent++ * d, d);
        }

        /// <summary>The [rows, d] tensor of the rows filled (the caller owns it).</summary>
        public Tensor Finish(long rows)
        {
            if (rows == expected)
                return _primary.Detach();
            using var scope = torch.NewDisposeScope();
            var parts = new List<Tensor>();
            if (expected > 0)
                parts.Add(_primary.Tensor.narrow(0, 0, Math.Min(rows, expected)));
            for (int i = 0; i < _overflow.Count; i++)
            {
                long n = i < _overflow.Count - 1 ? OverflowRows : _inCurrent;
                parts.Add(torch.from_array(_overflow[i]).view(OverflowRows, d).narrow(0, 0, n));
            }
            return (parts.Count == 1 ? parts[0].clone() : torch.cat(parts, 0)).MoveToOuterDisposeScope();
        }

        public void Dispose() => _primary.Dispose();
    }

    /// <summary>Reads one column of the current row into its row of values, failing on a bad value with the row named.</summary>
    private abstract class ColumnReader(DataViewSchema schema, string column, int width)
    {
        public DataViewSchema.Column Column { get; } = schema[column];

        public int Width { get; } = width;

        public abstract void Bind(DataViewRowCursor cursor);

        public abstract void Read(Span<float> dst, long row);
    }

    /// <summary>A known-size Single vector column.</summary>
    private sealed class VectorReader(DataViewSchema schema, string column, string role, int? size, bool rejectNonFinite)
        : ColumnReader(schema, column, ColumnRules.CheckVector(schema, role, column, size))
    {
        private ValueGetter<VBuffer<float>>? _getter;
        private VBuffer<float> _buf;

        public override void Bind(DataViewRowCursor cursor) => _getter = cursor.GetGetter<VBuffer<float>>(Column);

        public override void Read(Span<float> dst, long row)
        {
            _getter!(ref _buf);
            if (_buf.Length != Width)
                throw Guard.ExceptBadValue(Column.Name, row, $"vector of length {_buf.Length}, expected {Width}");
            _buf.CopyTo(dst);
            if (!rejectNonFinite)
                return;
            for (int j = 0; j < dst.Length; j++)
            {
                if (!float.IsFinite(dst[j]))
                    throw Guard.ExceptBadValue(Column.Name, row, $"slot {j} is {dst[j]} (features must be finite)");
            }
        }
    }

    /// <summary>A Single column; NaN/infinite values throw.</summary>
    private sealed class SingleReader(DataViewSchema schema, string column, string role)
        : ColumnReader(schema, column, CheckSingle(schema, role, column))
    {
        private ValueGetter<float>? _getter;

        private static int CheckSingle(DataViewSchema schema, string role, string column)
        {
            ColumnRules.CheckSingle(schema, role, column);
            return 1;
        }

        public override void Bind(DataViewRowCursor cursor) => _getter = cursor.GetGetter<float>(Column);

        public override void Read(Span<float> dst, long row)
        {
            float v = 0;
            _getter!(ref v);
            if (!float.IsFinite(v))
                throw Guard.ExceptBadValue(Column.Name, row, $"value is {v} ({role} must be finite)");
            dst[0] = v;
        }
    }

    /// <summary>
    /// A key column, stored as the 0-based index in a float (exact below 2²⁴ classes, more than any classifier here
    /// trains on); missing keys (0) throw.
    /// </summary>
    private sealed class KeyReader(DataViewSchema schema, string column, string role)
        : ColumnReader(schema, column, CheckKey(schema, role, column))
    {
        private const int MaxClasses = 1 << 24;
        private readonly int _count = ColumnRules.CheckKey(schema, role, column);
        private ValueGetter<uint>? _getter;

        private static int CheckKey(DataViewSchema schema, string role, string column)
        {
            int k = ColumnRules.CheckKey(schema, role, column);
            if (k > MaxClasses)
                throw Guard.ExceptSchemaMismatch(role, column, $"key with at most {MaxClasses} values", $"key with {k} values");
            return 1;
        }

        public string[] Names => GetKeyValues(Column, _count);

        public override void Bind(DataViewRowCursor cursor) => _getter = cursor.GetGetter<uint>(Column);

        public override void Read(Span<float> dst, long row)
        {
            uint v = 0;
            _getter!(ref v);
            if (v == 0 || v > _count)
                throw Guard.ExceptBadValue(Column.Name, row, v == 0 ? "missing label (key value 0)" : $"label key {v} is outside 1..{_count}");
            dst[0] = v - 1;
        }
    }

    /// <summary>The key values (class names) of a key column; "0", "1", … when the column has none.</summary>
    public static string[] GetKeyValues(DataViewSchema.Column column, int count)
    {
        var names = new string[count];
        if (column.Annotations.Schema.GetColumnOrNull(AnnotationNames.KeyValues) is { } kv && kv.Type is VectorDataViewType { Size: var size } && size == count)
        {
            var type = ((VectorDataViewType)kv.Type).ItemType;
            if (type is TextDataViewType)
            {
                var buf = default(VBuffer<ReadOnlyMemory<char>>);
                column.Annotations.GetValue(AnnotationNames.KeyValues, ref buf);
                int i = 0;
                foreach (var v in buf.DenseValues())
                    names[i++] = v.ToString();
                return names;
            }
            // Non-text key values (e.g. UInt32 labels): format them.
            var values = GetAnyKeyValues(column, type, count);
            if (values is not null)
                return values;
        }
        for (int i = 0; i < count; i++)
            names[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return names;
    }

    private static string[]? GetAnyKeyValues(DataViewSchema.Column column, DataViewType itemType, int count)
    {
        string[]? Read<T>()
        {
            var buf = default(VBuffer<T>);
            column.Annotations.GetValue(AnnotationNames.KeyValues, ref buf);
            return buf.DenseValues().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
        }
        return itemType.RawType switch
        {
            var t when t == typeof(uint) => Read<uint>(),
            var t when t == typeof(int) => Read<int>(),
            var t when t == typeof(long) => Read<long>(),
            var t when t == typeof(ulong) => Read<ulong>(),
            var t when t == typeof(float) => Read<float>(),
            var t when t == typeof(double) => Read<double>(),
            var t when t == typeof(bool) => Read<bool>(),
            _ => null,
        };
    }
}
