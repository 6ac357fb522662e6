using Components.Core;
using Components.Kernels.Nngp;
using Components.Tests.Harness;
using Components.Trainers.Nngp;
using Microsoft.ML;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Nngp;

/// <summary>The matrix-free solver: kernel operator, pivoted-Cholesky PCG, Lanczos variances, agreement with the dense path.</summary>
public class NngpMatrixFreeTests(ITestOutputHelper output)
{
    private static NngpRegressionTrainer.Options Regression(NngpSolver solver, double reg = 1e-2) => new()
    {
        Depth = 2, WeightVariance = 1.6, BiasVariance = 0.1, Regularizer = reg, InputLayerNorm = false, Solver = solver,
        SolverTolerance = 1e-8, PreconditionerRank = 100, VarianceRank = 512,
        KernelOperatorFactory = new NngpLocalKernelOperatorFactory { CachePrecision = NngpPrecision.Float64 },
    };

    [Fact]
    public void ConjugateGradientsMatchTheDenseCholeskyPathAtFiveThousandRows()
    {
        var ml = new MLContext(seed: 11);
        var sw0 = System.Diagnostics.Stopwatch.StartNew();
        ml.Log += (_, e) => { if (e.Source.Contains("Nngp", StringComparison.Ordinal) && e.Kind != Microsoft.ML.Runtime.ChannelMessageKind.Trace) lock (output) output.WriteLine($"{sw0.Elapsed.TotalSeconds:F1} {e.RawMessage}"); };
        var train = ml.Data.LoadFromEnumerable(NngpTrainerTests.Wave(5000, 21));
        var test = ml.Data.LoadFromEnumerable(NngpTrainerTests.Wave(300, 22));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var dense = ml.Regression.Trainers.Nngp(Regression(NngpSolver.Dense)).Fit(train);
        output.WriteLine($"dense fit {sw.Elapsed.TotalSeconds:F1} s"); sw.Restart();
        using var cg = ml.Regression.Trainers.Nngp(Regression(NngpSolver.ConjugateGradient)).Fit(train);
        output.WriteLine($"cg fit {sw.Elapsed.TotalSeconds:F1} s"); sw.Restart();
        Assert.Equal(NngpFactorKind.Cholesky, dense.Model.FactorKind);
        Assert.Equal(NngpFactorKind.Lanczos, cg.Model.FactorKind);
        var sd = EstimatorHarness.ReadColumn(dense.Transform(test), "Score").Select(v => (double)v[0]).ToArray();
        var sc = EstimatorHarness.ReadColumn(cg.Transform(test), "Score").Select(v => (double)v[0]).ToArray();
        var vd = EstimatorHarness.ReadColumn(dense.Transform(test), "Variance").Select(v => (double)v[0]).ToArray();
        var vc = EstimatorHarness.ReadColumn(cg.Transform(test), "Variance").Select(v => (double)v[0]).ToArray();
        output.WriteLine($"predict {sw.Elapsed.TotalSeconds:F1} s");
        double scoreScale = sd.Select(Math.Abs).Max();
        double maxScore = sd.Zip(sc, (a, b) => Math.Abs(a - b)).Max() / scoreScale;
        double maxVar = vd.Zip(vc, (a, b) => Math.Abs(a - b) / a).Max();
        double meanVar = vd.Zip(vc, (a, b) => Math.Abs(a - b) / a).Average();
        output.WriteLine($"score max rel {maxScore:G3}; variance max rel {maxVar:G3}, mean rel {meanVar:G3}; output scale {dense.Model.OutputScale} vs {cg.Model.OutputScale}");
        Assert.True(maxScore < 1e-4, $"score {maxScore}");
        // The variance basis (512 vectors for 5,000 rows, a smooth 6-d target with many eigen-directions above the
        // noise) is an approximation: measured mean relative error 0.57 here; the floor guards against regressions,
        // and every variance must stay between the noise and the prior (closed-form bounds).
        Assert.True(meanVar < 0.75, $"mean relative variance error {meanVar}");
        Assert.All(vc, v => Assert.True(v > 0 && double.IsFinite(v)));
        Assert.Equal(dense.Model.OutputScale, cg.Model.OutputScale, 1e-4 * dense.Model.OutputScale);
    }

    [Fact]
    public void LocalOperatorReproducesTheDenseKernelRowsDiagonalAndProducts()
    {
        int n = 230;
        using var x = torch.randn([n, 5], generator: new torch.Generator(3));
        var arch = new NngpArchitecture(2, NngpNonlinearity.Relu, 1.6, 0.1);
        using var kernel = new NngpKernel(arch);
        using var k = kernel.Compute(x);
        using var v = torch.randn([n, 3], ScalarType.Float64, generator: new torch.Generator(4));
        var expected = torch.mm(k.Nngp, v);
        foreach (var (factory, tolerance) in new (NngpLocalKernelOperatorFactory, double)[]
        {
            (new() { BlockRows = 37, CacheBudgetBytes = 0 }, 1e-12),                                      // recomputed blocks
            (new() { BlockRows = 37, CachePrecision = NngpPrecision.Float64 }, 1e-12),                     // cached float64
            (new() { BlockRows = 50, CacheBudgetBytes = 40_000 }, 1e-6),                                   // partly cached float32
        })
        {
            using var op = factory.Create(arch, new NngpKernelOptions(), NngpOutputs.Nngp, x);
            Assert.Equal(n, op.Count);
            for (int pass = 0; pass < 2; pass++)   // the second pass reads the cache
            {
                using var kv = op.Multiply(v);
                Assert.True((kv - expected).abs().max().item<double>() <= tolerance * expected.abs().max().item<double>());
            }
            using var rows = op.Rows([5, 0, 229, 5]);
            using var dense = k.Nngp.index_select(0, torch.tensor(new long[] { 5, 0, 229, 5 }));
            Assert.True((rows - dense).abs().max().item<double>() <= 1e-12 * dense.abs().max().item<double>());
            using var d = op.Diagonal();
            Assert.True((d - k.Nngp.diagonal()).abs().max().item<double>() <= 1e-12);
            Assert.Throws<ArgumentOutOfRangeException>(() => op.Rows([n]));
            Assert.Throws<ArgumentOutOfRangeException>(() => op.Multiply(torch.zeros([n + 1, 2], ScalarType.Float64)));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpLocalKernelOperatorFactory().Create(arch, new NngpKernelOptions(), NngpOutputs.Both, x));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpLocalKernelOperatorFactory { BlockRows = -1 }.Create(arch, new NngpKernelOptions(), NngpOutputs.Nngp, x));
    }

    [Fact]
    public void AFullVarianceBasisGivesTheExactVariancesAndTheModelSurvivesSaveAndLoad()
    {
        // With a basis as large as n the Krylov space is everything, so the approximation is exact (closed form).
        var ml = new MLContext(seed: 12).RegisterComponents();
        var train = ml.Data.LoadFromEnumerable(NngpTrainerTests.Wave(150, 23));
        var test = ml.Data.LoadFromEnumerable(NngpTrainerTests.Wave(40, 24));
        var dense = Regression(NngpSolver.Dense);
        var cgOptions = Regression(NngpSolver.ConjugateGradient);
        cgOptions.PreconditionerRank = 10;
        cgOptions.VarianceRank = 150;
        using var d = ml.Regression.Trainers.Nngp(dense).Fit(train);
        var cg = EstimatorHarness.Run(ml, ml.Regression.Trainers.Nngp(cgOptions), train, test, null, tolerance: 1e-5);
        Assert.Equal(NngpFactorKind.Lanczos, cg.Model.FactorKind);
        var vd = EstimatorHarness.ReadColumn(d.Transform(test), "Variance").Select(v => (double)v[0]).ToArray();
        var vc = EstimatorHarness.ReadColumn(cg.Transform(test), "Variance").Select(v => (double)v[0]).ToArray();
        for (int i = 0; i < vd.Length; i++)
            Assert.Equal(vd[i], vc[i], 1e-4 * vd[i]);
        cg.Dispose();
    }

    [Fact]
    public void ClassifierWithConjugateGradientsPassesTheHarnessAndCalibrates()
    {
        var ml = new MLContext(seed: 13).RegisterComponents();
        var train = NngpTrainerTests.Keyed(ml, NngpTrainerTests.Blobs(60, 31));
        var test = NngpTrainerTests.Keyed(ml, NngpTrainerTests.Blobs(30, 32));
        var trainer = ml.MulticlassClassification.Trainers.Nngp(new NngpMulticlassTrainer.Options { Depth = 2, Solver = NngpSolver.ConjugateGradient, PreconditionerRank = 20, VarianceRank = 64 });
        var model = EstimatorHarness.Run(ml, trainer, train, test, null, tolerance: 1e-5);
        Assert.Equal(NngpFactorKind.Lanczos, model.Model.FactorKind);
        Assert.True(ml.MulticlassClassification.Evaluate(model.Transform(test)).MacroAccuracy >= 0.9);
        model.Dispose();
    }

    [Fact]
    public void TheTensorsAConjugateGradientFitLeavesDoNotGrowWithItsIterations()
    {
        // Every CG iteration takes one kernel product; a product that escaped the solver's per-iteration scope stays alive
        // until a garbage collection finalizes it (n × m float64 per iteration: 0.12 GiB at n = 60,000). So a fit that
        // iterates to 1e-10 must leave no more live tensors behind than one that stops at 1e-2.
        var ml = new MLContext(seed: 13).RegisterComponents();
        var train = NngpTrainerTests.Keyed(ml, NngpTrainerTests.Blobs(60, 31));
        NngpMulticlassTrainer.Options Options(double tolerance) => new()
        {
            Depth = 2, Solver = NngpSolver.ConjugateGradient, PreconditionerRank = 5, VarianceRank = 16, SolverTolerance = tolerance,
        };
        long Left(double tolerance)
        {
            var stats = DisposeScopeManager.Statistics;
            bool noGc = GC.TryStartNoGCRegion(200_000_000);
            long before = stats.ThreadTotalLiveCount;
            { using var model = ml.MulticlassClassification.Trainers.Nngp(Options(tolerance)).Fit(train); }
            long after = stats.ThreadTotalLiveCount;
            if (noGc && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
                GC.EndNoGCRegion();
            Assert.True(noGc, "Could not suspend garbage collection for the measurement.");
            return after - before;
        }
        Left(1e-2); // warm-up
        long few = Left(1e-2), many = Left(1e-10);
        output.WriteLine($"live tensors left by a fit: {few} at tolerance 1e-2, {many} at 1e-10");
        Assert.Equal(few, many);
    }

    [Fact]
    public void ANonConvergingBudgetFailsClearlyOrWarnsWhenAllowed()
    {
        var ml = new MLContext(seed: 14);
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.RawMessage); };
        var train = ml.Data.LoadFromEnumerable(NngpTrainerTests.Wave(300, 25));
        var o = Regression(NngpSolver.ConjugateGradient, reg: 1e-6);
        o.PreconditionerRank = 0;
        o.SolverMaxIterations = 2;
        o.PredictVariance = false;
        var e = Assert.Throws<InvalidOperationException>(() => ml.Regression.Trainers.Nngp(o).Fit(train));
        Assert.Contains("SolverMaxIterations = 2", e.Message);
        o.SolverAllowUnconverged = true;
        using var model = ml.Regression.Trainers.Nngp(o).Fit(train);
        Assert.Contains(warnings, w => w.Contains("did not converge", StringComparison.Ordinal));
    }

    [Fact]
    public void CancellationStopsTheSolveBetweenIterations()
    {
        var ml = new MLContext(seed: 15);
        using var cts = new CancellationTokenSource();
        ml.Log += (_, e) => { if (e.RawMessage.StartsWith("CG iteration 2:", StringComparison.Ordinal)) cts.Cancel(); };
        var o = Regression(NngpSolver.ConjugateGradient, reg: 1e-6);
        o.PreconditionerRank = 0;
        o.CancellationToken = cts.Token;
        var train = ml.Data.LoadFromEnumerable(NngpTrainerTests.Wave(300, 26));
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Regression.Trainers.Nngp(o).Fit(train));
        Assert.True(cts.IsCancellationRequested);
    }

    [Fact]
    public void BadSolverOptionsAreRejectedNamingTheOption()
    {
        var ml = new MLContext(seed: 16);
        foreach (var (name, set) in new (string, Action<NngpRegressionTrainer.Options>)[]
        {
            (nameof(NngpTrainerOptions.SolverTolerance), o => o.SolverTolerance = 0),
            (nameof(NngpTrainerOptions.SolverTolerance), o => o.SolverTolerance = double.NaN),
            (nameof(NngpTrainerOptions.SolverMaxIterations), o => o.SolverMaxIterations = 0),
            (nameof(NngpTrainerOptions.PreconditionerRank), o => o.PreconditionerRank = -1),
            (nameof(NngpTrainerOptions.VarianceRank), o => o.VarianceRank = 0),
            (nameof(NngpTrainerOptions.Solver), o => o.Solver = (NngpSolver)7),
        })
        {
            var o = Regression(NngpSolver.ConjugateGradient);
            set(o);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Nngp(o));
            Assert.Equal(name, e.ParamName);
        }
    }
}
