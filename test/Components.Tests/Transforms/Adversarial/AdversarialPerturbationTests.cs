using Components.Core;
using Components.Core.Schema;
using Components.Core.Tensors;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Components.Transforms.Adversarial;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.Adversarial;

/// <summary>
/// <c>ml.Transforms.AdversarialPerturbation</c> and <see cref="EnsembleAttack"/>: the L∞ ball and pixel range, the
/// loss going down, success rising with ε, white-box ≥ transfer, determinism, the harness and bad inputs.
/// </summary>
public sealed class AdversarialPerturbationTests(AdversarialTestData fx) : IClassFixture<AdversarialTestData>
{
    private static AdversarialPerturbationEstimator.Options Quick(double epsilon = 0.1, int? seed = 7) => new()
    {
        Epsilon = epsilon, StepSize = epsilon / 4 + 1e-3, Iterations = 8, TransformationSamples = 2, MaxShift = 1, NoiseStandardDeviation = 0.02,
        Seed = seed, BatchSize = 16,
    };

    private static (List<double[]> X, List<double[]> Adv, List<double[]> Delta) Read(IDataView output)
        => (EstimatorHarness.ReadColumn(output, "Features"), EstimatorHarness.ReadColumn(output, "Adversarial"), EstimatorHarness.ReadColumn(output, "Perturbation"));

    private static Func<Tensor, Tensor> Member(NeuralNetworkMulticlassModel m) => m.Module.forward;

    // Fraction of rows the models' mean log-probability classifies as the target class (key column Target − 1).
    private double TargetRate(IDataView output, string column, params NeuralNetworkMulticlassModel[] judges)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = DataLoading.LoadFeatures(output, column);
        var targets = EstimatorHarness.ReadColumn(output, "Target").Select(t => (long)t[0] - 1).ToArray();
        var predicted = EnsembleAttack.LogProbabilities(judges.Select(Member).ToArray(), x).argmax(1).data<long>().ToArray();
        return predicted.Zip(targets).Count(p => p.First == p.Second) / (double)targets.Length;
    }

    [Fact]
    public void PerturbationStaysInTheEpsilonBallAndPixelsInTheUnitInterval()
    {
        foreach (var (eps, untargeted) in new[] { (0.05, false), (0.3, false), (0.2, true) })
        {
            var o = Quick(eps);
            o.StepSize = 0.5; // large steps: the clipping does the work
            o.Untargeted = untargeted;
            using var t = fx.Ml.Transforms.AdversarialPerturbation([fx.CnnA, fx.CnnB], o).Fit(fx.Test);
            var (x, adv, delta) = Read(t.Transform(fx.Test));
            double maxDelta = 0;
            for (int r = 0; r < x.Count; r++)
            {
                for (int j = 0; j < x[r].Length; j++)
                {
                    Assert.InRange(adv[r][j], 0.0, 1.0);
                    Assert.True(Math.Abs(adv[r][j] - x[r][j]) <= eps + 1e-6, $"row {r} pixel {j}: |δ| = {Math.Abs(adv[r][j] - x[r][j])} > ε = {eps}");
                    Assert.Equal(adv[r][j] - x[r][j], delta[r][j], 1e-6);
                    maxDelta = Math.Max(maxDelta, Math.Abs(delta[r][j]));
                }
            }
            Assert.True(maxDelta > eps * 0.99, $"the attack should use its budget, max |δ| = {maxDelta}");
        }
    }

    [Fact]
    public void AttackLowersTheTargetLossOnAverage()
    {
        using var scope = NewDisposeScope();
        var x = DataLoading.LoadFeatures(fx.Test, "Features");
        var target = EstimatorHarness.ReadColumn(fx.Test, "Target").Select(t => (long)t[0] - 1).ToArray();
        var members = new[] { Member(fx.CnnA), Member(fx.Mlp) };
        double previous = double.PositiveInfinity;
        foreach (int steps in new[] { 1, 4, 12 })
        {
            using var r = EnsembleAttack.Run(members, x, target, new ImageShape(1, 12, 12), new EnsembleAttackSettings(0.15, 0.03, steps, maxShift: 1, noiseStandardDeviation: 0.02));
            double before = r.InitialLoss.mean().item<float>(), after = r.FinalLoss.mean().item<float>();
            Assert.True(after < before - 0.1, $"{steps} steps: target loss {before} → {after}");
            Assert.True(after <= previous + 1e-3, $"more steps should not raise the mean target loss: {previous} → {after}");
            previous = after;
        }
        // Untargeted: the loss of the true class goes up.
        var label = EstimatorHarness.ReadColumn(fx.Test, "Label").Select(t => (long)t[0] - 1).ToArray();
        using var u = EnsembleAttack.Run(members, x, label, new ImageShape(1, 12, 12), new EnsembleAttackSettings(0.15, 0.03, 6, untargeted: true));
        Assert.True(u.FinalLoss.mean().item<float>() > u.InitialLoss.mean().item<float>() + 0.1);
    }

    [Fact]
    public void SuccessRisesWithEpsilonAndWhiteBoxBeatsTransfer()
    {
        var rates = new List<(double Eps, double WhiteBox, double Transfer)>();
        foreach (var eps in new[] { 0.0, 0.08, 0.16, 0.3 })
        {
            using var t = fx.Ml.Transforms.AdversarialPerturbation([fx.CnnA], Quick(eps)).Fit(fx.Test);
            var output = t.Transform(fx.Test);
            rates.Add((eps, TargetRate(output, "Adversarial", fx.CnnA), TargetRate(output, "Adversarial", fx.Mlp)));
        }
        Assert.True(rates[0].WhiteBox < 0.2, $"ε = 0: the clean images are rarely the target class ({rates[0].WhiteBox})");
        var text = string.Join("; ", rates);
        for (int i = 1; i < rates.Count; i++)
        {
            Assert.True(rates[i].WhiteBox > rates[i - 1].WhiteBox || rates[i].WhiteBox == 1, $"white-box success should rise with ε: {text}");
            Assert.True(rates[i].Transfer >= rates[i - 1].Transfer, $"transfer success should not fall with ε: {text}");
        }
        Assert.True(rates[^1].WhiteBox > 0.9, text);
        Assert.True(rates[^1].Transfer > rates[0].Transfer + 0.2, text);
        foreach (var r in rates.Skip(1))
            Assert.True(r.WhiteBox >= r.Transfer, $"white-box success should be at least the transfer success: {r}");
    }

    [Fact]
    public void AttackIsDeterministicForASeed()
    {
        List<double[]> Run(int seed)
        {
            using var t = fx.Ml.Transforms.AdversarialPerturbation([fx.CnnA, fx.RetinaCnn], Quick(0.1, seed)).Fit(fx.Test);
            return EstimatorHarness.ReadColumn(t.Transform(fx.Test), "Perturbation");
        }
        var a = Run(3);
        var b = Run(3);
        var c = Run(4);
        Assert.Equal(a.SelectMany(r => r), b.SelectMany(r => r));
        Assert.NotEqual(a.SelectMany(r => r), c.SelectMany(r => r));
    }

    [Fact]
    public void AdversarialPerturbationPassesTheHarness()
    {
        var o = Quick(0.1);
        o.TargetMapping = new Dictionary<string, string> { ["horizontal"] = "vertical", ["vertical"] = "diagonal" };
        var wrongSize = fx.Ml.Data.LoadFromEnumerable(new[] { new { Features = new float[] { 0.5f, 0.5f } } });
        var estimator = fx.Ml.Transforms.AdversarialPerturbation([fx.CnnA, fx.Mlp], o);
        // A sign flip of a near-zero gradient component between batch sizes moves a pixel by at most 2α.
        using var t = EstimatorHarness.Run(fx.Ml, estimator, fx.Ml.Data.TakeRows(fx.Test, 12), invalidData: wrongSize, tolerance: 2 * o.StepSize + 1e-5);
        Assert.Equal(2, t.EnsembleSize);
        Assert.Equal(new ImageShape(1, 12, 12), ImageShape.Of(t.Transform(fx.Test).Schema["Adversarial"]));
        Assert.Equal(new ImageShape(1, 12, 12), ImageShape.Of(t.Transform(fx.Test).Schema["Perturbation"]));
        // Rows predicted as a class without a mapping ("diagonal") pass through unchanged.
        var output = t.Transform(fx.Test);
        var delta = EstimatorHarness.ReadColumn(output, "Perturbation");
        Assert.Contains(delta, d => d.All(v => v == 0));
        Assert.Contains(delta, d => d.Any(v => v != 0));
    }

    [Fact]
    public void RetinaCnnSavesAndLoadsWithItsRetina()
    {
        var path = Path.Combine(Path.GetTempPath(), $"retina-cnn-{Guid.NewGuid():N}.zip");
        try
        {
            fx.Ml.Model.Save(fx.RetinaCnn, fx.Test.Schema, path);
            var ml = new MLContext(seed: 0);
            ml.RegisterComponents();
            using var loaded = (NeuralNetworkMulticlassModel)ml.Model.Load(path, out _);
            Assert.Equal(fx.RetinaCnn.Architecture.Retina, loaded.Architecture.Retina);
            Assert.NotNull(loaded.Architecture.Retina);
            var a = EstimatorHarness.ReadColumn(fx.RetinaCnn.Transform(fx.Test), "Score");
            var b = EstimatorHarness.ReadColumn(loaded.Transform(fx.Test), "Score");
            Assert.Equal(a.SelectMany(r => r), b.SelectMany(r => r));
        }
        finally
        {
            File.Delete(path);
        }
        // The retina is part of the network: it changes the scores of the same weights.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = DataLoading.LoadFeatures(fx.Test, "Features");
        var plain = NeuralNetworkModule.CreateUninitialized(new NeuralNetworkArchitecture(NeuralNetworkArchitectureKind.Cnn, 144, 3, [], NeuralNetworkActivation.Relu,
            2, 0, [4], 12, 12));
        plain.CopyParametersFrom(fx.RetinaCnn.Module);
        using var retina = new RetinaLayer(fx.RetinaCnn.Architecture.Retina!, 1, 12, 12);
        var expected = plain.forward(retina.forward(x));
        var actual = fx.RetinaCnn.Module.forward(x);
        Assert.True(expected.sub(actual).abs().max().item<float>() < 1e-5);
        Assert.True(plain.forward(x).sub(actual).abs().max().item<float>() > 1e-3);
        plain.Dispose();
    }

    [Fact]
    public void RetinaNeedsTheCnn()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => fx.Ml.MulticlassClassification.Trainers.NeuralNetwork(
            new NeuralNetworkMulticlassTrainer.Options { Retina = new RetinaSettings() }));
        Assert.Contains("Retina", ex.Message);
    }

    [Fact]
    public void BadInputsFailClearly()
    {
        var ml = fx.Ml;
        Exception Fails(AdversarialPerturbationEstimator.Options o, IReadOnlyList<NeuralNetworkMulticlassModel>? models = null)
            => Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.AdversarialPerturbation(models ?? [fx.CnnA], o));
        var o = Quick();
        o.Epsilon = -0.01;
        Assert.Contains("Epsilon", Fails(o).Message);
        o = Quick();
        o.Epsilon = 1.5;
        Assert.Contains("Epsilon", Fails(o).Message);
        Assert.Contains("empty", Fails(Quick(), []).Message);
        o = Quick();
        o.TargetMapping = new Dictionary<string, string> { ["horizontal"] = "cat" };
        Assert.Contains("Unknown target class 'cat'", Fails(o).Message);
        o = Quick();
        o.Iterations = 0;
        Assert.Contains("Iterations", Fails(o).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.AdversarialPerturbation([fx.CnnA], epsilon: 2));
        Assert.Throws<ArgumentException>(() => EnsembleAttack.Run([], zeros(1, 144), [0], new ImageShape(1, 12, 12), new EnsembleAttackSettings(0.1, 0.01, 1)));

        // Wrong image size.
        var small = ml.Data.LoadFromEnumerable(new[] { new { Features = new float[] { 0.5f, 0.5f } } });
        var est = ml.Transforms.AdversarialPerturbation([fx.CnnA], Quick());
        Assert.Contains("length 144", Assert.Throws<ArgumentOutOfRangeException>(() => est.Fit(small)).Message);
        // Missing shape: an MLP ensemble over a column without an ImageShape annotation.
        var bare = AdversarialTestData.Images(ml, 6, seed: 5, annotate: false);
        var mlpOnly = ml.Transforms.AdversarialPerturbation([fx.Mlp], Quick());
        Assert.Contains("ImageShape", Assert.Throws<ArgumentOutOfRangeException>(() => mlpOnly.GetOutputSchema(SchemaShapes.FromSchema(bare.Schema))).Message);
        Assert.Contains("ImageShape", Assert.Throws<ArgumentOutOfRangeException>(() => mlpOnly.Fit(bare)).Message);
        // Wrong shape: an annotation that disagrees with the CNN.
        var wrongShape = ImageShape.Annotate(bare, "Features", new ImageShape(1, 6, 24));
        Assert.Contains("1×12×12", Assert.Throws<ArgumentOutOfRangeException>(() => est.Fit(wrongShape)).Message);
        // Missing target column; target key of the wrong classes.
        var noTarget = ml.Transforms.DropColumns("Target").Fit(fx.Test).Transform(fx.Test);
        Assert.Contains("Target", Assert.Throws<ArgumentOutOfRangeException>(() => est.Fit(noTarget)).Message);
        var otherKeys = ml.Transforms.Conversion.MapValueToKey("Target", "TargetName").Fit(fx.Test).Transform(fx.Test);
        var keyEx = Assert.ThrowsAny<ArgumentOutOfRangeException>(() => est.Fit(otherKeys));
        Assert.Contains("Target", keyEx.Message);
        // Pixels outside [0, 1] fail at transform time, naming the column and the row.
        var bright = ImageShape.Annotate(ml.Data.LoadFromEnumerable(AdversarialTestData.Rows(3, 8).Select(r => new AdversarialTestData.Row
        {
            Features = r.Features.Select(v => v * 3).ToArray(), Label = r.Label, TargetName = r.TargetName,
        })), "Features", new ImageShape(1, 12, 12));
        var brightKeyed = ml.Transforms.Conversion.MapValueToKey("Target", "TargetName", keyData: ml.Data.LoadFromEnumerable(AdversarialTestData.Classes.Select(c => new { TargetName = c })))
            .Fit(bright).Transform(bright);
        using var t = est.Fit(brightKeyed);
        var bad = Assert.Throws<InvalidOperationException>(() => EstimatorHarness.ReadColumn(t.Transform(brightKeyed), "Adversarial"));
        Assert.Contains("Features", bad.Message);
        Assert.Contains("[0, 1]", bad.Message);
    }

    [Fact]
    public void CancellationStopsTheAttack()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var o = Quick();
        o.CancellationToken = cts.Token;
        using var t = fx.Ml.Transforms.AdversarialPerturbation([fx.CnnA], o).Fit(fx.Test);
        Assert.ThrowsAny<OperationCanceledException>(() => EstimatorHarness.ReadColumn(t.Transform(fx.Test), "Adversarial"));
    }
}
