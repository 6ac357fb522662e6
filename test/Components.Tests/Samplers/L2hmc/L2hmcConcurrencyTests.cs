using Components.Samplers.L2hmc;
using Components.Samplers.Sampling;
using Components.Tests.Harness;
using Components.Tests.Samplers.Hmc;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Components.Tests.Samplers.L2hmc;

/// <summary>The L2HMC model owns its networks through a TorchModuleOwner: concurrent PredictionEngines and dispose.</summary>
public sealed class L2hmcConcurrencyTests
{
    private sealed class Input
    {
        [VectorType(2)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Output
    {
        public float[] Sample { get; set; } = [];

        public float AcceptanceRate { get; set; }
    }

    [Fact]
    public void L2hmcFourThreadsOfPredictionEnginesGiveTheSequentialOutputsAndDisposeFreesTheNetworks()
    {
        var ml = new MLContext(seed: 1);
        var energy = HmcTestUtil.CorrelatedGaussian(2);
        using var generator = new torch.Generator(3, torch.CPU);
        var sampler = new L2hmcSampler(energy, generator, leapfrogSteps: 3, hiddenUnits: 6); // untrained: the weights only need to be fixed
        var model = new L2hmcModel(ml, new SamplerColumns("Features", "Sample", "AcceptanceRate"), energy, transitions: 2, seed: 1,
            [0f, 0f, 1f, -1f], sampler, [], torch.CPU);
        var inputs = HmcTestUtil.GaussianRows(80, 2, seed: 4).Select(r => new Input { Features = r }).ToArray();
        var (sequential, concurrent) = ConcurrentPrediction.Run<Input, Output, float[]>(ml, model, inputs,
            o => [.. o.Sample, o.AcceptanceRate]);
        Assert.All(concurrent, thread => Assert.Equal(sequential, thread));
        Assert.Contains(sequential, s => s[2] > 0); // some proposals were accepted: the networks did run

        var weights = sampler.Dynamics.parameters().ToList();
        Assert.All(weights, p => Assert.False(p.IsInvalid));
        model.Dispose();
        Assert.All(weights, p => Assert.True(p.IsInvalid));
    }

    [Fact]
    public void L2hmcCopiesMadeForConcurrentCallersHoldTheTrainedMasksStepSizeAndWeights()
    {
        var energy = HmcTestUtil.CorrelatedGaussian(4);
        using var generator = new torch.Generator(5, torch.CPU);
        var sampler = new L2hmcSampler(energy, generator, leapfrogSteps: 3, hiddenUnits: 6, stepSize: 0.37);
        using var owner = new Components.Core.Modules.TorchModuleOwner<L2hmcDynamics>(sampler.Dynamics, torch.CPU, () =>
        {
            using var g = new torch.Generator(99, torch.CPU); // different masks and weights, to be overwritten
            return new L2hmcDynamics(4, 3, 6, stepSize: 1, trainStepSize: false, g);
        });
        using var copy = owner.CloneModule();
        var expected = owner.Module.state_dict();
        var actual = copy.state_dict();
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        Assert.Contains(expected.Keys, k => k.Contains("masks"));
        foreach (var (name, value) in expected)
            Assert.True(value.allclose(actual[name], rtol: 0, atol: 0), name);
        Assert.Equal(owner.Module.StepSize, copy.StepSize, 6);
    }
}
