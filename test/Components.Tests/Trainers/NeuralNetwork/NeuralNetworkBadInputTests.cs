using Components.Core.Schema;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Tests.Trainers.NeuralNetwork;

/// <summary>Every kind of bad input gives a clear exception naming what is wrong, at the earliest possible point.</summary>
public sealed class NeuralNetworkBadInputTests
{
    private static readonly MLContext s_ml = new(seed: 0);

    private static NeuralNetworkMulticlassTrainer Multiclass(Action<NeuralNetworkMulticlassTrainer.Options>? configure = null)
    {
        var o = new NeuralNetworkMulticlassTrainer.Options { HiddenLayerWidths = [4], NumberOfEpochs = 1, Seed = 1 };
        configure?.Invoke(o);
        return s_ml.MulticlassClassification.Trainers.NeuralNetwork(o);
    }

    private static NeuralNetworkRegressionTrainer Regression(Action<NeuralNetworkRegressionTrainer.Options>? configure = null)
    {
        var o = new NeuralNetworkRegressionTrainer.Options { HiddenLayerWidths = [4], NumberOfEpochs = 1, Seed = 1 };
        configure?.Invoke(o);
        return s_ml.Regression.Trainers.NeuralNetwork(o);
    }

    private static IDataView Keyed(NeuralNetworkTestData.KeyRow[] rows) => NeuralNetworkTestData.Keyed(s_ml, rows);

    [Fact]
    public void MissingFeatureColumnIsNamedInGetOutputSchemaAndFit()
    {
        var data = s_ml.Data.LoadFromEnumerable(new[] { new { Pixels = new float[3], Label = 1u } });
        var trainer = Multiclass();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(SchemaShapes.FromSchema(data.Schema)));
        Assert.Contains("Could not find feature column 'Features'", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        Assert.Contains("'Features'", ex.Message);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Regression().Fit(data));
        Assert.Contains("'Features'", ex.Message);
    }

    [Fact]
    public void WrongFeatureTypeNamesExpectedAndActualType()
    {
        var data = s_ml.Data.LoadFromEnumerable(new[] { new { Features = 1f, Label = 1f } });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Regression().GetOutputSchema(SchemaShapes.FromSchema(data.Schema)));
        Assert.Contains("Schema mismatch for feature column 'Features': expected known-size vector of Single, got Single", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Regression().Fit(data));
    }

    [Fact]
    public void NonKeyLabelForClassificationAndNonSingleLabelForRegressionAreRejected()
    {
        var stringLabel = s_ml.Data.LoadFromEnumerable(new[] { new NeuralNetworkTestData.RegressionRow { Features = [1, 2, 3], Label = 1 } });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Multiclass().Fit(stringLabel));
        Assert.Contains("label column 'Label': expected key type", ex.Message);
        var keyLabel = Keyed(NeuralNetworkTestData.KeyRows());
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Regression().Fit(keyLabel));
        Assert.Contains("label column 'Label': expected Single", ex.Message);
    }

    [Fact]
    public void WrongVectorSizeIsRejectedForTheCnnTheValidationSetAndTheTrainedModel()
    {
        var data = Keyed(NeuralNetworkTestData.KeyRows());
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Multiclass(o => o.Architecture = NeuralNetworkArchitectureKind.Cnn).Fit(data));
        Assert.Contains("expected known-size vector of Single of length 784", ex.Message);

        var wide = s_ml.Data.LoadFromEnumerable(new[] { new FeatureAndKey { Features = new float[5], Label = 1 } }, SchemaWithKey(5));
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => Multiclass(o => o.ValidationSet = wide).Fit(data));
        Assert.Contains("validation feature column 'Features': expected known-size vector of Single of length 3", ex.Message);

        using var model = Multiclass().Fit(data);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(wide));
        Assert.Contains("length 3", ex.Message);
    }

    [Fact]
    public void ValidationLabelWithOtherClassCountIsRejected()
    {
        var data = Keyed(NeuralNetworkTestData.KeyRows());
        var other = s_ml.Data.LoadFromEnumerable(new[] { new FeatureAndKey { Features = new float[3], Label = 1 } }, SchemaWithKey(3, keyCount: 5));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Multiclass(o => o.ValidationSet = other).Fit(data));
        Assert.Contains("key with 3 classes", ex.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteFeaturesAreRejectedWithColumnAndRowInFitAndTransform(float bad)
    {
        var rows = NeuralNetworkTestData.KeyRows();
        rows[4].Features[1] = bad;
        var ex = Assert.Throws<InvalidOperationException>(() => Multiclass().Fit(Keyed(rows)));
        Assert.Contains("Column 'Features', row 4", ex.Message);

        using var model = Multiclass().Fit(Keyed(NeuralNetworkTestData.KeyRows()));
        ex = Assert.Throws<InvalidOperationException>(() => EstimatorHarness.ReadColumn(model.Transform(Keyed(rows)), "Score"));
        Assert.Contains("'Features'", ex.Message);
    }

    [Fact]
    public void NonFiniteRegressionLabelIsRejected()
    {
        var rows = new[] { new NeuralNetworkTestData.RegressionRow { Features = [1, 2, 3], Label = 1 }, new NeuralNetworkTestData.RegressionRow { Features = [1, 2, 3], Label = float.NaN } };
        var ex = Assert.Throws<InvalidOperationException>(() => Regression().Fit(s_ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Column 'Label', row 1", ex.Message);
    }

    [Fact]
    public void EmptyDataIsRejected()
    {
        var empty = Keyed([]);
        var ex = Assert.Throws<InvalidOperationException>(() => Multiclass().Fit(empty));
        Assert.Contains("no rows", ex.Message);
        ex = Assert.Throws<InvalidOperationException>(() => Regression().Fit(s_ml.Data.LoadFromEnumerable(new List<NeuralNetworkTestData.RegressionRow>())));
        Assert.Contains("no rows", ex.Message);
    }

    [Fact]
    public void MissingLabelKeyIsAnOutOfRangeLabel()
    {
        var rows = NeuralNetworkTestData.KeyRows();
        rows[7].Label = "unknown"; // not one of the key values: key 0 = missing, no class
        var ex = Assert.Throws<InvalidOperationException>(() => Multiclass().Fit(Keyed(rows)));
        Assert.Contains("Column 'Label', row 7: missing label", ex.Message);
    }

    [Fact]
    public void UnknownDeviceFailsAtConstructionAndUnavailableCudaAtFit()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Multiclass(o => o.Device = "tpu"));
        Assert.Contains("Unknown device", ex.Message);
        if (!torch.cuda.is_available())
        {
            var ex2 = Assert.Throws<InvalidOperationException>(() => Multiclass(o => o.Device = "cuda:0").Fit(Keyed(NeuralNetworkTestData.KeyRows())));
            Assert.Contains("CUDA is not available", ex2.Message);
        }
    }

    public static TheoryData<string, Action<NeuralNetworkMulticlassTrainer.Options>> InvalidOptions => new()
    {
        { "HiddenLayerWidths", o => o.HiddenLayerWidths = [8, 0] },
        { "HiddenLayerWidths", o => o.HiddenLayerWidths = [-3] },
        { "HiddenLayerWidths", o => o.HiddenLayerWidths = null! },
        { "LearningRate", o => o.LearningRate = 0 },
        { "LearningRate", o => o.LearningRate = -0.1 },
        { "LearningRate", o => o.LearningRate = double.NaN },
        { "NumberOfEpochs", o => o.NumberOfEpochs = 0 },
        { "BatchSize", o => o.BatchSize = 0 },
        { "BatchSize", o => o.BatchSize = -64 },
        { "WeightVariance", o => o.WeightVariance = 0 },
        { "BiasVariance", o => o.BiasVariance = -1 },
        { "Momentum", o => o.Momentum = 1 },
        { "WeightDecay", o => o.WeightDecay = -1e-4 },
        { "ValidationFraction", o => o.ValidationFraction = 1 },
        { "ValidationFraction", o => { o.ValidationFraction = 0.2; o.ValidationSet = Keyed(NeuralNetworkTestData.KeyRows()); } },
        { "EarlyStoppingPatience", o => o.EarlyStoppingPatience = -1 },
        { "InferenceBatchSize", o => o.InferenceBatchSize = 0 },
        { "Activation", o => o.Activation = (NeuralNetworkActivation)42 },
        { "Optimizer", o => o.Optimizer = (NeuralNetworkOptimizerKind)42 },
        { "Architecture", o => o.Architecture = (NeuralNetworkArchitectureKind)42 },
        { "ConvolutionChannels", o => { o.Architecture = NeuralNetworkArchitectureKind.Cnn; o.ConvolutionChannels = []; } },
        { "ConvolutionChannels", o => { o.Architecture = NeuralNetworkArchitectureKind.Cnn; o.ConvolutionChannels = [4, 0]; } },
        { "ConvolutionChannels", o => { o.Architecture = NeuralNetworkArchitectureKind.Cnn; o.ConvolutionChannels = [1, 1, 1, 1, 1, 1]; } },
        { "ImageHeight", o => { o.Architecture = NeuralNetworkArchitectureKind.Cnn; o.ImageHeight = 0; } },
        { "FeatureColumnName", o => o.FeatureColumnName = "" },
        { "PredictedLabelColumnName", o => o.PredictedLabelColumnName = " " },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void InvalidOptionsFailAtConstructionNamingTheOption(string option, Action<NeuralNetworkMulticlassTrainer.Options> configure)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Multiclass(configure));
        Assert.Equal(option, ex.ParamName);
    }

    [Fact]
    public void InvalidSimpleParametersFailToo()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => s_ml.Regression.Trainers.NeuralNetwork(numberOfEpochs: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => s_ml.Regression.Trainers.NeuralNetwork(hiddenLayerWidths: [0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => s_ml.MulticlassClassification.Trainers.NeuralNetwork(learningRate: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => s_ml.MulticlassClassification.Trainers.NeuralNetwork(batchSize: 0));
    }

    [Fact]
    public void ValidationFractionThatLeavesNoRowIsAClearError()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Multiclass(o => o.ValidationFraction = 0.01).Fit(Keyed(NeuralNetworkTestData.KeyRows(12))));
        Assert.Contains("ValidationFraction", ex.Message);
    }

    private static SchemaDefinition SchemaWithKey(int size, int keyCount = 3)
    {
        var schema = SchemaDefinition.Create(typeof(FeatureAndKey));
        schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
        schema["Label"].ColumnType = new KeyDataViewType(typeof(uint), keyCount);
        return schema;
    }

    private sealed class FeatureAndKey
    {
        public float[] Features { get; set; } = [];

        public uint Label { get; set; }
    }
}
