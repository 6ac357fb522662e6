using Components.Samplers;
using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Components.Tests.Harness;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Samplers.Hmc;

/// <summary>ml.Samplers.Hmc: the ML.NET contract, adaptation, sampling, errors.</summary>
public sealed class HmcEstimatorTests
{
    [Fact]
    public void HmcHarness()
    {
        var ml = new MLContext(seed: 1);
        var options = new HmcEstimator.Options { Energy = EnergyFunction.MixtureOfGaussians(), AdaptationSteps = 20, Chains = 16, Transitions = 3, LeapfrogSteps = 4, Seed = 2 };
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(25, 2, seed: 1));
        var invalid = ml.Data.LoadFromEnumerable(new[] { new HmcTestUtil.ScalarRow { Features = 1 } });
        var model = EstimatorHarness.Run(ml, ml.Samplers.Hmc(options), data, invalidData: invalid, tolerance: 1e-4);
        Assert.True(model.StepSize > 0);
        Assert.Equal(16, model.Chains);
        Assert.Equal(4, model.GradientsPerTransition);
    }

    [Fact]
    public void HmcModelSamplesMatchTarget()
    {
        var ml = new MLContext(seed: 2);
        var cov = new double[,] { { 2, 0.8 }, { 0.8, 1 } };
        var energy = EnergyFunction.Gaussian([1, -1], cov);
        var o = new HmcEstimator.Options { Energy = energy, AdaptationSteps = 150, Chains = 100, Seed = 3, LeapfrogSteps = 8 };
        var model = ml.Samplers.Hmc(o).Fit(HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(10, 2, seed: 2)));
        // 100 chains, one sample every 5 transitions after 50 burn-in: nearly independent draws.
        var view = model.Sample(2000, burnIn: 50, thin: 5);
        var values = EstimatorHarness.ReadColumn(view, "Sample").SelectMany(r => r).Select(v => (float)v).ToArray();
        using var scope = torch.NewDisposeScope();
        HmcTestUtil.AssertMoments(torch.tensor(values, [2000, 2]), [1, -1], cov, 5, "HMC samples");
    }

    [Fact]
    public void HmcLogsAdaptationAndHonoursCancellation()
    {
        var ml = new MLContext(seed: 3);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.StartsWith(nameof(HmcEstimator), StringComparison.Ordinal)) lock (messages) messages.Add(e.RawMessage); };
        var data = HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(5, 2, seed: 2));
        ml.Samplers.Hmc(new HmcEstimator.Options { Energy = HmcTestUtil.CorrelatedGaussian(2), AdaptationSteps = 30, Chains = 8, LogInterval = 10 }).Fit(data);
        Assert.True(messages.Any(m => m.StartsWith("Adaptation step 11/30", StringComparison.Ordinal) && m.Contains("acceptance") && m.Contains("ε")),
            string.Join(" | ", messages));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var o = new HmcEstimator.Options { Energy = HmcTestUtil.CorrelatedGaussian(2), CancellationToken = cts.Token };
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Samplers.Hmc(o).Fit(data));
    }

    [Fact]
    public void HmcRejectsBadData()
    {
        var ml = new MLContext(seed: 4);
        var est = ml.Samplers.Hmc(new HmcEstimator.Options { Energy = HmcTestUtil.CorrelatedGaussian(2), AdaptationSteps = 5, Chains = 4 });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => est.Fit(HmcTestUtil.States(ml, HmcTestUtil.GaussianRows(4, 5, 1))));
        Assert.Contains("initial state column 'Features'", ex.Message);
        Assert.Throws<InvalidOperationException>(() => est.Fit(HmcTestUtil.States(ml, [[1, float.PositiveInfinity]])));
        Assert.Throws<InvalidOperationException>(() => est.Fit(HmcTestUtil.States(ml, [], dimension: 2)));
        var wall = EnergyFunction.FromFunction("HmcEstimatorTests.Wall", 2,
            x => 0.5f * x.square().sum(1) + torch.where(x[.., 0].gt(1), torch.tensor(float.PositiveInfinity), torch.tensor(0f)));
        var ex2 = Assert.Throws<InvalidOperationException>(() => ml.Samplers.Hmc(new HmcEstimator.Options { Energy = wall }).Fit(HmcTestUtil.States(ml, [[0, 0], [2, 0]])));
        Assert.Contains("non-finite energy", ex2.Message);
        Assert.Contains("row 1", ex2.Message);
    }

    [Fact]
    public void HmcValidatesOptions()
    {
        var ml = new MLContext();
        var e = HmcTestUtil.CorrelatedGaussian(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.Hmc(new HmcEstimator.Options()));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.Hmc(new HmcEstimator.Options { Energy = e, TargetAcceptance = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.Hmc(new HmcEstimator.Options { Energy = e, StepSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.Hmc(new HmcEstimator.Options { Energy = e, AdaptationSteps = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.Hmc(new HmcEstimator.Options { Energy = e, InitialStateColumnName = " " }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Samplers.Hmc(e, leapfrogSteps: 0));
    }
}
