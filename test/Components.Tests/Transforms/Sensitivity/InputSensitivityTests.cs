using Components.Core.Tensors;
using Components.Tests.Harness;
using Components.Tests.Trainers.NeuralNetwork;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Sensitivity;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.Sensitivity;

/// <summary><c>ml.Transforms.InputSensitivity</c> and <see cref="SoftmaxSensitivity"/>: closed forms, finite differences, harness, bad input.</summary>
public sealed class InputSensitivityTests
{
    private sealed class Row
    {
        [VectorType(5)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Row4
    {
        [VectorType(4)]
        public float[] Features { get; set; } = [];
    }

    private static (MLContext Ml, IDataView Data, NeuralNetworkMulticlassModel Model) Trained(int[] hidden, NeuralNetworkActivation activation = NeuralNetworkActivation.Relu)
    {
        var ml = new MLContext(seed: 0);
        var data = NeuralNetworkTestData.Blobs(ml, rows: 40, dim: 5, classes: 3);
        var model = ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = hidden,
            Activation = activation,
            BiasVariance = 0.1,
            NumberOfEpochs = 2,
            Seed = 1,
        }).Fit(data);
        return (ml, data, model);
    }

    [Fact]
    public void InputSensitivityPassesTheHarness()
    {
        var (ml, data, model) = Trained([7, 6]);
        using (model)
        {
            var invalid = ml.Data.LoadFromEnumerable(new[] { new { Features = 2f } });
            var estimator = ml.Transforms.InputSensitivity(model, new InputSensitivityEstimator.Options { LogitsOutputColumnName = "LogitNorm", BatchSize = 16 });
            using var transformer = EstimatorHarness.Run(ml, estimator, data, invalidData: invalid, tolerance: 1e-5);
            Assert.Equal("LogitNorm", transformer.LogitsOutputColumnName);
        }
    }

    [Fact]
    public void LinearSoftmaxModelMatchesTheClosedForm()
    {
        // f(x) = Wx + b, p = softmax(f): J = (diag(p) − ppᵀ) W, and the logits' Jacobian is W for every row.
        var (ml, data, model) = Trained([]);
        using (model)
        {
            using var transformer = ml.Transforms.InputSensitivity(model, new InputSensitivityEstimator.Options { LogitsOutputColumnName = "LogitNorm" }).Fit(data);
            var output = transformer.Transform(data);
            var soft = EstimatorHarness.ReadColumn(output, "JacobianNorm");
            var logit = EstimatorHarness.ReadColumn(output, "LogitNorm");

            using var scope = NewDisposeScope();
            var ps = model.Module.parameters().Select(t => t.detach().to(ScalarType.Float64)).ToList();
            var w = ps.Single(t => t.dim() == 2);
            var b = ps.Single(t => t.dim() == 1);
            var x = DataLoading.LoadFeatures(data, "Features").to(ScalarType.Float64);
            double wNorm = w.square().sum().sqrt().item<double>();
            for (int i = 0; i < soft.Count; i++)
            {
                var p = nn.functional.softmax(w.matmul(x[i]).add(b), 0);
                var j = diag(p).sub(outer(p, p)).matmul(w);
                double expected = j.square().sum().sqrt().item<double>();
                Assert.Equal(expected, soft[i][0], 1e-4 * expected + 1e-7);
                Assert.Equal(wNorm, logit[i][0], 1e-4 * wNorm);
            }
        }
    }

    [Fact]
    public void AutodiffAgreesWithFiniteDifferencesInFloat64()
    {
        var g = new TorchSharp.torch.Generator(7);
        using var scope = NewDisposeScope();
        var w1 = randn([6, 4], ScalarType.Float64, generator: g);
        var w2 = randn([3, 6], ScalarType.Float64, generator: g);
        Func<Tensor, Tensor> f = t => t.matmul(w1.t()).tanh().matmul(w2.t());
        var x = randn([5, 4], ScalarType.Float64, generator: g);
        var norms = SoftmaxSensitivity.SoftmaxJacobianNorm(f, x);
        const double h = 1e-6;
        for (int i = 0; i < 5; i++)
        {
            double sum = 0;
            for (int d = 0; d < 4; d++)
            {
                var e = zeros([1, 4], ScalarType.Float64);
                e[0, d] = h;
                var row = x[i].unsqueeze(0);
                var diff = nn.functional.softmax(f(row + e), 1).sub(nn.functional.softmax(f(row - e), 1)).div(2 * h);
                sum += diff.square().sum().item<double>();
            }
            double fd = Math.Sqrt(sum);
            Assert.True(Math.Abs(norms[i].item<double>() - fd) <= 1e-5 * fd, $"row {i}: autodiff {norms[i].item<double>()}, finite differences {fd}");
        }
    }

    [Fact]
    public void BatchedRowsEqualOneRowAtATime()
    {
        // BatchSize 1 replicates each row once per class (RowsPerPass); 40 rows in one batch do one backward pass per class.
        var (ml, data, model) = Trained([7, 6]);
        using (model)
        {
            double[] Norms(int batch)
            {
                using var t = ml.Transforms.InputSensitivity(model, new InputSensitivityEstimator.Options { BatchSize = batch, LogitsOutputColumnName = "LogitNorm" }).Fit(data);
                var output = t.Transform(data);
                return EstimatorHarness.ReadColumn(output, "JacobianNorm").Concat(EstimatorHarness.ReadColumn(output, "LogitNorm")).Select(v => (double)v[0]).ToArray();
            }
            var one = Norms(1);
            var all = Norms(40);
            Assert.Equal(80, one.Length);
            for (int i = 0; i < one.Length; i++)
                Assert.Equal(one[i], all[i], 1e-5 * one[i] + 1e-7);
        }
    }

    [Fact]
    public void ConstantNetworkHasZeroSensitivity()
    {
        using var scope = NewDisposeScope();
        var b = tensor(new[] { 0.3, -1.0, 2.0 }, ScalarType.Float64);
        var x = randn([4, 3], ScalarType.Float64, generator: new TorchSharp.torch.Generator(1));
        var norms = SoftmaxSensitivity.SoftmaxJacobianNorm(t => t.sum(1, keepdim: true).mul(0).add(b), x);
        Assert.All(norms.data<double>().ToArray(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void BadInputsFailClearly()
    {
        var (ml, data, model) = Trained([4]);
        using (model)
        {
            var wrongSize = ml.Data.LoadFromEnumerable(new[] { new Row4 { Features = [1, 2, 3, 4] } });
            var ex = Assert.ThrowsAny<ArgumentOutOfRangeException>(() => ml.Transforms.InputSensitivity(model).Fit(wrongSize));
            Assert.Contains("Features", ex.Message);

            using var transformer = ml.Transforms.InputSensitivity(model).Fit(data);
            var nan = ml.Data.LoadFromEnumerable(new[] { new Row { Features = [1, float.NaN, 0, 0, 0] } });
            Assert.Throws<InvalidOperationException>(() => EstimatorHarness.ReadColumn(transformer.Transform(nan), "JacobianNorm"));

            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.InputSensitivity(model, new InputSensitivityEstimator.Options { BatchSize = 0 }));
            Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.InputSensitivity(model, new InputSensitivityEstimator.Options { LogitsOutputColumnName = "JacobianNorm" }));
        }
        using var scope = NewDisposeScope();
        var bad = tensor(new[] { 1.0, double.PositiveInfinity }, [1, 2], ScalarType.Float64);
        Assert.Throws<ArgumentException>(() => SoftmaxSensitivity.SoftmaxJacobianNorm(t => t, bad));
    }
}
