using Components.Core;
using Components.Core.Schema;
using Components.Tests.Harness;
using Components.Transforms.Svcca;
using Microsoft.ML;
using Microsoft.ML.Data;
using static Components.Tests.Transforms.Svcca.SvccaReferenceCca;

namespace Components.Tests.Transforms.Svcca;

public sealed class SvccaEstimatorTests
{
    private sealed class Row
    {
        [VectorType(8)]
        public float[] ActivationsA { get; set; } = [];

        [VectorType(6)]
        public float[] ActivationsB { get; set; } = [];
    }

    private sealed class RowA
    {
        [VectorType(8)]
        public float[] ActivationsA { get; set; } = [];
    }

    private sealed class BadRow
    {
        public float ActivationsA { get; set; }

        [VectorType(6)]
        public float[] ActivationsB { get; set; } = [];
    }

    private static (List<Row> Rows, double[,] A, double[,] B) Data(int n, int seed)
    {
        var rng = new Random(seed);
        var (a, b) = SharedLatent(rng, n, 8, 6, 3, 0.4);
        // Round to float32 so the library and the check below see identical values.
        var rows = new List<Row>();
        for (int i = 0; i < n; i++)
        {
            var r = new Row { ActivationsA = new float[8], ActivationsB = new float[6] };
            for (int j = 0; j < 8; j++)
                a[i, j] = r.ActivationsA[j] = (float)a[i, j];
            for (int j = 0; j < 6; j++)
                b[i, j] = r.ActivationsB[j] = (float)b[i, j];
            rows.Add(r);
        }
        return (rows, a, b);
    }

    [Fact]
    public void SvccaPassesTheHarness()
    {
        var ml = new MLContext(seed: 1);
        var (rows, _, _) = Data(300, 1);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new BadRow { ActivationsA = 1, ActivationsB = new float[6] } });
        var model = EstimatorHarness.Run(ml, ml.Transforms.Svcca("ActivationsA", "ActivationsB"), ml.Data.LoadFromEnumerable(rows),
            ml.Data.LoadFromEnumerable(Data(50, 2).Rows), invalid, tolerance: 1e-5);
        Assert.True(model.Mean > 0.3);
        model.Dispose();
    }

    [Fact]
    public void FitStreamsBatchesAndEqualsTheMathCore()
    {
        var ml = new MLContext(seed: 1);
        var (rows, a, b) = Data(500, 3);
        var est = ml.Transforms.Svcca(new SvccaEstimator.Options { ColumnA = "ActivationsA", ColumnB = "ActivationsB", BatchSize = 37 });
        using var model = est.Fit(ml.Data.LoadFromEnumerable(rows));
        var direct = SvccaAnalysis.Compute(a, b);
        Assert.Equal(direct.KeptA, model.KeptA);
        Assert.Equal(direct.KeptB, model.KeptB);
        for (int i = 0; i < direct.Components; i++)
            Assert.Equal(direct.Coefficients[i], model.Coefficients[i], 8);
        Assert.Equal(direct.Pwcca, model.Pwcca, 8);
        Assert.Equal(direct.ThresholdMean, model.ThresholdMean, 8);
        Assert.Equal(500, model.Result.Datapoints);
    }

    [Fact]
    public void AppendedColumnsAreCanonicalVariatesCorrelatingByRho()
    {
        var ml = new MLContext(seed: 1);
        var (rows, _, _) = Data(600, 4);
        var data = ml.Data.LoadFromEnumerable(rows);
        using var model = ml.Transforms.Svcca("ActivationsA", "ActivationsB", varianceFraction: 1.0).Fit(data);
        var output = model.Transform(data);
        var za = EstimatorHarness.ReadColumn(output, "SvccaA");
        var zb = EstimatorHarness.ReadColumn(output, "SvccaB");
        Assert.Equal(model.Result.Components, za[0].Length);
        for (int i = 0; i < model.Result.Components; i++)
        {
            var x = za.Select(r => r[i]).ToArray();
            var y = zb.Select(r => r[i]).ToArray();
            Assert.Equal(model.Coefficients[i], Correlation(x, y), 4);
            Assert.Equal(0.0, x.Average(), 4);
        }
    }

    [Fact]
    public void OutputModeAOnlyNeedsColumnAAtTransformTime()
    {
        var ml = new MLContext(seed: 1);
        var (rows, _, _) = Data(200, 5);
        var est = ml.Transforms.Svcca("ActivationsA", "ActivationsB", SvccaOutput.A, dimensions: 3);
        var shape = est.GetOutputSchema(SchemaShapes.FromSchema(ml.Data.LoadFromEnumerable(rows).Schema));
        Assert.Contains(shape, c => c.Name == "SvccaA");
        Assert.DoesNotContain(shape, c => c.Name == "SvccaB");
        using var model = est.Fit(ml.Data.LoadFromEnumerable(rows));
        Assert.Equal(3, model.KeptA);
        var onlyA = ml.Data.LoadFromEnumerable(rows.Select(r => new RowA { ActivationsA = r.ActivationsA }).ToList());
        var za = EstimatorHarness.ReadColumn(model.Transform(onlyA), "SvccaA");
        Assert.Equal(200, za.Count);
        Assert.Equal(3, za[0].Length);
    }

    [Fact]
    public void BadDataGivesErrorsNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var (rows, _, _) = Data(100, 6);
        rows[42].ActivationsB[3] = float.NaN;
        var ex = Assert.Throws<InvalidOperationException>(() => ml.Transforms.Svcca("ActivationsA", "ActivationsB").Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("'ActivationsB', row 42", ex.Message);

        var few = Data(7, 7).Rows;
        var ex2 = Assert.Throws<InvalidOperationException>(() => ml.Transforms.Svcca("ActivationsA", "ActivationsB").Fit(ml.Data.LoadFromEnumerable(few)));
        Assert.Contains("'ActivationsA' has 7 datapoints", ex2.Message);

        var empty = ml.Data.LoadFromEnumerable(new List<Row>());
        Assert.Contains("no rows", Assert.Throws<InvalidOperationException>(() => ml.Transforms.Svcca("ActivationsA", "ActivationsB").Fit(empty)).Message);

        var constant = Data(50, 8).Rows.Select(r => new Row { ActivationsA = new float[8], ActivationsB = r.ActivationsB }).ToList();
        var ex3 = Assert.Throws<InvalidOperationException>(() => ml.Transforms.Svcca("ActivationsA", "ActivationsB").Fit(ml.Data.LoadFromEnumerable(constant)));
        Assert.Contains("'ActivationsA' has no variance", ex3.Message);

        var shape = SchemaShapes.FromSchema(ml.Data.LoadFromEnumerable(rows).Schema);
        var ex4 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Svcca("Missing", "ActivationsB").GetOutputSchema(shape));
        Assert.Contains("'Missing'", ex4.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Svcca("ActivationsA", "ActivationsB", varianceFraction: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Svcca(new SvccaEstimator.Options { BatchSize = 0 }));
    }

    [Fact]
    public void FitHonoursCancellation()
    {
        var ml = new MLContext(seed: 1);
        var (rows, _, _) = Data(100, 10);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var est = ml.Transforms.Svcca(new SvccaEstimator.Options { BatchSize = 10, CancellationToken = cts.Token });
        Assert.ThrowsAny<OperationCanceledException>(() => est.Fit(ml.Data.LoadFromEnumerable(rows)));
    }

    [Fact]
    public void SavedModelKeepsItsResult()
    {
        var ml = new MLContext(seed: 1);
        var (rows, _, _) = Data(200, 9);
        var data = ml.Data.LoadFromEnumerable(rows);
        using var model = ml.Transforms.Svcca("ActivationsA", "ActivationsB").Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = (SvccaTransformer)new MLContext().RegisterComponents().Model.Load(stream, out _);
        Assert.Equal(model.Coefficients, loaded.Coefficients);
        Assert.Equal(model.Pwcca, loaded.Pwcca);
        Assert.Equal(model.Result.LinearCka, loaded.Result.LinearCka);
        Assert.Equal(model.KeptB, loaded.KeptB);
        loaded.Dispose();
    }
}
