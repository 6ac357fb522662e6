using Components.Core.Internal;
using Components.Core.Schema;
using Components.Core.Trainers;
using Components.Tests.Harness;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace Components.Tests.Core.Trainers;

/// <summary>The Core pieces of ML.NET's trainer contracts: TrainerInfo, score-column annotations, the prediction-transformer base.</summary>
public sealed class CoreTrainerContractTests
{
    private sealed class Row
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public float Target { get; set; }
    }

    // Feature 0 carries the class (and the target); features 1 and 2 are noise.
    private static IDataView Data(MLContext ml, int n, int seed)
    {
        var rng = new Random(seed);
        var names = new[] { "red", "green", "blue" };
        var rows = Enumerable.Range(0, n).Select(i => new Row
        {
            Label = names[i % 3],
            Target = i % 3,
            Features = [3f * (i % 3) + 0.3f * (float)rng.NextDouble(), (float)rng.NextDouble(), (float)rng.NextDouble()],
        }).ToList();
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
    }

    [Fact]
    public void TrainerInfoIsBuiltThroughTheShimWithTheRequestedFlags()
    {
        // The constructor is internal in ML.NET 5.0.1; if it becomes public, drop the reflection.
        Assert.Empty(typeof(TrainerInfo).GetConstructors());
        var info = MlNetShim.CreateTrainerInfo(normalization: true, caching: false, supportsValidation: true);
        Assert.True(info.NeedNormalization);
        Assert.False(info.WantCaching);
        var other = MlNetShim.CreateTrainerInfo(normalization: false, caching: true, supportsValidation: false);
        Assert.False(other.NeedNormalization);
        Assert.True(other.WantCaching);
    }

    [Fact]
    public void MulticlassOutputsCarryTheAnnotationsOfSdca()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 30, 1);
        var sdca = ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 2);
        var ours = new CentroidTestTrainer(ml);
        var shape = SchemaShapes.FromSchema(data.Schema);

        var sdcaShape = sdca.GetOutputSchema(shape);
        var ourShape = ours.GetOutputSchema(shape);
        var sdcaSchema = sdca.Fit(data).Transform(data).Schema;
        using var model = ours.Fit(data);
        var ourSchema = model.Transform(data).Schema;
        foreach (var name in new[] { "Score", "PredictedLabel" })
        {
            Assert.Equal(AnnotationDump.Describe(sdcaShape.Single(c => c.Name == name)), AnnotationDump.Describe(ourShape.Single(c => c.Name == name)));
            Assert.Equal(AnnotationDump.Describe(sdcaSchema[name]), AnnotationDump.Describe(ourSchema[name]));
            Assert.Equal(sdcaSchema[name].Type, ourSchema[name].Type);
        }
        Assert.Contains("SlotNames: Vector<String, 3> = [red, green, blue]", AnnotationDump.Describe(ourSchema["Score"]));
    }

    [Fact]
    public void RegressionOutputCarriesTheAnnotationsOfSdcaAndTakesTheNextScoreSetId()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 30, 2);
        var sdca = ml.Regression.Trainers.Sdca("Target", maximumNumberOfIterations: 2);
        var once = sdca.Fit(data).Transform(data);
        var twice = ml.Regression.Trainers.Sdca("Target", maximumNumberOfIterations: 2).Fit(once).Transform(once);
        var ours = PredictionColumns.Regression()[0];

        Assert.Equal(AnnotationDump.Describe(once.Schema["Score"]), AnnotationDump.Describe(Column(ours, data.Schema)));
        // A second scorer in the same pipeline gets set id 2, in ML.NET and here.
        Assert.Equal(AnnotationDump.Describe(twice.Schema["Score"]), AnnotationDump.Describe(Column(ours, once.Schema)));
        Assert.Contains("ScoreColumnSetId: Key<UInt32, 0-2147483646> = 2", AnnotationDump.Describe(Column(ours, once.Schema)));

        var sdcaShape = sdca.GetOutputSchema(SchemaShapes.FromSchema(data.Schema)).Single(c => c.Name == "Score");
        var ourShape = PredictionColumns.RegressionShape(SchemaShapes.FromSchema(data.Schema), "Features", "Target").Single(c => c.Name == "Score");
        Assert.Equal(AnnotationDump.Describe(sdcaShape), AnnotationDump.Describe(ourShape));
    }

    private static DataViewSchema.Column Column(Components.Core.Mapping.OutputColumn output, DataViewSchema input)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(output.Name, output.Type, output.BuildAnnotations(input));
        return builder.ToSchema()[output.Name];
    }

    [Fact]
    public void PredictionTransformerBaseExposesTypedParametersAndWorksWithPermutationFeatureImportance()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 90, 3);
        var chain = ml.Transforms.CopyColumns("Features", "Features").Append(new CentroidTestTrainer(ml)).Fit(data);
        using var model = chain.LastTransformer;
        CentroidTestParameters parameters = model.Model;
        Assert.Equal(9, parameters.Centroids.Count);
        Assert.Equal("Features", model.FeatureColumnName);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3), model.FeatureColumnType);

        var pfi = ml.MulticlassClassification.PermutationFeatureImportance(model, data, permutationCount: 2);
        var drops = pfi.Select(m => m.MacroAccuracy.Mean).ToArray();
        // Permuting the class-carrying feature destroys accuracy; permuting noise costs (almost) nothing.
        Assert.True(drops[0] < -0.3, $"feature 0: {drops[0]}");
        Assert.True(Math.Abs(drops[1]) < 0.1 && Math.Abs(drops[2]) < 0.1, $"noise: {drops[1]}, {drops[2]}");
    }
}
