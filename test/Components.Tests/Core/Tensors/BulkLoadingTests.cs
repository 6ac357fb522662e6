using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Tests.Core.Tensors;

public sealed class BulkLoadingTests
{
    private sealed class Row
    {
        [VectorType(5)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public float Target { get; set; }
    }

    private static Row[] Rows(int n) => Enumerable.Range(0, n)
        .Select(i => new Row { Features = Enumerable.Range(0, 5).Select(j => i * 10f + j).ToArray(), Label = (i % 3).ToString(), Target = 0.5f * i - 3 })
        .ToArray();

    private static void AssertRows(torch.Tensor t, int n)
    {
        Assert.Equal(new long[] { n, 5 }, t.shape);
        var values = TensorData.ToSingleArray(t);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 5; j++)
                Assert.Equal(i * 10f + j, values[i * 5 + j]);
    }

    [Theory]
    [InlineData(false)] // the reported count
    [InlineData(true)] // no count: every row goes through the overflow chunks
    public void LoadFeaturesReadsASourceOnceWithOneCursor(bool unknownCount)
    {
        var ml = new MLContext(seed: 1);
        var source = new CountingDataView(ml.Data.LoadFromEnumerable(Rows(4100 + 17)), readOnce: true, reportedRows: unknownCount ? () => null : null);
        using var t = DataLoading.LoadFeatures(source, "Features");
        AssertRows(t, 4117);
        Assert.Equal(1, source.Cursors);
        Assert.Equal(4117, source.RowsRead);
    }

    [Theory]
    [InlineData(10)] // the source reports fewer rows than it has
    [InlineData(40)] // more
    public void AMisreportedRowCountStillLoadsEveryRowInOnePass(long reported)
    {
        var ml = new MLContext(seed: 1);
        var source = new CountingDataView(ml.Data.LoadFromEnumerable(Rows(23)), readOnce: true, reportedRows: () => reported);
        using var t = DataLoading.LoadFeatures(source, "Features");
        AssertRows(t, 23);
        Assert.Equal(1, source.Cursors);
    }

    [Fact]
    public void LargeDataPathFillsANativeTensorThroughBlocksOfRows()
    {
        // The path taken above Array.MaxLength values / 2 GiB per span, with limits lowered so that 23 rows need a
        // native tensor and 8 blocks of 3 rows (the last one shorter): the same values as the managed path.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(23));
        var limits = new StorageLimits(MaxManagedElements: 50, MaxBlockBytes: 3 * 5 * sizeof(float) + 7);
        using var t = DataLoading.LoadFeatures(data, "Features", "feature", true, default, limits);
        AssertRows(t, 23);
        using var storage = new RowStorage(23, 5, limits);
        Assert.Equal(3, storage.BlockRows);
        storage.Block(22, out long start, out long end);
        Assert.Equal((21L, 23L), (start, end));
    }

    [Fact]
    public void BlockIndexingCoversDataBeyondTwoGibibytes()
    {
        // 5·10⁹ rows of 784 floats (15.7 TB): blocks of whole rows, each under 2 GiB, addressed with 64-bit offsets.
        const long rows = 5_000_000_000;
        long blockRows = RowStorage.BlockRowsFor(784, StorageLimits.Default);
        Assert.True(blockRows * 784 * sizeof(float) <= int.MaxValue);
        Assert.True((blockRows + 1) * 784 * sizeof(float) > int.MaxValue);
        var (start, end) = RowStorage.BlockRange(rows - 1, blockRows, rows);
        Assert.Equal(rows, end);
        Assert.Equal(0, start % blockRows);
        Assert.True(end - start <= blockRows && end - start > 0);
        var (s2, e2) = RowStorage.BlockRange(3 * blockRows + 5, blockRows, rows);
        Assert.Equal((3 * blockRows, 4 * blockRows), (s2, e2));
    }

    [Fact]
    public void LoadedTensorOwnsItsStorageAfterTheSourceIsGone()
    {
        var ml = new MLContext(seed: 1);
        torch.Tensor t;
        using (var scope = torch.NewDisposeScope())
        {
            t = DataLoading.LoadFeatures(ml.Data.LoadFromEnumerable(Rows(7)), "Features").MoveToOuterDisposeScope();
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using (t)
        {
            AssertRows(t, 7);
            using var doubled = t.mul(2); // usable by torch ops
            Assert.Equal(2 * (6 * 10f + 4), doubled[6, 4].item<float>());
        }
    }

    private static IDataView Keyed(MLContext ml, Row[] rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FeaturesAndKeyLabelsLoadInOnePassAsTheTwoLoadersDo(bool unknownCount)
    {
        var ml = new MLContext(seed: 1);
        var data = Keyed(ml, Rows(4100 + 17));
        var source = new CountingDataView(data, readOnce: true, reportedRows: unknownCount ? () => null : null);
        var (x, y, names) = DataLoading.LoadFeaturesAndKeyLabels(source, "Features", "Label");
        using (x)
        using (y)
        {
            Assert.Equal(1, source.Cursors);
            AssertRows(x, 4117);
            Assert.Equal(["0", "1", "2"], names); // keys in order of first appearance: row i has class i % 3
            Assert.Equal(Enumerable.Range(0, 4117).Select(i => (long)(i % 3)).ToArray(), y.data<long>().ToArray());
            using var x2 = DataLoading.LoadFeatures(data, "Features");
            var (y2, names2) = DataLoading.LoadKeyLabels(data, "Label");
            using (y2)
            {
                Assert.Equal(TensorData.ToSingleArray(x2), TensorData.ToSingleArray(x));
                Assert.Equal(y2.data<long>().ToArray(), y.data<long>().ToArray());
                Assert.Equal(names2, names);
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FeaturesAndSingleLabelsLoadInOnePassAsTheTwoLoadersDo(bool unknownCount)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(4100 + 17));
        var source = new CountingDataView(data, readOnce: true, reportedRows: unknownCount ? () => null : null);
        var (x, y) = DataLoading.LoadFeaturesAndSingle(source, "Features", "Target");
        using (x)
        using (y)
        {
            Assert.Equal(1, source.Cursors);
            AssertRows(x, 4117);
            Assert.Equal(new long[] { 4117 }, y.shape);
            Assert.Equal(Enumerable.Range(0, 4117).Select(i => 0.5f * i - 3).ToArray(), TensorData.ToSingleArray(y));
            using var y2 = DataLoading.LoadSingle(data, "Target");
            Assert.Equal(TensorData.ToSingleArray(y2), TensorData.ToSingleArray(y));
        }
    }

    [Fact]
    public void SeveralVectorColumnsLoadInOnePass()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.CopyColumns("Copy", "Features").Fit(ml.Data.LoadFromEnumerable(Rows(9))).Transform(ml.Data.LoadFromEnumerable(Rows(9)));
        var source = new CountingDataView(data, readOnce: true);
        var t = DataLoading.LoadVectors(source, ["Features", "Copy"]);
        using (t[0])
        using (t[1])
        {
            Assert.Equal(1, source.Cursors);
            AssertRows(t[0], 9);
            AssertRows(t[1], 9);
        }
    }

    [Theory]
    [InlineData(3, float.NaN, "Column 'Target', row 3: value is NaN (label must be finite).")]
    [InlineData(4, float.PositiveInfinity, "Column 'Target', row 4: value is ∞ (label must be finite).")]
    public void BadSingleLabelIsNamedByColumnAndRow(int row, float value, string message)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(8);
        rows[row].Target = value;
        rows[6].Features[2] = float.NaN; // a later bad feature: the first bad row is reported
        var ex = Assert.Throws<InvalidOperationException>(() => DataLoading.LoadFeaturesAndSingle(ml.Data.LoadFromEnumerable(rows), "Features", "Target"));
        Assert.Equal(message.Replace("∞", float.PositiveInfinity.ToString()), ex.Message);
    }

    [Fact]
    public void BadFeatureAndMissingKeyAreNamedByColumnAndRow()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(8);
        rows[2].Features[1] = float.NaN;
        var ex = Assert.Throws<InvalidOperationException>(() => DataLoading.LoadFeaturesAndKeyLabels(Keyed(ml, rows), "Features", "Label"));
        Assert.Equal("Column 'Features', row 2: slot 1 is NaN (features must be finite).", ex.Message);

        var data = ml.Data.LoadFromEnumerable(Rows(8));
        var keys = ml.Data.LoadFromEnumerable(new[] { new { Label = "0" }, new { Label = "1" } }); // class "2" (rows 2, 5) maps to the missing key
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(data).Transform(data);
        ex = Assert.Throws<InvalidOperationException>(() => DataLoading.LoadFeaturesAndKeyLabels(keyed, "Features", "Label"));
        Assert.Equal("Column 'Label', row 2: missing label (key value 0).", ex.Message);
    }
}
