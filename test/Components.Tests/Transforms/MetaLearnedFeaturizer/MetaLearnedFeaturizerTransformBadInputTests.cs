using Components.Transforms.MetaLearnedFeaturizer;
using Microsoft.ML;
using Microsoft.ML.Data;
using static Components.Tests.Transforms.MetaLearnedFeaturizer.MetaLearnedFeaturizerEstimatorTests;

namespace Components.Tests.Transforms.MetaLearnedFeaturizer;

/// <summary>Bad inputs to <c>ml.Transforms.MetaLearnedFeaturizer</c>: each fails with an exception that says what is wrong.</summary>
public sealed class MetaLearnedFeaturizerTransformBadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mlur-featurizer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class NarrowRow
    {
        [VectorType(10)]
        public float[] Features { get; set; } = [];
    }

    private sealed class DoubleRow
    {
        [VectorType(Width)]
        public double[] Features { get; set; } = [];
    }

    [Fact]
    public void NonFiniteValuesEmptyDataAndOneRowAreRejectedNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var est = ml.Transforms.MetaLearnedFeaturizer(Small());
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity })
        {
            var rows = Data(20, 1);
            rows[7].Features[3] = bad;
            var ex = Assert.Throws<InvalidOperationException>(() => est.Fit(ml.Data.LoadFromEnumerable(rows)));
            Assert.Contains("Features", ex.Message);
        }
        Assert.Contains("Features", Assert.Throws<InvalidOperationException>(() => est.Fit(ml.Data.LoadFromEnumerable(new List<Row>()))).Message);
        Assert.Contains("at least 2", Assert.Throws<InvalidOperationException>(() => est.Fit(ml.Data.LoadFromEnumerable(Data(1, 1)))).Message);

        using var model = est.Fit(ml.Data.LoadFromEnumerable(Data(20, 1)));
        var nan = Data(5, 2);
        nan[2].Features[0] = float.NaN;
        var transformed = model.Transform(ml.Data.LoadFromEnumerable(nan));
        Assert.Contains("Features", Assert.Throws<InvalidOperationException>(() => transformed.Preview()).Message);
    }

    [Fact]
    public void AMissingColumnOrAWrongTypeOrSizeIsASchemaMismatchNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var est = ml.Transforms.MetaLearnedFeaturizer(Small());
        var doubles = ml.Data.LoadFromEnumerable(new[] { new DoubleRow { Features = new double[Width] } });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => est.Fit(doubles));
        Assert.Contains("Features", ex.Message);
        Assert.Contains("Single", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => est.GetOutputSchema(Components.Core.Schema.SchemaShapes.FromSchema(doubles.Schema)));
        var missing = ml.Transforms.MetaLearnedFeaturizer(new MetaLearnedFeaturizerEstimator.Options { InputColumnName = "Pixels" });
        Assert.Contains("Pixels", Assert.Throws<ArgumentOutOfRangeException>(() => missing.Fit(doubles)).Message);

        using var model = est.Fit(ml.Data.LoadFromEnumerable(Data(20, 1)));
        var narrow = ml.Data.LoadFromEnumerable(new[] { new NarrowRow { Features = new float[10] } });
        var wrong = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(narrow));
        Assert.Contains("length 12", wrong.Message);
        Assert.Contains("Features", wrong.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.GetOutputSchema(narrow.Schema));
    }

    [Fact]
    public void AMissingOrUnknownRuleFileIsRefusedNamingTheFile()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Data(20, 1));
        var missing = Path.Combine(_dir, "none.bin");
        var options = Small();
        options.RulePath = missing;
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => ml.Transforms.MetaLearnedFeaturizer(options).Fit(data)).Message);

        var garbage = Path.Combine(_dir, "garbage.bin");
        File.WriteAllText(garbage, "not a rule");
        options.RulePath = garbage;
        var ex = Assert.Throws<FormatException>(() => ml.Transforms.MetaLearnedFeaturizer(options).Fit(data));
        Assert.Contains("unknown rule file", ex.Message);
        Assert.Contains(garbage, ex.Message);

        // A rule of other sizes than the shipped one is fine: the rule has no width-dependent parameters.
        var other = Path.Combine(_dir, "other.bin");
        using (var rule = new LocalUpdateRule(new LocalUpdateRuleOptions { DeltaDim = 3, HiddenDim = 6, Seed = 2 }))
            LocalUpdateRuleFile.Save(rule, other);
        options.RulePath = other;
        using var model = ml.Transforms.MetaLearnedFeaturizer(options).Fit(data);
        Assert.Equal(other, model.RuleSource);
    }

    [Fact]
    public void BadOptionsAreRejectedByName()
    {
        var ml = new MLContext(seed: 1);
        MetaLearnedFeaturizerEstimator.Options O(Action<MetaLearnedFeaturizerEstimator.Options> edit)
        {
            var o = Small();
            edit(o);
            return o;
        }
        void Bad(string name, Action<MetaLearnedFeaturizerEstimator.Options> edit) =>
            Assert.Contains(name, Assert.ThrowsAny<ArgumentException>(() => ml.Transforms.MetaLearnedFeaturizer(O(edit))).Message);
        Bad("HiddenWidths", o => o.HiddenWidths = []);
        Bad("HiddenWidths", o => o.HiddenWidths = [4, 0]);
        Bad("InnerSteps", o => o.InnerSteps = -1);
        Bad("BatchSize", o => o.BatchSize = 1);
        Bad("LearningRate", o => o.LearningRate = double.NaN);
        Bad("LearningRate", o => o.LearningRate = 0);
        Bad("OutputColumnName", o => o.OutputColumnName = " ");
        Bad("RulePath", o => o.RulePath = "");
    }
}
