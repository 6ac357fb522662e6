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
        int d = ColumnRules.CheckVector(data.Schema, role, column);
        var col = data.Schema[column];
        long expected = data.GetRowCount() is long n0 && n0 > 0 ? n0 : 0;
        using var primary = new RowStorage(expected, d, limits);
        var overflow = new List<float[]>();
        const int overflowRows = 4096;
        float[]? current = null;
        int inCurrent = 0;
        long row = 0;
        using (var cursor = data.GetRowCursor([col]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(col);
            var buf = default(VBuffer<float>);
            Span<float> block = default;
            long blockStart = 0, blockEnd = 0;
            while (cursor.MoveNext())
            {
                if ((row & 1023) == 0)
                    cancellation.ThrowIfCancellationRequested();
                getter(ref buf);
                Span<float> dst;
                if (row < expected)
                {
                    if (row >= blockEnd)
                        block = primary.Block(row, out blockStart, out blockEnd);
                    dst = block.Slice((int)(row - blockStart) * d, d);
                }
                else
                {
                    // The source has more rows than it reported (or reported none): managed chunks, joined below.
                    if (current is null || inCurrent == overflowRows)
                    {
                        current = GC.AllocateUninitializedArray<float>(overflowRows * d);
                        overflow.Add(current);
                        inCurrent = 0;
                    }
                    dst = current.AsSpan(inCurrent++ * d, d);
                }
                CopyRow(buf, dst, col.Name, row, d, rejectNonFinite);
                row++;
            }
        }
        if (row == 0)
            throw new InvalidOperationException($"Column '{column}': the data has no rows.");
        if (row == expected)
            return primary.Detach();
        using var scope = torch.NewDisposeScope();
        var parts = new List<Tensor>();
        if (expected > 0)
            parts.Add(primary.Tensor.narrow(0, 0, Math.Min(row, expected)));
        for (int i = 0; i < overflow.Count; i++)
        {
            long rows = i < overflow.Count - 1 ? overflowRows : inCurrent;
            parts.Add(torch.from_array(overflow[i]).view(overflowRows, d).narrow(0, 0, rows));
        }
        return (parts.Count == 1 ? parts[0].clone() : torch.cat(parts, 0)).MoveToOuterDisposeScope();
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
