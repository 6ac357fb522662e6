using Components.Core;
using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Components.Tests.Harness;
using Components.Trainers.Nngp;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Nngp;

/// <summary>The NNGP GP trainers: ML.NET contract, GP properties, numerical robustness, search and bad input.</summary>
public class NngpTrainerTests
{
    private const int D = 6;

    public sealed class ClassRow
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public sealed class RegRow
    {
        [VectorType(D)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    public sealed class OtherRow
    {
        [VectorType(D)]
        public float[] Other { get; set; } = [];

        public string Label { get; set; } = "a";

        public float Target { get; set; }
    }

    /// <summary>Three Gaussian blobs in D dimensions, centres 3 apart.</summary>
    internal static List<ClassRow> Blobs(int n, int seed, double spread = 1.0)
    {
        var rng = new Random(seed);
        var centres = new double[3][];
        var crng = new Random(1234);
        for (int c = 0; c < 3; c++)
            centres[c] = Enumerable.Range(0, D).Select(_ => 3.0 * (crng.NextDouble() * 2 - 1)).ToArray();
        var rows = new List<ClassRow>();
        for (int i = 0; i < n; i++)
        {
            int c = i % 3;
            rows.Add(new ClassRow { Label = ((char)('a' + c)).ToString(), Features = centres[c].Select(m => (float)(m + spread * Normal(rng))).ToArray() });
        }
        return rows;
    }

    internal static List<RegRow> Wave(int n, int seed, double noise = 0.05)
    {
        var rng = new Random(seed);
        var rows = new List<RegRow>();
        for (int i = 0; i < n; i++)
        {
            var x = Enumerable.Range(0, D).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            double y = Math.Sin(2 * x[0]) + 0.5 * x[1] * x[2] + noise * Normal(rng);
            rows.Add(new RegRow { Features = x.Select(v => (float)v).ToArray(), Label = (float)(3 + y) });
        }
        return rows;
    }

    /// <summary>Rows as an IDataView with the label mapped to a key (class names a, b, c).</summary>
    internal static IDataView Keyed(MLContext ml, IEnumerable<ClassRow> rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        var map = ml.Transforms.Conversion.MapValueToKey("Label", keyData: ml.Data.LoadFromEnumerable(new[] { "a", "b", "c" }.Select(l => new LabelRow { Label = l })));
        return map.Fit(data).Transform(data);
    }

    public sealed class LabelRow
    {
        public string Label { get; set; } = "";
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [Fact]
    public void MulticlassTrainerPassesTheEstimatorHarness()
    {
        var ml = new MLContext(seed: 1).RegisterComponents();
        var train = Keyed(ml, Blobs(48, 1));
        var test = Keyed(ml, Blobs(21, 2));
        var invalid = ml.Data.LoadFromEnumerable(new[] { new OtherRow { Other = new float[D] } });
        var trainer = ml.MulticlassClassification.Trainers.Nngp(depth: 2);
        var model = EstimatorHarness.Run(ml, trainer, train, test, invalid, tolerance: 1e-5);
        Assert.Equal(48, model.Model.TrainingRows);
        Assert.Equal(NngpFactorKind.Cholesky, model.Model.FactorKind);
        var scored = model.Transform(test);
        Assert.NotNull(scored.Schema.GetColumnOrNull("Variance"));
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.True(metrics.MacroAccuracy >= 0.9, $"macro accuracy {metrics.MacroAccuracy}");
        model.Dispose();
    }

    [Fact]
    public void RegressionTrainerPassesTheEstimatorHarness()
    {
        var ml = new MLContext(seed: 2).RegisterComponents();
        var train = ml.Data.LoadFromEnumerable(Wave(120, 3));
        var test = ml.Data.LoadFromEnumerable(Wave(40, 4));
        var invalid = ml.Data.LoadFromEnumerable(new[] { new OtherRow { Other = new float[D], Target = 1 } });
        var trainer = ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options { Depth = 2, Regularizer = 1e-3, InputLayerNorm = false, BatchSize = 16 });
        var model = EstimatorHarness.Run(ml, trainer, train, test, invalid, tolerance: 1e-5);
        var metrics = ml.Regression.Evaluate(model.Transform(test));
        Assert.True(metrics.RSquared >= 0.85, $"R² {metrics.RSquared}");
        Assert.Equal(3.0, model.LabelMean, 0.2);
        model.Dispose();
    }

    [Fact]
    public void NtkModelWithoutVarianceWorksAndSavesNoFactor()
    {
        var ml = new MLContext(seed: 3).RegisterComponents();
        var train = Keyed(ml, Blobs(45, 5));
        var test = Keyed(ml, Blobs(30, 6));
        var trainer = ml.MulticlassClassification.Trainers.Nngp(new NngpMulticlassTrainer.Options { Kernel = NngpKernelKind.Ntk, PredictVariance = false, Nonlinearity = NngpNonlinearity.Erf() });
        var model = EstimatorHarness.Run(ml, trainer, train, test, null, tolerance: 1e-5);
        var scored = model.Transform(test);
        Assert.Null(scored.Schema.GetColumnOrNull("Variance"));
        Assert.True(ml.MulticlassClassification.Evaluate(scored).MicroAccuracy >= 0.9);
        model.Dispose();
    }

    [Fact]
    public void PosteriorMatchesADirectSolveAndVarianceLiesBetweenTheNoiseAndThePrior()
    {
        var ml = new MLContext(seed: 4);
        var rows = Wave(60, 7);
        var test = Wave(25, 8);
        var options = new NngpRegressionTrainer.Options { Depth = 3, Regularizer = 1e-2, WeightVariance = 1.7, BiasVariance = 0.2, InputLayerNorm = false };
        using var model = ml.Regression.Trainers.Nngp(options).Fit(ml.Data.LoadFromEnumerable(rows));
        var scored = model.Transform(ml.Data.LoadFromEnumerable(test));
        var score = EstimatorHarness.ReadColumn(scored, "Score").Select(v => v[0]).ToArray();
        var variance = EstimatorHarness.ReadColumn(scored, "Variance").Select(v => v[0]).ToArray();

        // Independent computation: K from the kernel API, then a dense solve of (K + ε·tr(K)/n·I)α = y − ȳ.
        using var kernel = new NngpKernel(new NngpArchitecture(3, NngpNonlinearity.Relu, 1.7, 0.2));
        using var x = torch.tensor(rows.SelectMany(r => r.Features).ToArray(), [rows.Count, D]);
        using var xs = torch.tensor(test.SelectMany(r => r.Features).ToArray(), [test.Count, D]);
        using var y = torch.tensor(rows.Select(r => (double)r.Label).ToArray(), ScalarType.Float64);
        using var kxx = kernel.Compute(x);
        using var ksx = kernel.Compute(xs, x);
        using var prior = kernel.ComputeDiagonal(xs);
        double mean = y.mean().item<double>();
        using var reg = kxx.Nngp + torch.eye(rows.Count, dtype: ScalarType.Float64) * (1e-2 * kxx.Nngp.diagonal().mean().item<double>());
        using var alpha = torch.linalg.solve(reg, (y - mean).unsqueeze(1));
        var expected = TensorData.ToDoubleArray(torch.mm(ksx.Nngp, alpha).squeeze(1) + mean);
        using var v = torch.linalg.solve(reg, ksx.Nngp.T);
        // Predictive variance of a new label: σ̂²·(k** − k*ᵀC⁻¹k* + noise), σ̂² = (y − ȳ)ᵀC⁻¹(y − ȳ)/n, noise = ε·tr(K)/n.
        double noise = 1e-2 * kxx.Nngp.diagonal().mean().item<double>();
        double outputScale = torch.mm((y - mean).unsqueeze(0), alpha).item<double>() / rows.Count;
        Assert.Equal(outputScale, model.Model.OutputScale, 1e-6 * outputScale);
        var expectedVar = TensorData.ToDoubleArray((prior.Nngp - (ksx.Nngp * v.T).sum(1) + noise) * outputScale);
        var priorVar = TensorData.ToDoubleArray((prior.Nngp + noise) * outputScale);
        for (int i = 0; i < test.Count; i++)
        {
            Assert.Equal(expected[i], score[i], 1e-4);
            Assert.Equal(expectedVar[i], variance[i], 1e-4 * outputScale);
            Assert.True(variance[i] >= noise * outputScale * (1 - 1e-5) && variance[i] <= priorVar[i] * (1 + 1e-6), $"row {i}: variance {variance[i]}, prior {priorVar[i]}");
        }
    }

    [Fact]
    public void MeanInterpolatesTrainingTargetsAndVarianceVanishesThereAsRegularizerGoesToZero()
    {
        var ml = new MLContext(seed: 5);
        var rows = Wave(40, 9);
        var data = ml.Data.LoadFromEnumerable(rows);
        using var model = ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options { Regularizer = 0, InputLayerNorm = false }).Fit(data);
        var scored = model.Transform(data);
        var score = EstimatorHarness.ReadColumn(scored, "Score").Select(v => v[0]).ToArray();
        var variance = EstimatorHarness.ReadColumn(scored, "Variance").Select(v => v[0]).ToArray();
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(rows[i].Label, score[i], 1e-3);
            Assert.True(variance[i] < 1e-3 * model.Model.OutputScale, $"row {i}: variance {variance[i]}, output scale {model.Model.OutputScale}");
        }
        // Far from the data the variance approaches the prior.
        var far = ml.Data.LoadFromEnumerable(new[] { new RegRow { Features = Enumerable.Repeat(-30f, D).ToArray() } });
        var farVariance = EstimatorHarness.ReadColumn(model.Transform(far), "Variance")[0][0];
        Assert.True(farVariance > 100 * variance.Max(), $"far variance {farVariance}");
    }

    [Fact]
    public void DuplicateRowsAndSingularKernelsAreHandled()
    {
        var ml = new MLContext(seed: 6);
        var rows = Blobs(30, 10);
        rows.AddRange(rows.Take(15).Select(r => new ClassRow { Features = (float[])r.Features.Clone(), Label = r.Label }));
        var data = Keyed(ml, rows);
        using var model = ml.MulticlassClassification.Trainers.Nngp(regularizer: 0).Fit(data);
        Assert.Equal(NngpFactorKind.Cholesky, model.Model.FactorKind);
        var scores = EstimatorHarness.ReadColumn(model.Transform(data), "Score");
        Assert.All(scores, s => Assert.All(s, v => Assert.True(double.IsFinite(v))));
        for (int i = 0; i < 15; i++)
            Assert.Equal(scores[i], scores[30 + i]);

        // A kernel with a small negative eigenvalue (as rounding leaves in near-singular kernels) climbs the jitter ladder.
        // Checked by behaviour, not by the ladder's steps: the added diagonal shift makes the kernel positive definite
        // (it exceeds the negative eigenvalue), is not much larger than needed, and the factor and weights are those
        // of the shifted kernel.
        using (var q = torch.linalg.qr(torch.tensor(new double[] { 1, 2, 0, 0, 1, 3, 1, 0, 1 }, [3, 3], ScalarType.Float64)).Item1)
        using (var nearSingular = torch.mm(q * torch.tensor(new[] { 1.0, 0.5, -1e-7 }, ScalarType.Float64), q.T))
        using (var original = nearSingular.clone())
        using (var target = torch.ones([3, 2], ScalarType.Float64))
        using (var ladder = NngpPosterior.Fit(nearSingular, target, 0, true, null, CancellationToken.None))
        {
            Assert.Equal(NngpFactorKind.Cholesky, ladder.Kind);
            double shift = ladder.Jitter * ladder.MeanDiagonal;
            Assert.True(shift > 1e-7 && shift < 1e-5, $"diagonal shift {shift:G3} for an eigenvalue of −1e-7");
            using var shifted = original + shift * torch.eye(3, dtype: ScalarType.Float64);
            var l = ladder.Factor!;
            Assert.True(torch.allclose(torch.mm(l, l.T), shifted, rtol: 0, atol: 1e-12), "L·Lᵀ is not the shifted kernel");
            using var residual = torch.mm(shifted, ladder.Alpha) - target;
            Assert.True(residual.abs().max().item<double>() < 1e-6, "the weights do not solve the shifted system");
        }

        // A kernel no jitter can repair (indefinite) falls back to the floored eigendecomposition.
        using var k = torch.tensor(new double[] { 1, 2, 0, 2, 1, 0, 0, 0, 1 }, [3, 3], ScalarType.Float64);
        using var y = torch.tensor(new double[] { 1, -1, 0.5 }, [3, 1], ScalarType.Float64);
        var messages = new List<string>();
        using var post = NngpPosterior.Fit(k, y, 0, true, messages.Add, CancellationToken.None);
        Assert.Equal(NngpFactorKind.Eigen, post.Kind);
        Assert.True(torch.isfinite(post.Alpha).all().item<bool>());
        Assert.Contains(messages, m => m.Contains("eigendecomposition"));
        using var ks = torch.tensor(new double[] { 0.5, 0.1, 0.2 }, [1, 3], ScalarType.Float64);
        using var pv = post.Variance(ks, torch.tensor(new[] { 1.0 }, ScalarType.Float64));
        Assert.InRange(pv.item<double>(), 0.0, 1.0);
    }

    [Fact]
    public void SearchReusesOneEigendecompositionPerKernelAndPicksTheBest()
    {
        var ml = new MLContext(seed: 7);
        var data = Keyed(ml, Blobs(60, 11, spread: 2.0));
        var options = new NngpMulticlassTrainer.Options
        {
            Selection = NngpSelectionCriterion.LogMarginalLikelihood,
            DepthCandidates = [1, 3],
            BiasVarianceCandidates = [0.05, 0.5],
            SearchNearCriticalLine = true,
            CriticalLineMultipliers = [0.9, 1.0],
            RegularizerCandidates = [1e-4, 1e-2, 1e-1],
            PredictVariance = false,
        };
        using var model = ml.MulticlassClassification.Trainers.Nngp(options).Fit(data);
        Assert.Equal(2 * 2 * 2 * 3, model.SelectionResults.Count);
        Assert.All(model.SelectionResults, e => Assert.Contains(e.Architecture.WeightVariance, new[] { 1.8, 2.0 }.Select(v => v)));
        var best = model.SelectionResults.MaxBy(e => e.Score)!;
        Assert.Equal(best.Architecture, model.Model.Architecture);
        Assert.Equal(best.Regularizer, model.Model.Regularizer);

        var validation = new NngpMulticlassTrainer.Options
        {
            Selection = NngpSelectionCriterion.Validation,
            WeightVarianceCandidates = [1.0, 2.0],
            RegularizerCandidates = [1e-3, 1e-1],
            PredictVariance = false,
        };
        // 150 rows (30 held out), so the best held-out accuracy is not at the mercy of which 12 rows the split picks.
        using var model2 = ml.MulticlassClassification.Trainers.Nngp(validation).Fit(Keyed(ml, Blobs(150, 11, spread: 2.0)));
        Assert.Equal(4, model2.SelectionResults.Count);
        Assert.All(model2.SelectionResults, e => Assert.InRange(e.Score, 0.0, 1.0));
        Assert.True(model2.SelectionResults.Max(e => e.Score) >= 0.8, string.Join(", ", model2.SelectionResults.Select(e => e.Score)));
    }

    [Fact]
    public void LogMarginalLikelihoodOfTheSearchMatchesADirectComputation()
    {
        var ml = new MLContext(seed: 8);
        var rows = Wave(30, 12);
        var options = new NngpRegressionTrainer.Options { Selection = NngpSelectionCriterion.LogMarginalLikelihood, RegularizerCandidates = [0.05], InputLayerNorm = false, PredictVariance = false };
        using var model = ml.Regression.Trainers.Nngp(options).Fit(ml.Data.LoadFromEnumerable(rows));
        double score = model.SelectionResults.Single().Score;
        using var kernel = new NngpKernel(new NngpArchitecture(3, NngpNonlinearity.Relu, 2.0, 0.1));
        using var x = torch.tensor(rows.SelectMany(r => r.Features).ToArray(), [rows.Count, D]);
        using var k = kernel.Compute(x, null, NngpOutputs.Nngp);
        using var y = torch.tensor(rows.Select(r => (double)r.Label).ToArray(), ScalarType.Float64);
        using var yc = (y - y.mean()).unsqueeze(1);
        int n = rows.Count;
        using var c = k.Nngp + torch.eye(n, dtype: ScalarType.Float64) * (0.05 * k.Nngp.diagonal().mean().item<double>());
        double quad = torch.mm(yc.T, torch.linalg.solve(c, yc)).item<double>();
        double logDet = torch.linalg.slogdet(c).Item2.item<double>();
        // max over s² of log N(y | 0, s²C) at ŝ² = yᵀC⁻¹y/n, per row.
        double s2 = quad / n;
        double expected = (-0.5 * n * Math.Log(2 * Math.PI * s2) - 0.5 * n - 0.5 * logDet) / n;
        Assert.Equal(expected, score, 1e-8);

        // The output scale is profiled out: labels times c shift every score by −log c, so the ranking cannot
        // depend on how the prior's amplitude happens to match the targets.
        var scaled = rows.Select(r => new RegRow { Features = r.Features, Label = 7f * r.Label }).ToList();
        using var scaledModel = ml.Regression.Trainers.Nngp(options).Fit(ml.Data.LoadFromEnumerable(scaled));
        Assert.Equal(score - Math.Log(7), scaledModel.SelectionResults.Single().Score, 1e-6);
    }

    /// <summary>
    /// n rows whose labels are drawn from the GP prior itself with a known regulariser: y = 5 + s·L z, LLᵀ = K + ε·tr(K)/n·I,
    /// K the default architecture's NNGP kernel, s² = 0.09 (the variance of one-hot − 1/10 targets; not the kernel's scale).
    /// </summary>
    private static List<RegRow> GpDraws(int n, double regularizer, int seed)
    {
        var rng = new Random(seed);
        var features = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, D).Select(_ => (float)Normal(rng)).ToArray()).ToArray();
        using var scope = torch.NewDisposeScope();
        using var kernel = new NngpKernel(new NngpArchitecture(3, NngpNonlinearity.Relu, 2.0, 0.1));
        var x = torch.tensor(features.SelectMany(f => f).ToArray(), [n, D]);
        var k = kernel.Compute(x, null, NngpOutputs.Nngp).Nngp;
        var c = k + torch.eye(n, dtype: ScalarType.Float64) * (regularizer * k.diagonal().mean().item<double>());
        var z = torch.tensor(Enumerable.Range(0, n).Select(_ => Normal(rng)).ToArray(), [n, 1], ScalarType.Float64);
        var y = (torch.mm(torch.linalg.cholesky(c), z) * 0.3 + 5).squeeze(1).data<double>().ToArray();
        return Enumerable.Range(0, n).Select(i => new RegRow { Features = features[i], Label = (float)y[i] }).ToList();
    }

    [Fact]
    public void DefaultRegularizerGridHasAnInteriorOptimumWhereTheTrueRegularizerIsKnown()
    {
        // Each options instance owns its grid, so changing one leaves the defaults alone.
        var first = new NngpRegressionTrainer.Options();
        first.RegularizerCandidates![0] = 123;
        Assert.NotEqual(123, new NngpMulticlassTrainer.Options().RegularizerCandidates![0]);

        // Labels drawn with ε = 1 (beyond the old grid's largest value, 0.1): the marginal likelihood over the default
        // grid must pick 1, an interior point, for each of three independent draws; the old grid can only offer its edge.
        var ml = new MLContext(seed: 21);
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var data = ml.Data.LoadFromEnumerable(GpDraws(300, 1.0, seed));
            var options = new NngpRegressionTrainer.Options { Selection = NngpSelectionCriterion.LogMarginalLikelihood, InputLayerNorm = false, PredictVariance = false };
            var grid = options.RegularizerCandidates!;
            using var model = ml.Regression.Trainers.Nngp(options).Fit(data);
            Assert.Equal(1.0, model.Model.Regularizer);
            Assert.True(grid.Min() < 1.0 && grid.Max() > 1.0, string.Join(", ", grid));
            using var old = ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options
            {
                Selection = NngpSelectionCriterion.LogMarginalLikelihood,
                RegularizerCandidates = [1e-4, 1e-3, 1e-2, 1e-1],
                InputLayerNorm = false,
                PredictVariance = false,
            }).Fit(data);
            Assert.Equal(0.1, old.Model.Regularizer);
        }
    }

    [Fact]
    public void BadInputThrowsClearExceptions()
    {
        var ml = new MLContext(seed: 9);
        var rows = Blobs(12, 13);
        rows[4].Features[2] = float.NaN;
        var ex = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Nngp().Fit(Keyed(ml, rows)));
        Assert.Contains("Features", ex.Message);
        Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Nngp().Fit(Keyed(ml, new List<ClassRow>())));
        var other = ml.Data.LoadFromEnumerable(new[] { new OtherRow { Other = new float[D] } });
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Nngp().Fit(other));
        Assert.Contains("Features", missing.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Nngp(labelColumnName: "Target", featureColumnName: "Other").Fit(other));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Nngp(labelColumnName: "Label", featureColumnName: "Other").Fit(other));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Nngp(regularizer: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Nngp(weightVariance: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Nngp(depth: -2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options { Device = "tpu" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options { ValidationFraction = 1.5 }));

        // Wrong vector size at transform time.
        using var model = ml.MulticlassClassification.Trainers.Nngp().Fit(Keyed(ml, Blobs(12, 14)));
        var wide = ml.Data.LoadFromEnumerable(new[] { new { Features = new float[D + 1] } }.Select(r => new WideRow { Features = r.Features }));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(wide));
        var nanRow = Blobs(3, 15);
        nanRow[1].Features[0] = float.PositiveInfinity;
        Assert.Throws<InvalidOperationException>(() => EstimatorHarness.ReadColumn(model.Transform(Keyed(ml, nanRow)), "Score"));

        // A user-delegate nonlinearity trains but cannot be saved.
        var custom = new NngpMulticlassTrainer.Options { Nonlinearity = NngpNonlinearity.Custom("softsign", t => t / (t.abs() + 1)), GaussHermiteDegree = 8 };
        var data = Keyed(ml, Blobs(12, 16));
        using var customModel = ml.MulticlassClassification.Trainers.Nngp(custom).Fit(data);
        using var stream = new MemoryStream();
        Assert.Throws<InvalidOperationException>(() => ml.Model.Save(customModel, data.Schema, stream));

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.Nngp(new NngpMulticlassTrainer.Options { CancellationToken = cts.Token }).Fit(data));
    }

    public sealed class WideRow
    {
        [VectorType(D + 1)]
        public float[] Features { get; set; } = [];
    }
}
