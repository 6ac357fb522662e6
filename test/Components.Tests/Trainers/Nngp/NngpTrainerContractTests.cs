using Components.Core;
using Components.Core.Schema;
using Components.Tests.Harness;
using Components.Trainers.Nngp;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Xunit.Abstractions;

namespace Components.Tests.Trainers.Nngp;

/// <summary>The NNGP trainers as ML.NET trainers: ITrainerEstimator, typed model parameters, scorer annotations, permutation feature importance.</summary>
public class NngpTrainerContractTests(ITestOutputHelper output)
{
    private const int D = 4;

    public sealed class Row
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public float Target { get; set; }
    }

    /// <summary>
    /// Feature 0 carries the label (class c at c + 0.35·noise; the regression target is mostly f0), features 1 and 2
    /// carry it weakly, feature 3 is pure noise. The features share the class offset, which a per-row layer norm would
    /// remove, so the importance tests turn InputLayerNorm off.
    /// </summary>
    private static IDataView Data(MLContext ml, int n, int seed)
    {
        var rng = new Random(seed);
        var rows = Enumerable.Range(0, n).Select(i =>
        {
            int c = i % 3;
            var f = new[] { c + 0.35 * Normal(rng), c + 0.6 * Normal(rng), c + 0.6 * Normal(rng), Normal(rng) };
            return new Row
            {
                Label = "abc"[c].ToString(),
                Features = f.Select(v => (float)v).ToArray(),
                Target = (float)(2 * f[0] + 0.5 * f[1] + 0.5 * f[2] + 0.1 * Normal(rng)),
            };
        }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }

    [Fact]
    public void TrainersAreTrainerEstimatorsWithTypedModelParameters()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 60, 1);
        var trainer = ml.MulticlassClassification.Trainers.Nngp(depth: 2);
        ITrainerEstimator<NngpMulticlassModel, NngpModelParameters> asTrainer = trainer;
        Assert.False(asTrainer.Info.NeedNormalization);
        Assert.False(asTrainer.Info.WantCaching);

        var chain = ml.Transforms.CopyColumns("Features", "Features").Append(trainer).Fit(data);
        using var model = chain.LastTransformer;
        NngpModelParameters parameters = model.Model;
        Assert.Equal(60, parameters.TrainingRows);
        Assert.Equal(D, parameters.Features);
        Assert.Equal(3, parameters.Outputs);
        Assert.Equal(2, parameters.Architecture.Depth);
        Assert.Equal(NngpFactorKind.Cholesky, parameters.FactorKind);
        Assert.True(parameters.HasVariance && parameters.OutputScale > 0);
        Assert.Equal("Features", model.FeatureColumnName);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, D), model.FeatureColumnType);
        ISingleFeaturePredictionTransformer<NngpModelParameters> asPrediction = model;
        Assert.Same(parameters, asPrediction.Model);

        using var regression = ml.Regression.Trainers.Nngp(labelColumnName: "Target", depth: 2).Fit(data);
        Assert.Equal(1, regression.Model.Outputs);
        Assert.False(((ITrainerEstimator<NngpRegressionModel, NngpModelParameters>)ml.Regression.Trainers.Nngp()).Info.NeedNormalization);
    }

    [Fact]
    public void ScoreColumnsCarryTheAnnotationsOfSdca()
    {
        var ml = new MLContext(seed: 2);
        var data = Data(ml, 45, 2);
        var shape = SchemaShapes.FromSchema(data.Schema);

        var sdca = ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 2);
        var nngp = ml.MulticlassClassification.Trainers.Nngp(depth: 1);
        var sdcaSchema = sdca.Fit(data).Transform(data).Schema;
        using var model = nngp.Fit(data);
        var ourSchema = model.Transform(data).Schema;
        foreach (var name in new[] { "Score", "PredictedLabel" })
        {
            Assert.Equal(AnnotationDump.Describe(sdca.GetOutputSchema(shape).Single(c => c.Name == name)), AnnotationDump.Describe(nngp.GetOutputSchema(shape).Single(c => c.Name == name)));
            Assert.Equal(AnnotationDump.Describe(sdcaSchema[name]), AnnotationDump.Describe(ourSchema[name]));
            Assert.Equal(sdcaSchema[name].Type, ourSchema[name].Type);
        }

        var sdcaReg = ml.Regression.Trainers.Sdca("Target", maximumNumberOfIterations: 2);
        var nngpReg = ml.Regression.Trainers.Nngp(labelColumnName: "Target", depth: 1);
        var sdcaRegSchema = sdcaReg.Fit(data).Transform(data).Schema;
        using var regModel = nngpReg.Fit(data);
        Assert.Equal(AnnotationDump.Describe(sdcaReg.GetOutputSchema(shape).Single(c => c.Name == "Score")), AnnotationDump.Describe(nngpReg.GetOutputSchema(shape).Single(c => c.Name == "Score")));
        Assert.Equal(AnnotationDump.Describe(sdcaRegSchema["Score"]), AnnotationDump.Describe(regModel.Transform(data).Schema["Score"]));
    }

    [Fact]
    public void MulticlassPermutationFeatureImportanceRanksTheLabelFeatureFirstAndNoiseLast()
    {
        var ml = new MLContext(seed: 3);
        using var model = ml.MulticlassClassification.Trainers.Nngp(new NngpMulticlassTrainer.Options { Depth = 2, Regularizer = 1e-2, InputLayerNorm = false }).Fit(Data(ml, 240, 3));
        var pfi = ml.MulticlassClassification.PermutationFeatureImportance(model, Data(ml, 300, 4), permutationCount: 4);
        var drops = pfi.Select(m => m.MicroAccuracy.Mean).ToArray();
        output.WriteLine("micro-accuracy change per feature: " + string.Join(", ", drops.Select(d => d.ToString("F4"))));
        Assert.Equal(0, Array.IndexOf(drops, drops.Min()));
        Assert.Equal(D - 1, Array.IndexOf(drops, drops.Max()));
        Assert.True(drops[0] < -0.2, $"feature 0: {drops[0]}");
        // Scores are probabilities now, so the log-loss reacts too.
        Assert.True(pfi[0].LogLoss.Mean > 0.2, $"log-loss change of feature 0: {pfi[0].LogLoss.Mean}");
    }

    [Fact]
    public void RegressionPermutationFeatureImportanceRanksTheLabelFeatureFirstAndNoiseLast()
    {
        var ml = new MLContext(seed: 5);
        using var model = ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options { LabelColumnName = "Target", Depth = 2, Regularizer = 1e-2, InputLayerNorm = false }).Fit(Data(ml, 240, 5));
        var pfi = ml.Regression.PermutationFeatureImportance(model, Data(ml, 300, 6), labelColumnName: "Target", permutationCount: 4);
        var drops = pfi.Select(m => m.RSquared.Mean).ToArray();
        output.WriteLine("R² change per feature: " + string.Join(", ", drops.Select(d => d.ToString("F4"))));
        Assert.Equal(0, Array.IndexOf(drops, drops.Min()));
        Assert.Equal(D - 1, Array.IndexOf(drops, drops.Max()));
        Assert.True(drops[0] < -0.5, $"feature 0: {drops[0]}");
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
