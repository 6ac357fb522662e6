using Components.Core;
using Components.Core.Schema;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Xunit;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>
/// ML.NET's trainer contracts on the neural-network trainers: ITrainerEstimator + typed model parameters,
/// PermutationFeatureImportance, the scorer annotations of SDCA, and concurrent PredictionEngines.
/// </summary>
public sealed class NeuralNetworkContractTests
{
    private sealed class Row
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public float Target { get; set; }
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }

    // Feature 0 carries the class and the target; features 1 and 2 are pure noise.
    private static IDataView Data(MLContext ml, int n, int seed)
    {
        var rng = new Random(seed);
        var names = new[] { "red", "green", "blue" };
        var rows = Enumerable.Range(0, n).Select(i =>
        {
            int c = i % 3;
            float signal = (c - 1) * 1.5f + 0.2f * (float)(rng.NextDouble() - 0.5);
            return new Row
            {
                Label = names[c],
                Target = 2 * signal,
                Features = [signal, (float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1)],
            };
        }).ToList();
        var view = ml.Data.LoadFromEnumerable(rows);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
    }

    // Named arguments of the simple overloads: independent of where the options classes live.
    private static NeuralNetworkMulticlassTrainer Multiclass(MLContext ml, int epochs = 30)
        => ml.MulticlassClassification.Trainers.NeuralNetwork(hiddenLayerWidths: [16], numberOfEpochs: epochs, batchSize: 16, learningRate: 0.01, seed: 1);

    private static NeuralNetworkRegressionTrainer Regression(MLContext ml, int epochs = 30)
        => ml.Regression.Trainers.NeuralNetwork(labelColumnName: "Target", hiddenLayerWidths: [16], numberOfEpochs: epochs, batchSize: 16, learningRate: 0.01, seed: 1);

    [Fact]
    public void TrainersAreTrainerEstimatorsAndTheLastTransformerHasTypedModelParameters()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 60, 1);
        ITrainerEstimator<NeuralNetworkMulticlassModel, NeuralNetworkModelParameters> trainer = Multiclass(ml);
        Assert.True(trainer.Info.NeedNormalization);
        Assert.False(trainer.Info.WantCaching);
        var chain = ml.Transforms.NormalizeMinMax("Features").Append(trainer).Fit(data);
        using var model = chain.LastTransformer;
        NeuralNetworkModelParameters parameters = model.Model;
        Assert.Equal(3, parameters.Architecture.InputSize);
        Assert.Same(parameters.Module, model.Module);
        Assert.Equal(30, parameters.TrainingHistory.Count);
        Assert.Equal("Features", model.FeatureColumnName);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3), model.FeatureColumnType);
        Assert.True(Multiclass(ml).Info.NeedNormalization && Regression(ml).Info.NeedNormalization);
    }

    [Fact]
    public void MulticlassPermutationFeatureImportanceRanksTheLabelFeatureFirstAndNoiseLast()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 150, 2);
        using var model = Multiclass(ml).Fit(data);
        Assert.True(ml.MulticlassClassification.Evaluate(model.Transform(data)).MacroAccuracy > 0.95);
        var pfi = ml.MulticlassClassification.PermutationFeatureImportance(model, data, permutationCount: 3);
        var change = pfi.Select(m => m.MacroAccuracy.Mean).ToArray();
        // Most important = largest accuracy loss when permuted.
        var ranking = Enumerable.Range(0, 3).OrderBy(i => change[i]).ToArray();
        Assert.Equal(0, ranking[0]);
        Assert.True(change[0] < -0.3, $"signal: {change[0]}");
        Assert.True(Math.Abs(change[ranking[2]]) < 0.05, $"noise: {change[1]}, {change[2]}");
    }

    [Fact]
    public void RegressionPermutationFeatureImportanceRanksTheLabelFeatureFirstAndNoiseLast()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 150, 3);
        using var model = Regression(ml).Fit(data);
        Assert.True(ml.Regression.Evaluate(model.Transform(data), "Target").RSquared > 0.9);
        var pfi = ml.Regression.PermutationFeatureImportance(model, data, labelColumnName: "Target", permutationCount: 3);
        var change = pfi.Select(m => m.RSquared.Mean).ToArray();
        var ranking = Enumerable.Range(0, 3).OrderBy(i => change[i]).ToArray();
        Assert.Equal(0, ranking[0]);
        Assert.True(change[0] < -0.5, $"signal: {change[0]}");
        Assert.True(Math.Abs(change[ranking[2]]) < 0.05, $"noise: {change[1]}, {change[2]}");
    }

    [Fact]
    public void MulticlassScoreColumnsCarryTheAnnotationsOfSdca()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 30, 4);
        var shape = SchemaShapes.FromSchema(data.Schema);
        var sdca = ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 2);
        var ours = Multiclass(ml, epochs: 1);
        var sdcaSchema = sdca.Fit(data).Transform(data).Schema;
        using var model = ours.Fit(data);
        var ourSchema = model.Transform(data).Schema;
        foreach (var name in new[] { "Score", "PredictedLabel" })
        {
            Assert.Equal(AnnotationDump.Describe(sdca.GetOutputSchema(shape).Single(c => c.Name == name)),
                AnnotationDump.Describe(ours.GetOutputSchema(shape).Single(c => c.Name == name)));
            Assert.Equal(AnnotationDump.Describe(sdcaSchema[name]), AnnotationDump.Describe(ourSchema[name]));
            Assert.Equal(sdcaSchema[name].Type, ourSchema[name].Type);
        }
        Assert.Contains("SlotNames: Vector<String, 3> = [red, green, blue]", AnnotationDump.Describe(ourSchema["Score"]));
        Assert.Contains("KeyValues: Vector<String, 3> = [red, green, blue]", AnnotationDump.Describe(ourSchema["PredictedLabel"]));
    }

    [Fact]
    public void RegressionScoreColumnCarriesTheAnnotationsOfSdca()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 30, 5);
        var shape = SchemaShapes.FromSchema(data.Schema);
        var sdca = ml.Regression.Trainers.Sdca("Target", maximumNumberOfIterations: 2);
        var ours = Regression(ml, epochs: 1);
        using var model = ours.Fit(data);
        Assert.Equal(AnnotationDump.Describe(sdca.GetOutputSchema(shape).Single(c => c.Name == "Score")),
            AnnotationDump.Describe(ours.GetOutputSchema(shape).Single(c => c.Name == "Score")));
        Assert.Equal(AnnotationDump.Describe(sdca.Fit(data).Transform(data).Schema["Score"]), AnnotationDump.Describe(model.Transform(data).Schema["Score"]));
    }

    [Fact]
    public void FourThreadsOfPredictionEnginesGiveTheSequentialOutputsAndDisposeFreesTheNetwork()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 60, 6);
        var model = Multiclass(ml).Fit(data);
        var inputs = Enumerable.Range(0, 400).Select(i => new Row { Features = [(i % 7 - 3) * 0.5f, i % 5 * 0.1f, -i % 3 * 0.2f] }).ToArray();
        var sequentialEngine = ml.Model.CreatePredictionEngine<Row, ScoreRow>(model);
        var expected = inputs.Select(r => sequentialEngine.Predict(r).Score).ToArray();

        var actual = new float[inputs.Length][];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            var engine = ml.Model.CreatePredictionEngine<Row, ScoreRow>(model);
            for (int i = t; i < inputs.Length; i += 4)
                actual[i] = engine.Predict(inputs[i]).Score;
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (int i = 0; i < inputs.Length; i++)
            Assert.Equal(expected[i], actual[i]);

        var weights = model.Module.parameters().ToList();
        Assert.All(weights, p => Assert.False(p.IsInvalid));
        model.Dispose();
        Assert.True(model.Model.Owner.IsDisposed);
        Assert.All(weights, p => Assert.True(p.IsInvalid));
    }
}
