using Components.Trainers.LearnedOptimizer;
using Components.Trainers.LearnedOptimizer.MetaTraining;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.LearnedOptimizer;

/// <summary>
/// The shipped (meta-trained) weights: they load with the default architecture, and as an optimizer they minimise
/// held-out quadratics (seeds meta-training never draws) every time and far better than the untrained reduced rule.
/// </summary>
public sealed class ShippedWeightsTests
{
    private static double[] FinalLogRatios(Func<IEnumerable<Parameter>, HierarchicalRnnOptimizer> create, int steps)
    {
        var ensemble = new MetaTrainingEnsemble([(MetaTrainingFamily.Quadratic, 1.0)], 0, 0, 0, 0);
        var result = new List<double>();
        for (int seed = 5_000_000; seed < 5_000_004; seed++)
        {
            using var problem = ensemble.Draw(seed);
            var theta = problem.InitialParameters.Select(t => new Parameter(t.clone(), requires_grad: true)).ToArray();
            using var optimizer = create(theta);
            double f0;
            using (no_grad())
                f0 = problem.Loss(theta).ToDouble();
            for (int t = 0; t < steps; t++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                problem.Loss(theta).backward();
                optimizer.step();
            }
            using (no_grad())
                result.Add(Math.Log10(problem.Loss(theta).ToDouble() / f0));
            foreach (var p in theta)
                p.Dispose();
        }
        return [.. result];
    }

    [Fact]
    public void TheShippedWeightsLoadAndMinimiseHeldOutQuadraticsBetterThanTheReducedRule()
    {
        using var shipped = HierarchicalRnnMetaParameters.LoadShipped();
        Assert.Equal(HierarchicalRnnArchitecture.Default, shipped.Architecture);
        using var reduced = HierarchicalRnnMetaParameters.CreateReduced();
        Assert.Contains(shipped.parameters().Zip(reduced.parameters()), pair => !pair.First.equal(pair.Second).all().item<bool>());

        const int steps = 200;
        var learned = FinalLogRatios(p => HierarchicalRnnOptimizer.WithShippedWeights(p), steps);
        var baseline = FinalLogRatios(p => new HierarchicalRnnOptimizer(p, reduced), steps);
        Assert.All(learned, r => Assert.True(double.IsFinite(r) && r < 0, $"final log10(f/f0) {r} (all: {string.Join(", ", learned)})"));
        Assert.True(learned.Average() < baseline.Average() - 0.2,
            $"shipped mean log10(f_T/f_0) {learned.Average():F3} vs reduced rule {baseline.Average():F3} ({string.Join(", ", learned)} / {string.Join(", ", baseline)})");
    }
}
