using Components.Core;
using Components.Core.Data;
using Components.Kernels.Nngp;
using Components.Tests.Harness;
using Components.Trainers.Nngp;
using Microsoft.ML;
using Microsoft.ML.Data;
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
    public void TheMatrixFreeTemperatureAgreesWithTheDensePaths()
    {
        // 120 training rows: both paths take the leave-one-out means of every row (dense: up to 2,048 rows, exact
        // [C⁻¹]_ii; matrix-free: up to 128, [C⁻¹]_ii from a looser CG solve on e_i whose relative error is bounded by
        // 1e-3, here with a weak rank-10 preconditioner so that the bound, not the preconditioner, ends the solve).
        // Means within 1e-3 relative move the fitted temperature by about as much; 5e-3 leaves room.
        var ml = new MLContext(seed: 17);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("Nngp", StringComparison.Ordinal) && e.RawMessage.StartsWith("Calibration:", StringComparison.Ordinal)) lock (log) log.Add(e.RawMessage); };
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 120, testRows: 10);
        NngpMulticlassTrainer.Options Options(NngpSolver solver) => new()
        {
            Depth = 2, WeightVariance = 1.6, BiasVariance = 0.01, Regularizer = 1e-2, Solver = solver, PreconditionerRank = 10, VarianceRank = 64,
            SolverTolerance = 1e-8, KernelOperatorFactory = new NngpLocalKernelOperatorFactory { CachePrecision = NngpPrecision.Float64 },
        };
        using var dense = ml.MulticlassClassification.Trainers.Nngp(Options(NngpSolver.Dense)).Fit(data.Train);
        using var cg = ml.MulticlassClassification.Trainers.Nngp(Options(NngpSolver.ConjugateGradient)).Fit(data.Train);
        Assert.Equal(NngpFactorKind.Lanczos, cg.Model.FactorKind);
        output.WriteLine($"temperature dense {dense.Temperature:G6}, matrix-free {cg.Temperature:G6}; {string.Join(" ", log)}");
        Assert.Single(log);
        Assert.Contains("of 120 rows", log[0]);
        Assert.Equal(dense.Temperature, cg.Temperature, 5e-3 * dense.Temperature);
    }

    [Theory]
    [InlineData(1e-1)]
    [InlineData(1e-3)]
    public void Float64ProductsReachTheToleranceInTheTrueResidualAndFloat32ProductsStallNearOneInTenThousand(double regularizer)
    {
        // CG updates its residual recursively (r ← r − a·C·p), so with inexact (float32) block products the reported
        // residual keeps falling while the true one, ‖Y − C·α‖/‖Y‖ with C from float64 products of the same
        // float32-cached kernel, stalls. On 2,000 Fashion-MNIST rows with the runner's kernel: float64 products (the
        // default) must reach 10× the tolerance in the true residual; float32 products stalled at 2.7e-5 (ε 0.1) and
        // 9.3e-5 (ε 1e-3) when measured, so ProductPrecision = Float32 is documented as good to about 1e-4.
        var ml = new MLContext(seed: 18);
        var data = FashionMnist.LoadEmbeddedSubset(ml, trainRows: 2000, testRows: 1);
        var rows = data.Train.GetColumn<float[]>("Features").ToArray();
        var labels = data.Train.GetColumn<uint>("Label").Select(l => (long)l - 1).ToArray();
        using var x = torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
        using var y = torch.nn.functional.one_hot(torch.tensor(labels), 10).to(ScalarType.Float64) - 0.1;
        var arch = new NngpArchitecture(2, NngpNonlinearity.Relu, 1.6, 0.01, inputLayerNorm: true);
        using var op32 = new NngpLocalKernelOperatorFactory { ProductPrecision = NngpPrecision.Float32 }.Create(arch, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        using var op64 = new NngpLocalKernelOperatorFactory { ProductPrecision = NngpPrecision.Float64 }.Create(arch, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        using var scope = torch.NewDisposeScope();
        var diag = op64.Diagonal();
        double noise = regularizer * diag.mean().item<double>();
        using var pc = NngpPivotedCholesky.Create(op64, diag, 100, noise, null, default);
        const double tolerance = 1e-6;
        double TrueResidual(Tensor alpha) => ((y - op64.Multiply(alpha) - noise * alpha).norm(0) / y.norm(0)).max().item<double>();
        var (a64, r64) = NngpConjugateGradient.Solve(op64, y, noise, pc, tolerance, 1000, null, default);
        var (a32, r32) = NngpConjugateGradient.Solve(op32, y, noise, pc, tolerance, 1000, null, default);
        double t64 = TrueResidual(a64), t32 = TrueResidual(a32);
        output.WriteLine($"ε {regularizer}: float64 products {r64.Iterations} iterations, true residual {t64:G3}; float32 products {r32.Iterations} iterations, reported residual {r32.MaxRelativeResidual:G3}, true residual {t32:G3}");
        Assert.True(r64.Converged && r32.Converged);
        Assert.True(t64 <= 10 * tolerance, $"float64 products: true residual {t64}");
        Assert.True(t32 <= 2e-4, $"float32 products: true residual {t32}");
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
            (nameof(NngpTrainerOptions.PreconditionerRank), o => o.PreconditionerRank = -2),
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
