using Components.Core;
using Components.Core.Data;
using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Components.Tests.Harness;
using Components.Trainers.Nngp;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Nngp;

/// <summary>NNGP outputs on the scale they claim: calibrated class probabilities and predictive intervals on the label's scale.</summary>
public class NngpCalibrationTests(ITestOutputHelper output)
{
    private const int D = 6;

    [Fact]
    public void LeaveOneOutMeansEqualBruteForceRefits()
    {
        const int n = 14;
        using var gen = new Generator(11);
        using var x = torch.randn([n, D], generator: gen);
        using var kernel = new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.Relu, 1.8, 0.2));
        using var kr = kernel.Compute(x);
        using var y = torch.randn([n, 3], ScalarType.Float64, generator: gen);
        double reg = 0.03;
        int[] rows = [0, 3, 4, 8, 13];
        using var rowIndex = torch.tensor(rows.Select(r => (long)r).ToArray());

        var (posterior, loo) = NngpPosterior.Fit(kr.Nngp.clone(), y, reg, false, rowIndex, null, CancellationToken.None);
        using var _p = posterior;
        using var _l = loo;
        Assert.Null(posterior.Factor); // computed before the factor was dropped

        // Brute force: refit without row i, with the same noise λ = (ε + jitter)·tr(K)/n, and predict row i.
        double lambda = (reg + posterior.Jitter) * posterior.MeanDiagonal;
        using var c = kr.Nngp + torch.eye(n, dtype: ScalarType.Float64) * lambda;
        var looValues = TensorData.ToDoubleArray(loo!.contiguous().view(-1));
        for (int a = 0; a < rows.Length; a++)
        {
            int i = rows[a];
            using var keep = torch.tensor(Enumerable.Range(0, n).Where(j => j != i).Select(j => (long)j).ToArray());
            using var cm = c.index_select(0, keep).index_select(1, keep);
            using var alpha = torch.linalg.solve(cm, y.index_select(0, keep));
            using var ki = kr.Nngp[i].index_select(0, keep).unsqueeze(0);
            var expected = TensorData.ToDoubleArray(torch.mm(ki, alpha).squeeze(0));
            for (int col = 0; col < 3; col++)
                Assert.Equal(expected[col], looValues[a * 3 + col], 1e-9);
        }

        // The eigendecomposition path gives the same values.
        var (values, vectors) = torch.linalg.eigh(c);
        using var eigenAlpha = torch.mm(vectors, torch.mm(vectors.T, y) / values.unsqueeze(1));
        using var eigen = new NngpPosterior(eigenAlpha.clone(), vectors, values, NngpFactorKind.Eigen, double.NaN, posterior.MeanDiagonal);
        using var eigenLoo = eigen.LeaveOneOutMeans(y, rowIndex);
        var eigenValues = TensorData.ToDoubleArray(eigenLoo.contiguous().view(-1));
        for (int j = 0; j < looValues.Length; j++)
            Assert.Equal(looValues[j], eigenValues[j], 1e-9);
    }

    [Fact]
    public void FittedTemperatureMinimisesTheSmoothedLossAndStaysFiniteOnSeparableData()
    {
        var rng = new Random(5);
        int rows = 300, k = 4;
        var labels = Enumerable.Range(0, rows).Select(i => i % k).ToArray();
        var means = new double[rows * k];
        for (int i = 0; i < rows; i++)
        {
            for (int c = 0; c < k; c++)
                means[i * k + c] = (c == labels[i] ? 0.4 : 0) + 0.3 * Normal(rng);
        }
        double beta = NngpCalibration.FitInverseTemperature(means, labels, k);
        double best = NngpCalibration.Objective(means, labels, k, beta);
        foreach (double f in new[] { 0.5, 0.9, 0.99, 1.01, 1.1, 2.0 })
            Assert.True(NngpCalibration.Objective(means, labels, k, beta * f) > best, $"β·{f} beats the fitted β = {beta}");
        Assert.True(NngpCalibration.LogLoss(means, labels, k, beta) < Math.Log(k));

        // Perfectly separated means (1 for the true class, 0 elsewhere): with 0/1 targets the loss would fall forever;
        // with Platt's targets the optimum puts exactly t = (N + 1)/(N + 2) on the true class, N = 75 rows per class:
        // e^β / (e^β + K − 1) = t, so β = log(t (K − 1) / (1 − t)) = log(76·3).
        var separated = new double[rows * k];
        for (int i = 0; i < rows; i++)
            separated[i * k + labels[i]] = 1;
        Assert.Equal(Math.Log(76.0 * 3), NngpCalibration.FitInverseTemperature(separated, labels, k), 1e-8);
    }

    [Fact]
    public void MulticlassScoresAreCalibratedProbabilitiesOnFashionMnist()
    {
        var ml = new MLContext(seed: 1).RegisterComponents();
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 600, testRows: 500);
        using var model = ml.MulticlassClassification.Trainers.Nngp(new NngpMulticlassTrainer.Options { Depth = 2, Regularizer = 1e-2 }).Fit(data.Train);
        var scored = model.Transform(data.Test);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        var score = EstimatorHarness.ReadColumn(scored, "Score");
        var mean = EstimatorHarness.ReadColumn(scored, "PosteriorMean");
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
        var truth = scored.GetColumn<uint>("Label").ToArray();

        // Probabilities: non-negative, sum to one, argmax = PredictedLabel = argmax of the posterior mean.
        for (int i = 0; i < score.Count; i++)
        {
            Assert.All(score[i], p => Assert.InRange(p, 0.0, 1.0));
            Assert.Equal(1.0, score[i].Sum(), 1e-5);
            Assert.Equal(ArgMax(mean[i]) + 1, (int)predicted[i]);
            Assert.Equal(ArgMax(score[i]) + 1, (int)predicted[i]);
        }

        // Evaluate's log-loss beats the uniform guess and an uncalibrated softmax of the posterior mean.
        double uncalibrated = Enumerable.Range(0, mean.Count).Average(i =>
        {
            double max = mean[i].Max();
            double lse = max + Math.Log(mean[i].Sum(v => Math.Exp(v - max)));
            return lse - mean[i][(int)truth[i] - 1];
        });
        output.WriteLine($"accuracy {metrics.MicroAccuracy:F3}, log-loss {metrics.LogLoss:F4}, uncalibrated softmax {uncalibrated:F4}, log K {Math.Log(10):F4}, T {model.Temperature:G4}");
        Assert.True(metrics.MacroAccuracy > 0.7, $"macro accuracy {metrics.MacroAccuracy}");
        Assert.True(metrics.LogLoss < Math.Log(10), $"log-loss {metrics.LogLoss} vs log K {Math.Log(10)}");
        Assert.True(metrics.LogLoss < uncalibrated - 0.1, $"log-loss {metrics.LogLoss} vs uncalibrated softmax {uncalibrated}");
        Assert.True(double.IsFinite(model.Temperature) && model.Temperature > 0);
    }

    [Fact]
    public void RegressionIntervalsCoverDataDrawnFromAKnownGp()
    {
        // Labels drawn from the model the trainer assumes: y = 3 + s·(f + noise), f ~ GP(0, K), noise ~ N(0, ε·k₀)
        // (layer-normalised rows have the constant prior variance k₀, so the trace-scaled regulariser ε is exactly
        // that noise). Score ± 2√Variance must then cover ≈ 95.45% of new labels.
        const int n = 300, m = 200, replicates = 5;
        const double eps = 0.05, scale = 2.0;
        var arch = new NngpArchitecture(2, NngpNonlinearity.Relu, 1.8, 0.2, inputLayerNorm: true);
        int covered = 0, total = 0;
        var ml = new MLContext(seed: 3);
        for (int rep = 0; rep < replicates; rep++)
        {
            using var scope = torch.NewDisposeScope();
            using var gen = new Generator((ulong)(100 + rep));
            var x = torch.randn([n + m, D], generator: gen);
            using var kernel = new NngpKernel(arch);
            using var kr = kernel.Compute(x);
            double k0 = kr.Nngp.diagonal().mean().item<double>();
            var l = torch.linalg.cholesky(kr.Nngp + torch.eye(n + m, dtype: ScalarType.Float64) * (1e-9 * k0));
            var f = torch.mv(l, torch.randn([n + m], ScalarType.Float64, generator: gen));
            var y = 3 + scale * (f + Math.Sqrt(eps * k0) * torch.randn([n + m], ScalarType.Float64, generator: gen));
            var xs = TensorData.ToSingleArray(x);
            var ys = TensorData.ToDoubleArray(y);
            var rows = Enumerable.Range(0, n + m).Select(i => new NngpTrainerTests.RegRow { Features = xs[(i * D)..((i + 1) * D)], Label = (float)ys[i] }).ToList();

            using var model = ml.Regression.Trainers.Nngp(new NngpRegressionTrainer.Options { Depth = 2, WeightVariance = 1.8, BiasVariance = 0.2, Regularizer = eps })
                .Fit(ml.Data.LoadFromEnumerable(rows.Take(n)));
            var scored = model.Transform(ml.Data.LoadFromEnumerable(rows.Skip(n)));
            var mu = EstimatorHarness.ReadColumn(scored, "Score").Select(v => v[0]).ToArray();
            var variance = EstimatorHarness.ReadColumn(scored, "Variance").Select(v => v[0]).ToArray();
            for (int i = 0; i < m; i++)
            {
                if (Math.Abs(rows[n + i].Label - mu[i]) <= 2 * Math.Sqrt(variance[i]))
                    covered++;
                total++;
            }
            output.WriteLine($"replicate {rep}: σ̂² {model.Model.OutputScale:F3} (s² = {scale * scale}), mean variance {variance.Average():F4}, mean squared error {Enumerable.Range(0, m).Average(i => Math.Pow(rows[n + i].Label - mu[i], 2)):F4}");
            // σ̂² = yᵀC⁻¹y/n estimates s² (relative standard error √(2/n) ≈ 0.08).
            Assert.InRange(model.Model.OutputScale, 0.7 * scale * scale, 1.3 * scale * scale);
        }
        // Binomial standard error of the coverage of 1000 rows: √(0.9545·0.0455/1000) = 0.0066; ±0.03 is 4.5 of
        // them, leaving room for the error of σ̂² (a 4% error in σ̂ moves the coverage by about 1%).
        double coverage = (double)covered / total;
        output.WriteLine($"2σ coverage {coverage:F4} of {total} rows");
        Assert.InRange(coverage, 0.9545 - 0.03, 0.9545 + 0.03);
    }

    private static int ArgMax(IReadOnlyList<double> v)
    {
        int best = 0;
        for (int j = 1; j < v.Count; j++)
        {
            if (v[j] > v[best])
                best = j;
        }
        return best;
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
