using Components.Core;
using Components.Tests.Harness;
using Components.Transforms.MetaLearnedFeaturizer;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.MetaLearnedFeaturizer;

/// <summary>
/// <c>ml.Transforms.MetaLearnedFeaturizer</c>: the harness (schema, row/batch/PredictionEngine paths, save/load, damaged
/// model, leaks, concurrency); Fit equals the inner loop run directly from the seeded initialisation; the frozen
/// normalisation equals batch normalisation over the fitting rows; determinism for a seed; progress and cancellation.
/// </summary>
public sealed class MetaLearnedFeaturizerEstimatorTests
{
    internal const int Width = 12;

    internal sealed class Row
    {
        [VectorType(Width)]
        public float[] Features { get; set; } = [];
    }

    private sealed class ScalarRow
    {
        public float Features { get; set; }
    }

    /// <summary>Rows from a few clusters in 12 dimensions (structure for the features to pick up), float32-exact.</summary>
    internal static List<Row> Data(int n, int seed)
    {
        var rng = new Random(seed);
        var centres = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, Width).Select(_ => rng.NextDouble() * 2 - 1).ToArray()).ToArray();
        return [.. Enumerable.Range(0, n).Select(i => new Row
        {
            Features = [.. centres[i % 3].Select(c => (float)(c + 0.3 * (rng.NextDouble() - 0.5)))],
        })];
    }

    private static float[,] Matrix(List<Row> rows)
    {
        var m = new float[rows.Count, Width];
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < Width; j++)
                m[i, j] = rows[i].Features[j];
        return m;
    }

    internal static MetaLearnedFeaturizerEstimator.Options Small(int steps = 10, int batch = 32, int seed = 1) => new()
    {
        HiddenWidths = [8, 5],
        InnerSteps = steps,
        BatchSize = batch,
        Seed = seed,
    };

    private static float[][] Features(MLContext ml, ITransformer model, IDataView data) =>
        [.. ml.Data.CreateEnumerable<Out>(model.Transform(data), reuseRowObject: false).Select(r => r.MetaLearnedFeatures)];

    private sealed class Out
    {
        public float[] MetaLearnedFeatures { get; set; } = [];
    }

    [Fact]
    public void MetaLearnedFeaturizerPassesTheHarness()
    {
        var ml = new MLContext(seed: 1);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new ScalarRow { Features = 1 } });
        using var model = EstimatorHarness.Run(ml, ml.Transforms.MetaLearnedFeaturizer(Small()), ml.Data.LoadFromEnumerable(Data(120, 1)),
            ml.Data.LoadFromEnumerable(Data(40, 2)), invalid, tolerance: 1e-5);
        Assert.Equal(5, model.FeatureCount);
        Assert.Equal("shipped", model.RuleSource);
    }

    [Fact]
    public void FitIsTheInnerLoopFromTheSeededInitialisationAndTheNormalisationIsFrozenOverTheFittingRows()
    {
        using var scope = NewDisposeScope();
        var ml = new MLContext(seed: 1);
        var rows = Data(60, 3);
        // Full batches: every step sees all rows (in a shuffled order, to which the rule is invariant up to rounding).
        using var model = ml.Transforms.MetaLearnedFeaturizer(Small(steps: 4, batch: 60, seed: 7)).Fit(ml.Data.LoadFromEnumerable(rows));
        var x = tensor(Matrix(rows));

        using var rule = LocalUpdateRuleFile.LoadShipped();
        var net = BaseNetworkState.Create([Width, 8, 5], seed: 7);
        using (no_grad())
            net = InnerLoop.Unroll(rule, net, [x, x, x, x]);
        var p = model.Network;
        for (int l = 0; l < 2; l++)
        {
            var expected = net.W[l].data<float>().ToArray();
            var actual = p.GetWeights(l);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"layer {l} weight {i}: {expected[i]} vs {actual[i]}");
        }

        // The transform's frozen normalisation over the 60 fitting rows equals batch normalisation of those rows as one batch.
        var rebuilt = BaseNetworkState.FromTensors(
            [.. Enumerable.Range(0, 2).Select(l => tensor(p.GetWeights(l), [p.Widths[l], p.Widths[l + 1]]))],
            [.. Enumerable.Range(0, 2).Select(l => tensor(p.GetBias(l)))],
            [.. Enumerable.Range(0, 2).Select(l => zeros(p.Widths[l], p.Widths[l + 1]))]);
        var batchNormalised = rebuilt.Embed(x).data<float>().ToArray();
        var transformed = Features(ml, model, ml.Data.LoadFromEnumerable(rows)).SelectMany(r => r).ToArray();
        Assert.Equal(batchNormalised.Length, transformed.Length);
        for (int i = 0; i < transformed.Length; i++)
            Assert.True(Math.Abs(batchNormalised[i] - transformed[i]) <= 1e-4, $"entry {i}: {batchNormalised[i]} vs {transformed[i]}");
        Assert.Contains(transformed, v => v != 0);
    }

    [Fact]
    public void FitIsDeterministicForASeedAndDependsOnIt()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Data(100, 4));
        float[][] Run(int seed)
        {
            using var model = ml.Transforms.MetaLearnedFeaturizer(Small(seed: seed)).Fit(data);
            return Features(ml, model, data);
        }
        var a = Run(5);
        Assert.Equal(a, Run(5));
        Assert.NotEqual(a, Run(6));
    }

    [Fact]
    public void FitReportsProgressAndHonoursCancellation()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Source == "MetaLearnedFeaturizer")
                lock (messages)
                    messages.Add(e.Message);
        };
        var data = ml.Data.LoadFromEnumerable(Data(50, 5));
        using (ml.Transforms.MetaLearnedFeaturizer(Small()).Fit(data)) { }
        Assert.Contains(messages, m => m.Contains("Inner step 10/10"));
        Assert.Contains(messages, m => m.Contains("12-8-5"));

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var options = Small();
        options.CancellationToken = cts.Token;
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.MetaLearnedFeaturizer(options).Fit(data));
    }

    [Fact]
    public void ZeroStepsKeepsTheSeededRandomNetwork()
    {
        using var scope = NewDisposeScope();
        var ml = new MLContext(seed: 1);
        using var model = ml.Transforms.MetaLearnedFeaturizer(Small(steps: 0, seed: 3)).Fit(ml.Data.LoadFromEnumerable(Data(20, 6)));
        using var net = BaseNetworkState.Create([Width, 8, 5], seed: 3);
        Assert.Equal(net.W[1].data<float>().ToArray(), model.Network.GetWeights(1));
    }

    [CudaFact]
    public void FitOnCudaMatchesTheCpu()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Data(100, 7));
        var cpu = Small();
        var cuda = Small();
        cuda.Device = "cuda";
        using var a = ml.Transforms.MetaLearnedFeaturizer(cpu).Fit(data);
        using var b = ml.Transforms.MetaLearnedFeaturizer(cuda).Fit(data);
        var fa = Features(ml, a, data).SelectMany(r => r).ToArray();
        var fb = Features(ml, b, data).SelectMany(r => r).ToArray();
        for (int i = 0; i < fa.Length; i++)
            Assert.True(Math.Abs(fa[i] - fb[i]) <= 1e-3, $"entry {i}: {fa[i]} vs {fb[i]}");
    }
}
