using System.IO.Compression;
using Components.Core;
using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Tests.Harness;

/// <summary>
/// The suite's port of ML.NET's TestEstimatorCore; every component's tests call it:
/// schema propagation equals the real output schema; invalid input throws the documented exception (in
/// GetOutputSchema as in Fit/Transform); the row-by-row path (PredictionEngine) equals the batched path;
/// Model.Save → Model.Load in a new MLContext gives identical outputs; a damaged or truncated saved model fails
/// with a FormatException naming the entry; repeated Transform leaks no tensors.
/// </summary>
public static class EstimatorHarness
{
    /// <summary>Runs all checks and returns the fitted transformer.</summary>
    /// <param name="ml">The context used to fit.</param>
    /// <param name="estimator">The estimator under test.</param>
    /// <param name="fitData">Valid training data.</param>
    /// <param name="transformData">Valid data to transform (default: fitData).</param>
    /// <param name="invalidData">Data the estimator must reject (schema mismatch), or null.</param>
    /// <param name="tolerance">Absolute tolerance for save/load and row-vs-batch agreement (0 = exact).</param>
    public static TTransformer Run<TTransformer>(MLContext ml, IEstimator<TTransformer> estimator, IDataView fitData,
        IDataView? transformData = null, IDataView? invalidData = null, double tolerance = 0)
        where TTransformer : class, ITransformer
    {
        transformData ??= fitData;

        // 1. Schema propagation agrees with the real output schema.
        var shape = estimator.GetOutputSchema(SchemaShapes.FromSchema(fitData.Schema));
        var model = estimator.Fit(fitData);
        var output = model.Transform(transformData);
        CheckSameSchema(shape, output.Schema);
        CheckSameSchema(shape, model.GetOutputSchema(transformData.Schema));

        // 2. Invalid input fails fast, with the ML.NET exception types.
        if (invalidData is not null)
        {
            AssertInvalid(() => estimator.GetOutputSchema(SchemaShapes.FromSchema(invalidData.Schema)));
            AssertInvalid(() => estimator.Fit(invalidData));
            AssertInvalid(() => model.GetOutputSchema(invalidData.Schema));
            AssertInvalid(() => model.Transform(invalidData));
        }

        var appended = output.Schema.Where(c => transformData.Schema.GetColumnOrNull(c.Name) is not { } ic || ic.Index != c.Index)
            .Select(c => c.Name).Distinct().ToArray();
        Assert.NotEmpty(appended);
        var expected = appended.ToDictionary(n => n, n => ReadColumn(output, n));

        // 3. Row-by-row mapping (PredictionEngine's path) equals batched mapping.
        if (model.IsRowToRowMapper)
        {
            var mapper = model.GetRowToRowMapper(transformData.Schema);
            var active = appended.Select(n => mapper.OutputSchema[n]).ToArray();
            using var cursor = transformData.GetRowCursor(mapper.GetDependencies(active));
            using var row = mapper.GetRow(cursor, active);
            var readers = appended.Select(n => MakeReader(row, row.Schema[n])).ToArray();
            int r = 0;
            while (cursor.MoveNext())
            {
                for (int i = 0; i < appended.Length; i++)
                    AssertClose(expected[appended[i]][r], readers[i](), tolerance, $"row path, column {appended[i]}, row {r}");
                r++;
            }
        }

        // 4. Save → Load in a new MLContext gives identical outputs.
        using (var stream = new MemoryStream())
        {
            ml.Model.Save(model, fitData.Schema, stream);
            stream.Position = 0;
            var ml2 = new MLContext(seed: 123).RegisterComponents();
            var loaded = ml2.Model.Load(stream, out var loadedSchema);
            Assert.NotNull(loadedSchema);
            var output2 = loaded.Transform(transformData);
            foreach (var name in appended)
            {
                var values = ReadColumn(output2, name);
                Assert.Equal(expected[name].Count, values.Count);
                for (int i = 0; i < values.Count; i++)
                    AssertClose(expected[name][i], values[i], tolerance, $"after load, column {name}, row {i}");
            }
            (loaded as IDisposable)?.Dispose();
        }
        AssertDamagedModelIsRejected(ml, model, fitData.Schema);

        // 5. Repeated Transform leaks no tensors.
        AssertNoTensorLeak(() =>
        {
            foreach (var name in appended)
                ReadColumn(model.Transform(transformData), name);
        });
        return model;
    }

    /// <summary>
    /// Saves <paramref name="model"/> (a single suite transformer, so every entry under <c>TransformerChain/</c> is
    /// written by the suite) and, for each of those entries, loads a copy with 64 bytes flipped inside what the
    /// component wrote and a copy truncated to half its length: each must fail with a <see cref="FormatException"/>
    /// whose message names the entry.
    /// </summary>
    public static void AssertDamagedModelIsRejected(MLContext ml, ITransformer model, DataViewSchema inputSchema)
    {
        byte[] saved;
        using (var stream = new MemoryStream())
        {
            ml.Model.Save(model, inputSchema, stream);
            saved = stream.ToArray();
        }
        string[] entries;
        using (var zip = new ZipArchive(new MemoryStream(saved), ZipArchiveMode.Read))
            entries = zip.Entries.Select(e => e.FullName).Where(n => n.StartsWith("TransformerChain/", StringComparison.Ordinal)).ToArray();
        Assert.Contains("TransformerChain/Model.key", entries);
        foreach (var entry in entries)
        {
            AssertRejected(RewriteEntry(saved, entry, FlipInside(entry)), entry, "64 flipped bytes");
            AssertRejected(RewriteEntry(saved, entry, b => b[..(b.Length / 2)]), entry, "truncation to half");
        }
    }

    // Flips 64 bytes (or all, if fewer) in the middle of the part of the entry the component wrote: for Model.key the
    // model block after ML.NET's 256-byte header (its size is the int64 at offset 0x18), otherwise the whole entry.
    private static Func<byte[], byte[]> FlipInside(string entry) => bytes =>
    {
        var b = (byte[])bytes.Clone();
        int start = 0, length = b.Length;
        if (entry.EndsWith("/Model.key", StringComparison.Ordinal))
        {
            start = 256;
            length = (int)BitConverter.ToInt64(b, 0x18);
        }
        int count = Math.Min(64, length);
        int from = start + (length - count) / 2;
        for (int i = from; i < from + count; i++)
            b[i] ^= 0xA5;
        return b;
    };

    private static byte[] RewriteEntry(byte[] zipBytes, string entry, Func<byte[], byte[]> change)
    {
        using var ms = new MemoryStream();
        ms.Write(zipBytes);
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Update, leaveOpen: true))
        {
            var e = zip.GetEntry(entry)!;
            byte[] data;
            using (var s = e.Open())
            {
                using var copy = new MemoryStream();
                s.CopyTo(copy);
                data = copy.ToArray();
            }
            e.Delete();
            using var w = zip.CreateEntry(entry).Open();
            w.Write(change(data));
        }
        return ms.ToArray();
    }

    private static void AssertRejected(byte[] zipBytes, string entry, string damage)
    {
        ITransformer? loaded = null;
        var ex = Record.Exception(() => loaded = new MLContext(seed: 5).Model.LoadWithComponents(new MemoryStream(zipBytes), out _));
        (loaded as IDisposable)?.Dispose();
        Assert.True(ex is FormatException, $"{entry} with {damage}: expected a FormatException, got {(ex is null ? "a loaded model" : ex.GetType().Name + ": " + ex.Message)}.");
        Assert.Contains($"'{entry}'", ex!.Message);
    }

    /// <summary>Runs <paramref name="action"/> once to warm up, then three times; the live tensor count must not grow.</summary>
    public static void AssertNoTensorLeak(Action action)
    {
        action();
        var stats = DisposeScopeManager.Statistics;
        long before = stats.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++)
            action();
        long after = stats.ThreadTotalLiveCount;
        Assert.True(after <= before, $"Live tensors grew from {before} to {after} over 3 repetitions.");
    }

    /// <summary>Asserts that the action throws ArgumentOutOfRangeException or InvalidOperationException.</summary>
    public static Exception AssertInvalid(Action action)
    {
        var ex = Record.Exception(action);
        Assert.NotNull(ex);
        Assert.True(ex is ArgumentOutOfRangeException or InvalidOperationException,
            $"Expected ArgumentOutOfRangeException or InvalidOperationException, got {ex.GetType().Name}: {ex.Message}");
        return ex;
    }

    /// <summary>Every column of the estimator's shape is in the schema with the same kind, item type and keyness.</summary>
    public static void CheckSameSchema(SchemaShape shape, DataViewSchema schema)
    {
        var actual = SchemaShapes.FromSchema(schema);
        foreach (var col in shape)
        {
            var match = actual.FirstOrDefault(c => c.Name == col.Name);
            Assert.True(match.Name is not null, $"Column '{col.Name}' promised by GetOutputSchema is missing from the output.");
            Assert.True(col.Kind == match.Kind && col.IsKey == match.IsKey && Equals(col.ItemType, match.ItemType),
                $"Column '{col.Name}': GetOutputSchema promised {ColumnRules.Describe(col)}, output has {ColumnRules.Describe(match)}.");
            foreach (var ann in col.Annotations)
                Assert.True(match.Annotations.Any(a => a.Name == ann.Name), $"Column '{col.Name}' lacks the annotation '{ann.Name}'.");
        }
        foreach (var col in actual)
            Assert.True(shape.Any(c => c.Name == col.Name), $"Output column '{col.Name}' is not announced by GetOutputSchema.");
    }

    /// <summary>Reads a Single, Single-vector or key column as one double[] per row.</summary>
    public static List<double[]> ReadColumn(IDataView data, string name)
    {
        var col = data.Schema[name];
        var result = new List<double[]>();
        using var cursor = data.GetRowCursor([col]);
        var read = MakeReader(cursor, col);
        while (cursor.MoveNext())
            result.Add(read());
        return result;
    }

    private static Func<double[]> MakeReader(DataViewRow row, DataViewSchema.Column col)
    {
        switch (col.Type)
        {
            case VectorDataViewType v when v.ItemType == NumberDataViewType.Single:
                {
                    var g = row.GetGetter<VBuffer<float>>(col);
                    var buf = default(VBuffer<float>);
                    return () => { g(ref buf); return buf.DenseValues().Select(x => (double)x).ToArray(); };
                }
            case NumberDataViewType t when t == NumberDataViewType.Single:
                {
                    var g = row.GetGetter<float>(col);
                    float v = 0;
                    return () => { g(ref v); return [v]; };
                }
            case KeyDataViewType:
                {
                    var g = row.GetGetter<uint>(col);
                    uint v = 0;
                    return () => { g(ref v); return [v]; };
                }
            default:
                throw new NotSupportedException($"Column '{col.Name}' of type {col.Type} cannot be compared by the harness.");
        }
    }

    private static void AssertClose(double[] expected, double[] actual, double tol, string where)
    {
        Assert.True(expected.Length == actual.Length, $"{where}: length {actual.Length}, expected {expected.Length}.");
        for (int i = 0; i < expected.Length; i++)
        {
            bool ok = tol == 0 ? expected[i].Equals(actual[i]) : Math.Abs(expected[i] - actual[i]) <= tol;
            Assert.True(ok, $"{where}, slot {i}: {actual[i]} vs {expected[i]}.");
        }
    }
}
