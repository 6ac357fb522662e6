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
/// GetOutputSchema as in Fit/Transform); the row-by-row path (the row mapper, and a real PredictionEngine) equals the
/// batched path; Model.Save → Model.Load in a new MLContext gives identical outputs; a damaged or truncated saved model
/// fails with a FormatException naming the entry; repeated Transform and repeated PredictionEngine calls leak no
/// tensors; four PredictionEngines on four threads give exactly the outputs of one engine run sequentially, and leak
/// nothing on their threads.
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

        // 3b. A real PredictionEngine (one row per Predict call) equals the batched path; concurrent engines agree.
        // Only the columns the model adds (not pass-through columns that share a name with a hidden one).
        var added = output.Schema.Where(c => c.Index >= transformData.Schema.Count && !c.IsHidden).Select(c => c.Name).ToArray();
        if (model.IsRowToRowMapper)
        {
            var inputs = PredictionInputs(model, transformData, added);
            var predicted = Predict(ml, model, inputs, added);
            Assert.Equal(expected[added[0]].Count, predicted.Count);
            for (int r = 0; r < predicted.Count; r++)
            {
                for (int i = 0; i < added.Length; i++)
                    AssertClose(expected[added[i]][r], predicted[r][i], tolerance, $"PredictionEngine, column {added[i]}, row {r}");
            }
            AssertConcurrentPredictionEngines(ml, model, inputs, added);
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

        // 5. Repeated Transform, and repeated PredictionEngine calls, leak no tensors.
        AssertNoTensorLeak(() =>
        {
            foreach (var name in appended)
                ReadColumn(model.Transform(transformData), name);
        });
        if (model.IsRowToRowMapper)
        {
            var inputs = PredictionInputs(model, transformData, added).Take(ConcurrentRows);
            AssertNoTensorLeak(() => Predict(ml, model, inputs, added));
        }
        return model;
    }

    /// <summary>Rows per thread in <see cref="AssertConcurrentPredictionEngines"/> and per repetition of the PredictionEngine leak check (the first rows of the data).</summary>
    public const int ConcurrentRows = 12;

    /// <summary>
    /// Four threads, each with its own PredictionEngine over <paramref name="model"/>, predict the same rows (twice
    /// over, so that the calls interleave); every output must equal, bit for bit, what one engine gives when run
    /// sequentially, and each thread's live tensor count must not grow after its first pass.
    /// </summary>
    public static void AssertConcurrentPredictionEngines(MLContext ml, ITransformer model, PredictionRows inputs, string[] appended)
    {
        const int Threads = 4;
        const int MeasuredPasses = 3;
        var rows = inputs.Take(ConcurrentRows);
        // The sequential run makes the same calls as each thread: 1 + MeasuredPasses passes over the rows with one engine
        // (an engine's row positions keep counting across calls, and components may key randomness by position).
        var sequentialEngine = CreateEngine(ml, model, rows, appended, out var sequentialRead);
        var sequential = PredictWith(sequentialEngine, rows, sequentialRead);
        for (int pass = 0; pass < MeasuredPasses; pass++)
            sequential.AddRange(PredictWith(sequentialEngine, rows, sequentialRead));
        var results = new List<double[][]>[Threads];
        var leaks = new string?[Threads];
        var errors = new Exception?[Threads];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try
            {
                var engine = CreateEngine(ml, model, rows, appended, out var read);
                start.SignalAndWait();
                results[t] = PredictWith(engine, rows, read);
                // A leak grows the thread's live tensors on every pass. A one-time allocation (a module pool making its
                // copy for this thread when the threads first collide) grows them on one pass only: a thread leaks
                // when every measured pass grew.
                var growth = new List<string>();
                for (int pass = 0; pass < MeasuredPasses; pass++)
                {
                    long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
                    var again = PredictWith(engine, rows, read);
                    long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
                    if (after > before)
                        growth.Add($"{before} → {after}");
                    results[t].AddRange(again);
                }
                if (growth.Count == MeasuredPasses)
                    leaks[t] = $"thread {t}: live tensors grew on every one of {MeasuredPasses} passes of {rows.Count} rows ({string.Join(", ", growth)})";
            }
            catch (Exception ex)
            {
                errors[t] = ex;
            }
        })).ToArray();
        foreach (var th in threads)
            th.Start();
        foreach (var th in threads)
            th.Join();
        foreach (var e in errors)
        {
            if (e is not null)
                throw new Xunit.Sdk.XunitException($"A concurrent PredictionEngine failed: {e}");
        }
        Assert.All(leaks, l => Assert.True(l is null, l));
        for (int t = 0; t < Threads; t++)
        {
            Assert.Equal(sequential.Count, results[t].Count);
            for (int r = 0; r < results[t].Count; r++)
            {
                for (int i = 0; i < appended.Length; i++)
                    AssertClose(sequential[r][i], results[t][r][i], 0, $"thread {t}, column {appended[i]}, call {r}");
            }
        }
    }

    /// <summary>The input rows of a PredictionEngine: the values of the columns the appended columns depend on.</summary>
    public sealed class PredictionRows
    {
        internal PredictionRows(DataViewSchema.Column[] columns, List<object[]> values)
        {
            Columns = columns;
            Values = values;
        }

        /// <summary>The input columns (Single vectors or Single scalars).</summary>
        public DataViewSchema.Column[] Columns { get; }

        /// <summary>One entry per row: a float[] or a float per column.</summary>
        public List<object[]> Values { get; }

        /// <summary>Rows.</summary>
        public int Count => Values.Count;

        /// <summary>The first <paramref name="n"/> rows.</summary>
        public PredictionRows Take(int n) => new(Columns, Values.Take(n).ToList());
    }

    /// <summary>Reads, from <paramref name="data"/>, the input columns <paramref name="model"/> needs for <paramref name="appended"/>.</summary>
    public static PredictionRows PredictionInputs(ITransformer model, IDataView data, string[] appended)
    {
        var mapper = model.GetRowToRowMapper(data.Schema);
        var needed = mapper.GetDependencies(appended.Select(n => mapper.OutputSchema[n])).ToArray();
        var values = new List<object[]>();
        using var cursor = data.GetRowCursor(needed);
        var getters = needed.Select<DataViewSchema.Column, Func<object>>(c => c.Type switch
        {
            VectorDataViewType { ItemType: var it } when it == NumberDataViewType.Single => VectorGetter(cursor, c),
            NumberDataViewType t when t == NumberDataViewType.Single => ScalarGetter(cursor, c),
            _ => throw new NotSupportedException($"Input column '{c.Name}' of type {c.Type} cannot be fed to a PredictionEngine by the harness."),
        }).ToArray();
        while (cursor.MoveNext())
            values.Add(getters.Select(g => g()).ToArray());
        return new PredictionRows(needed, values);
    }

    private static Func<object> VectorGetter(DataViewRow row, DataViewSchema.Column c)
    {
        var g = row.GetGetter<VBuffer<float>>(c);
        var buf = default(VBuffer<float>);
        return () => { g(ref buf); return buf.DenseValues().ToArray(); };
    }

    private static Func<object> ScalarGetter(DataViewRow row, DataViewSchema.Column c)
    {
        var g = row.GetGetter<float>(c);
        float v = 0;
        return () => { g(ref v); return v; };
    }

    /// <summary>Predicts every row with one new PredictionEngine; one double[] per appended column per row.</summary>
    /// <remarks>
    /// Engines are never disposed here: ML.NET's <c>PredictionEngine.Dispose</c> disposes the transformer it was
    /// created from, and the model is still in use.
    /// </remarks>
    public static List<double[][]> Predict(MLContext ml, ITransformer model, PredictionRows rows, string[] appended)
    {
        var engine = CreateEngine(ml, model, rows, appended, out var read);
        return PredictWith(engine, rows, read);
    }

    private static List<double[][]> PredictWith(PredictionEngineBase<EngineInput, EngineOutput> engine, PredictionRows rows, Func<EngineOutput, double[]>[] read)
    {
        var result = new List<double[][]>(rows.Count);
        var output = new EngineOutput();
        foreach (var values in rows.Values)
        {
            var input = new EngineInput();
            int v = 0, f = 0;
            foreach (var value in values)
            {
                if (value is float[] vector)
                    input.SetVector(v++, vector);
                else
                    input.SetScalar(f++, (float)value);
            }
            engine.Predict(input, ref output);
            result.Add(read.Select(r => r(output)).ToArray());
        }
        return result;
    }

    private static PredictionEngine<EngineInput, EngineOutput> CreateEngine(MLContext ml, ITransformer model, PredictionRows rows, string[] appended, out Func<EngineOutput, double[]>[] read)
    {
        var inDef = SchemaDefinition.Create(typeof(EngineInput), SchemaDefinition.Direction.Read);
        var used = new List<SchemaDefinition.Column>();
        int v = 0, f = 0;
        foreach (var c in rows.Columns)
        {
            var member = c.Type is VectorDataViewType ? $"V{v++}" : $"F{f++}";
            var col = inDef.First(d => d.MemberName == member);
            col.ColumnName = c.Name;
            col.ColumnType = c.Type;
            used.Add(col);
        }
        inDef.RemoveAll(c => !used.Contains(c));

        var outputSchema = model.GetOutputSchema(BuildSchema(rows.Columns));
        var outDef = SchemaDefinition.Create(typeof(EngineOutput), SchemaDefinition.Direction.Write);
        var usedOut = new List<SchemaDefinition.Column>();
        var readers = new List<Func<EngineOutput, double[]>>();
        int vo = 0, so = 0, ko = 0;
        foreach (var name in appended)
        {
            var type = outputSchema[name].Type;
            SchemaDefinition.Column col;
            switch (type)
            {
                case VectorDataViewType vt when vt.ItemType == NumberDataViewType.Single:
                    int vi = vo++;
                    col = outDef.First(d => d.MemberName == $"V{vi}");
                    readers.Add(o => o.GetVector(vi).Select(x => (double)x).ToArray());
                    break;
                case NumberDataViewType t when t == NumberDataViewType.Single:
                    int si = so++;
                    col = outDef.First(d => d.MemberName == $"S{si}");
                    readers.Add(o => [o.GetScalar(si)]);
                    break;
                case KeyDataViewType:
                    int ki = ko++;
                    col = outDef.First(d => d.MemberName == $"K{ki}");
                    readers.Add(o => [o.GetKey(ki)]);
                    break;
                default:
                    throw new NotSupportedException($"Column '{name}' of type {type} cannot be read from a PredictionEngine by the harness.");
            }
            col.ColumnName = name;
            col.ColumnType = type;
            usedOut.Add(col);
        }
        outDef.RemoveAll(c => !usedOut.Contains(c));
        read = readers.ToArray();
        return ml.Model.CreatePredictionEngine<EngineInput, EngineOutput>(model, ignoreMissingColumns: true, inDef, outDef);
    }

    private static DataViewSchema BuildSchema(DataViewSchema.Column[] columns)
    {
        var b = new DataViewSchema.Builder();
        foreach (var c in columns)
            b.AddColumn(c.Name, c.Type, c.Annotations);
        return b.ToSchema();
    }

    /// <summary>PredictionEngine input: up to four Single-vector and four Single columns, renamed by a SchemaDefinition.</summary>
    public sealed class EngineInput
    {
#pragma warning disable CS0649, SA1401 // assigned through SetVector/SetScalar; public fields are what ML.NET maps
        public float[] V0 = [], V1 = [], V2 = [], V3 = [];
        public float F0, F1, F2, F3;
#pragma warning restore CS0649, SA1401

        internal void SetVector(int i, float[] v)
        {
            switch (i)
            {
                case 0: V0 = v; break;
                case 1: V1 = v; break;
                case 2: V2 = v; break;
                case 3: V3 = v; break;
                default: throw new NotSupportedException("The harness feeds at most four vector columns.");
            }
        }

        internal void SetScalar(int i, float v)
        {
            switch (i)
            {
                case 0: F0 = v; break;
                case 1: F1 = v; break;
                case 2: F2 = v; break;
                case 3: F3 = v; break;
                default: throw new NotSupportedException("The harness feeds at most four Single columns.");
            }
        }
    }

    /// <summary>PredictionEngine output: up to four vector, four Single and four key columns, renamed by a SchemaDefinition.</summary>
    public sealed class EngineOutput
    {
#pragma warning disable CS0649, SA1401
        public float[] V0 = [], V1 = [], V2 = [], V3 = [];
        public float S0, S1, S2, S3;
        public uint K0, K1, K2, K3;
#pragma warning restore CS0649, SA1401

        internal float[] GetVector(int i) => i switch { 0 => V0, 1 => V1, 2 => V2, 3 => V3, _ => throw new NotSupportedException("At most four vector outputs.") };

        internal float GetScalar(int i) => i switch { 0 => S0, 1 => S1, 2 => S2, 3 => S3, _ => throw new NotSupportedException("At most four Single outputs.") };

        internal uint GetKey(int i) => i switch { 0 => K0, 1 => K1, 2 => K2, 3 => K3, _ => throw new NotSupportedException("At most four key outputs.") };
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
