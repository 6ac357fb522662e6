using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Core.Mapping;

public sealed class LazyViewTests
{
    private sealed class Row
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public float Weight { get; set; }
    }

    private static IDataView Data(MLContext ml, int n)
    {
        var names = new[] { "red", "green", "blue" };
        var rows = Enumerable.Range(0, n).Select(i => new Row
        {
            Label = names[i % 3],
            Weight = i,
            Features = Enumerable.Range(0, 3).Select(j => (j == i % 3 ? 4f : 0f) + 0.01f * ((i * 7 + j) % 11)).ToArray(),
        }).ToList();
        return ml.Data.LoadFromEnumerable(rows);
    }

    private static (float[][] Scores, uint[] Predicted, string[] Labels, float[] Weights, ulong[] Ids) ReadAll(IDataView view)
    {
        var cols = new[] { "Score", "PredictedLabel", "Label", "Weight" }.Select(c => view.Schema[c]).ToArray();
        using var cursor = view.GetRowCursor(cols);
        var score = cursor.GetGetter<VBuffer<float>>(cols[0]);
        var key = cursor.GetGetter<uint>(cols[1]);
        var label = cursor.GetGetter<ReadOnlyMemory<char>>(cols[2]);
        var weight = cursor.GetGetter<float>(cols[3]);
        var id = cursor.GetIdGetter();
        var s = new List<float[]>();
        var k = new List<uint>();
        var l = new List<string>();
        var w = new List<float>();
        var ids = new List<ulong>();
        var buf = default(VBuffer<float>);
        var text = default(ReadOnlyMemory<char>);
        while (cursor.MoveNext())
        {
            Assert.Equal(s.Count, cursor.Position);
            // Pass-through columns are read before and after the appended ones: both orders give the row's values.
            float wv = 0;
            weight(ref wv);
            w.Add(wv);
            score(ref buf);
            s.Add(buf.DenseValues().ToArray());
            uint p = 0;
            key(ref p);
            k.Add(p);
            label(ref text);
            l.Add(text.ToString());
            var rowId = default(DataViewRowId);
            id(ref rowId);
            ids.Add(rowId.Low);
        }
        return (s.ToArray(), k.ToArray(), l.ToArray(), w.ToArray(), ids.ToArray());
    }

    [Fact]
    public void TheLazyViewReadsItsSourceOnceWithOneCursor()
    {
        var ml = new MLContext(seed: 1);
        var toKey = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(Data(ml, 30));
        using var model = new CentroidTestTrainer(ml, label: "LabelKey").Fit(toKey.Transform(Data(ml, 30)));
        var expected = ReadAll(model.Transform(Data(ml, 23))); // 23 rows: batches of 7, 7, 7, 2

        var source = new CountingDataView(Data(ml, 23), readOnce: true);
        var actual = ReadAll(model.Transform(source));
        Assert.Equal(1, source.Cursors);
        Assert.Equal(23, source.RowsRead);
        Assert.Equal(expected.Scores, actual.Scores);
        Assert.Equal(expected.Predicted, actual.Predicted);
        Assert.Equal(Enumerable.Range(0, 23).Select(i => new[] { "red", "green", "blue" }[i % 3]), actual.Labels);
        Assert.Equal(Enumerable.Range(0, 23).Select(i => (float)i), actual.Weights);
        Assert.Equal(23, actual.Ids.Distinct().Count());
        Assert.Equal(expected.Ids, actual.Ids);
        Assert.All(actual.Predicted, p => Assert.InRange(p, 1u, 3u));

        // Two suite transformers in a chain: still one cursor over the source.
        var chained = new CountingDataView(Data(ml, 23), readOnce: true);
        var twice = ReadAll(model.Transform(model.Transform(chained)));
        Assert.Equal(1, chained.Cursors);
        Assert.Equal(expected.Scores, twice.Scores);
    }

    [Fact]
    public void WithoutAppendedColumnsTheCursorPassesTheSourceThrough()
    {
        var ml = new MLContext(seed: 1);
        var toKey = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label").Fit(Data(ml, 30));
        using var model = new CentroidTestTrainer(ml, label: "LabelKey").Fit(toKey.Transform(Data(ml, 30)));
        var source = new CountingDataView(Data(ml, 9));
        var view = model.Transform(source);
        var weights = view.GetColumn<float>("Weight").ToArray();
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (float)i), weights);
        Assert.Equal(1, source.Cursors);
        // A getter before MoveNext fails clearly instead of reading another row.
        using var cursor = view.GetRowCursor([view.Schema["Score"]]);
        var score = cursor.GetGetter<VBuffer<float>>(view.Schema["Score"]);
        var buf = default(VBuffer<float>);
        Assert.Throws<InvalidOperationException>(() => score(ref buf));
    }
}
