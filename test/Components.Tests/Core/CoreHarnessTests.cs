using Components.Core.Mapping;
using Components.Core.Tensors;
using Components.Tests.Harness;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Components.Tests.Core;

/// <summary>The harness's PredictionEngine checks catch what they are there to catch.</summary>
public sealed class CoreHarnessTests
{
    private sealed class Row
    {
        [VectorType(3)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>Doubles its input; optionally through a shared scratch buffer (a data race) or leaking a tensor per batch.</summary>
    private sealed class FaultyModel : AppendColumnsTransformer
    {
        private readonly bool _race;
        private readonly bool _leak;
        private readonly float[] _scratch = new float[3];

        public FaultyModel(IHostEnvironment env, bool race, bool leak)
            : base(env, nameof(FaultyModel))
        {
            _race = race;
            _leak = leak;
        }

        protected override IReadOnlyList<InputColumn> Inputs { get; } = [new InputColumn("Features", 3, "feature")];

        protected override IReadOnlyList<OutputColumn> Outputs { get; } = [OutputColumn.Vector("Doubled", 3)];

        protected internal override void MapBatch(BatchData batch)
        {
            if (_leak)
                TensorData.FromSpan(batch.Input(0), [batch.Rows, 3]).DetachFromDisposeScope();
            var input = batch.Input(0);
            var output = batch.Output(0);
            for (int r = 0; r < batch.Rows; r++)
            {
                if (_race)
                {
                    input.Slice(r * 3, 3).CopyTo(_scratch);
                    Thread.Sleep(1);
                    for (int j = 0; j < 3; j++)
                        output[r * 3 + j] = 2 * _scratch[j];
                }
                else
                {
                    for (int j = 0; j < 3; j++)
                        output[r * 3 + j] = 2 * input[r * 3 + j];
                }
            }
        }

        protected override void SaveModel(ModelSaveContext ctx) => throw new NotSupportedException();
    }

    private static (MLContext Ml, IDataView Data) Data()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 30).Select(i => new Row { Features = [i, -i, i * 0.5f] }).ToList();
        return (ml, ml.Data.LoadFromEnumerable(rows));
    }

    [Fact]
    public void PredictionEngineChecksPassForASoundModel()
    {
        var (ml, data) = Data();
        using var model = new FaultyModel(ml, race: false, leak: false);
        var inputs = EstimatorHarness.PredictionInputs(model, data, ["Doubled"]);
        Assert.Equal(30, inputs.Count);
        var predicted = EstimatorHarness.Predict(ml, model, inputs, ["Doubled"]);
        Assert.Equal(new double[] { 14, -14, 7 }, predicted[7][0]);
        EstimatorHarness.AssertConcurrentPredictionEngines(ml, model, inputs, ["Doubled"]);
        EstimatorHarness.AssertNoTensorLeak(() => EstimatorHarness.Predict(ml, model, inputs, ["Doubled"]));
    }

    [Fact]
    public void ConcurrencyCheckCatchesSharedMutableState()
    {
        var (ml, data) = Data();
        using var model = new FaultyModel(ml, race: true, leak: false);
        var inputs = EstimatorHarness.PredictionInputs(model, data, ["Doubled"]);
        // Sequentially the racy model is right...
        Assert.Equal(new double[] { 14, -14, 7 }, EstimatorHarness.Predict(ml, model, inputs, ["Doubled"])[7][0]);
        // ...but four engines on four threads overwrite each other's scratch buffer.
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => EstimatorHarness.AssertConcurrentPredictionEngines(ml, model, inputs, ["Doubled"]));
    }

    [Fact]
    public void RowPathLeakCheckCatchesALeakingMapper()
    {
        var (ml, data) = Data();
        using var model = new FaultyModel(ml, race: false, leak: true);
        var inputs = EstimatorHarness.PredictionInputs(model, data, ["Doubled"]);
        var ex = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => EstimatorHarness.AssertNoTensorLeak(() => EstimatorHarness.Predict(ml, model, inputs, ["Doubled"])));
        Assert.Contains("Live tensors grew", ex.Message);
        var ex2 = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => EstimatorHarness.AssertConcurrentPredictionEngines(ml, model, inputs, ["Doubled"]));
        Assert.Contains("live tensors grew", ex2.Message);
    }
}
