using Components.Kernels.Nngp;
using Components.Orleans.Nngp;
using Components.Tests.Harness;
using Components.Tests.Trainers.Nngp;
using Components.Trainers.Nngp;
using Microsoft.ML;

namespace Components.Tests.Orleans.Nngp;

/// <summary>The NNGP trainer pointed at the cluster with <c>UseOrleansCluster</c> fits the model of the single-process matrix-free solver.</summary>
[Collection(OrleansNngpClusterCollection.Name)]
public sealed class OrleansNngpTrainerTests(OrleansNngpClusterFixture fixture)
{
    private static NngpRegressionTrainer.Options Options() => new()
    {
        Seed = 1, Depth = 2, WeightVariance = 1.6, BiasVariance = 0.1, Regularizer = 1e-2, InputLayerNorm = false,
        Solver = NngpSolver.ConjugateGradient, SolverTolerance = 1e-10, PreconditionerRank = 50, VarianceRank = 64,
        KernelOperatorFactory = new NngpLocalKernelOperatorFactory { CachePrecision = NngpPrecision.Float64 },
    };

    [Fact]
    public void UseOrleansClusterFitsTheSingleProcessModel()
    {
        var ml = new MLContext(seed: 5);
        var train = ml.Data.LoadFromEnumerable(NngpTrainerTests.Wave(300, 31));
        var test = ml.Data.LoadFromEnumerable(NngpTrainerTests.Wave(50, 32));
        using var local = ml.Regression.Trainers.Nngp(Options()).Fit(train);

        var options = Options();
        var cluster = options.UseOrleansCluster(fixture.Client);
        cluster.Blocks = 5;
        Assert.Same(cluster, options.KernelOperatorFactory);
        Assert.Equal(NngpSolver.ConjugateGradient, options.Solver);
        using var remote = ml.Regression.Trainers.Nngp(options).Fit(train);

        var sl = EstimatorHarness.ReadColumn(local.Transform(test), "Score").Select(v => (double)v[0]).ToArray();
        var sr = EstimatorHarness.ReadColumn(remote.Transform(test), "Score").Select(v => (double)v[0]).ToArray();
        var vl = EstimatorHarness.ReadColumn(local.Transform(test), "Variance").Select(v => (double)v[0]).ToArray();
        var vr = EstimatorHarness.ReadColumn(remote.Transform(test), "Variance").Select(v => (double)v[0]).ToArray();
        double scale = sl.Select(Math.Abs).Max();
        double score = sl.Zip(sr, (a, b) => Math.Abs(a - b)).Max() / scale;
        double variance = vl.Zip(vr, (a, b) => Math.Abs(a - b) / a).Max();
        Assert.True(score < 1e-6, $"scores differ by {score:G3} relative");
        Assert.True(variance < 1e-6, $"variances differ by {variance:G3} relative");
    }
}
