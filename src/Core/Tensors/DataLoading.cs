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
    /// Loads a known-size Single vector column as an [n, d] float32 tensor on the CPU. Throws for a missing or
    /// mistyped column, empty data, or a NaN/infinite value (when <paramref name="rejectNonFinite"/>).
    /// </summary>
    public static Tensor LoadFeatures(IDataView data, string column, string role = "feature", bool rejectNonFinite = true, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        int d = ColumnRules.CheckVector(data.Schema, role, column);
        var col = data.Schema[column];
        long? count = data.GetRowCount();
        if (count is long n0)
        {
            if (n0 == 0)
                throw new InvalidOperationException($"Column '{column}': the data has no rows.");
            var t = torch.empty([n0, d], ScalarType.Float32);
            long rows = Fill(data, col, d, t, rejectNonFinite, cancellation);
            if (rows == n0)
                return t;
            t.Dispose();
        }
        // Unknown or misreported row count: gather into chunks, then concatenate.
        return LoadChunked(data, col, d, rejectNonFinite, cancellation);
    }

    private static long Fill(IDataView data, DataViewSchema.Column col, int d, Tensor t, bool rejectNonFinite, CancellationToken ct)
    {
        var span = MemoryMarshal.Cast<byte, float>(t.bytes);
        long capacity = span.Length / Math.Max(1, d);
        using var cursor = data.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        var buf = default(VBuffer<float>);
        long row = 0;
        while (cursor.MoveNext())
        {
            if ((row & 1023) == 0)
                ct.ThrowIfCancellationRequested();
            if (row >= capacity)
                return -1;
            getter(ref buf);
            var dst = span.Slice((int)(row * d), d);
            CopyRow(buf, dst, col.Name, row, d, rejectNonFinite);
            row++;
        }
        return row;
    }

    private static Tensor LoadChunked(IDataView data, DataViewSchema.Column col, int d, bool rejectNonFinite, CancellationToken ct)
    {
        const int chunkRows = 4096;
        var chunks = new List<float[]>();
        var current = new float[chunkRows * d];
        int inChunk = 0;
        long row = 0;
        using (var cursor = data.GetRowCursor([col]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(col);
            var buf = default(VBuffer<float>);
            while (cursor.MoveNext())
            {
                if ((row & 1023) == 0)
                    ct.ThrowIfCancellationRequested();
                getter(ref buf);
                CopyRow(buf, current.AsSpan(inChunk * d, d), col.Name, row, d, rejectNonFinite);
                row++;
                if (++inChunk == chunkRows)
                {
                    chunks.Add(current);
                    current = new float[chunkRows * d];
                    inChunk = 0;
                }
            }
        }
        if (row == 0)
            throw new InvalidOperationException($"Column '{col.Name}': the data has no rows.");
        var t = torch.empty([row, d], ScalarType.Float32);
        var span = MemoryMarshal.Cast<byte, float>(t.bytes);
        int offset = 0;
        foreach (var c in chunks)
        {
            c.CopyTo(span.Slice(offset));
            offset += c.Length;
        }
        current.AsSpan(0, inChunk * d).CopyTo(span.Slice(offset));
        return t;
    }

    private static void CopyRow(in VBuffer<float> buf, Span<float> dst, string column, long row, int d, bool rejectNonFinite)
    {
        if (buf.Length != d)
            throw Guard.ExceptBadValue(column, row, $"vector of length {buf.Length}, expected {d}");
        buf.CopyTo(dst);
        if (!rejectNonFinite)
            return;
        for (int j = 0; j < dst.Length; j++)
        {
            if (!float.IsFinite(dst[j]))
                throw Guard.ExceptBadValue(column, row, $"slot {j} is {dst[j]} (features must be finite)");
        }
    }

    /// <summary>
    /// Loads a key column as 0-based class indices (int64 tensor) and returns the key values (class names) too.
    /// Missing keys (0) throw.
    /// </summary>
    public static (Tensor Labels, string[] ClassNames) LoadKeyLabels(IDataView data, string column, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        int k = ColumnRules.CheckKey(data.Schema, "label", column);
        var col = data.Schema[column];
        var names = GetKeyValues(col, k);
        var labels = new List<long>((int)Math.Min(data.GetRowCount() ?? 1024, int.MaxValue));
        using (var cursor = data.GetRowCursor([col]))
        {
            var getter = cursor.GetGetter<uint>(col);
            uint v = 0;
            while (cursor.MoveNext())
            {
                if ((cursor.Position & 1023) == 0)
                    cancellation.ThrowIfCancellationRequested();
                getter(ref v);
                if (v == 0 || v > k)
                    throw Guard.ExceptBadValue(column, cursor.Position, v == 0 ? "missing label (key value 0)" : $"label key {v} is outside 1..{k}");
                labels.Add(v - 1);
            }
        }
        if (labels.Count == 0)
            throw new InvalidOperationException($"Column '{column}': the data has no rows.");
        return (torch.tensor(labels.ToArray(), ScalarType.Int64), names);
    }

    /// <summary>Loads a Single column as a float32 vector tensor [n]; NaN/infinite values throw.</summary>
    public static Tensor LoadSingle(IDataView data, string column, string role = "label", CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ColumnRules.CheckSingle(data.Schema, role, column);
        var col = data.Schema[column];
        var values = new List<float>();
        using (var cursor = data.GetRowCursor([col]))
        {
            var getter = cursor.GetGetter<float>(col);
            float v = 0;
            while (cursor.MoveNext())
            {
                if ((cursor.Position & 1023) == 0)
                    cancellation.ThrowIfCancellationRequested();
                getter(ref v);
                if (!float.IsFinite(v))
                    throw Guard.ExceptBadValue(column, cursor.Position, $"value is {v} ({role} must be finite)");
                values.Add(v);
            }
        }
        if (values.Count == 0)
            throw new InvalidOperationException($"Column '{column}': the data has no rows.");
        return torch.tensor(values.ToArray(), ScalarType.Float32);
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
