using Components.Core.Runtime;
using Components.Core.Training;
using Components.Tests.Harness;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Core.Training;

/// <summary>The Core training engine on tensors, without ML.NET: every test checks against a closed form or an independent computation.</summary>
public sealed class TrainingEngineTests
{
    private static Parameter Scalar(double value) => new(tensor(new[] { value }), requires_grad: true);

    private static double Value(Tensor p) => p.detach().to(ScalarType.Float64).cpu().data<double>()[0];

    private static TrainingEngine<long> Steps(long? stepsPerEpoch, int? maxEpochs = null, long? maxSteps = null, EarlyStopping? earlyStopping = null,
        CancellationToken cancellation = default, ComponentContext? context = null, string? hint = null)
        => new(new StepSource(stepsPerEpoch), new TrainingEngineOptions
        {
            MaxEpochs = maxEpochs,
            MaxSteps = maxSteps,
            EarlyStopping = earlyStopping,
            Cancellation = cancellation,
            Context = context,
            DivergenceHint = hint,
        });

    [Fact]
    public void HandWrittenOptimizerSubclassReproducesTorchSgdExactly()
    {
        // Least squares on random data, 5 epochs of shuffled mini-batches: the same trajectory bit for bit.
        using var gen0 = new Generator(3);
        var x = randn([40, 3], ScalarType.Float32, generator: gen0);
        var y = randn([40], ScalarType.Float32, generator: gen0);
        float[] Train(Func<IEnumerable<Parameter>, torch.optim.Optimizer> factory)
        {
            using var gen = new Generator(11);
            var w = new Parameter(zeros(3), requires_grad: true);
            using var optimizer = factory([w]);
            var engine = new TrainingEngine<TensorBatch>(new TensorBatches([x, y], 8, gen), new TrainingEngineOptions { MaxEpochs = 5 });
            engine.Add(new TrainingObjective<TensorBatch>("loss", optimizer, s => (s.Batch[0].matmul(w) - s.Batch[1]).square().mean()));
            engine.Run();
            return w.detach().data<float>().ToArray();
        }
        var handWritten = Train(p => new TrainingEngineHandWrittenSgd(p, 0.05));
        var torchSgd = Train(p => torch.optim.SGD(p, 0.05));
        Assert.Equal(torchSgd, handWritten);
        Assert.NotEqual([0f, 0f, 0f], handWritten);
    }

    [Fact]
    public void LbfgsReevaluatesTheClosureAndReachesTheLeastSquaresSolution()
    {
        using var gen = new Generator(5);
        var x = randn([30, 3], ScalarType.Float64, generator: gen);
        var y = x.matmul(tensor(new[] { 1.5, -2.0, 0.5 })) + 0.1 * randn([30], ScalarType.Float64, generator: gen);
        var exact = linalg.solve(x.t().matmul(x), x.t().matmul(y)).data<double>().ToArray(); // normal equations
        var w = new Parameter(zeros(3, ScalarType.Float64), requires_grad: true);
        using var lbfgs = torch.optim.LBFGS([w], lr: 1, max_iter: 50, tolerange_grad: 1e-12, tolerance_change: 1e-14);
        int evaluations = 0, reevaluations = 0;
        double? firstStepLoss = null;
        var engine = new TrainingEngine<TensorBatch>(new TensorBatches([x, y], 30, shuffle: null), new TrainingEngineOptions { MaxSteps = 1 });
        engine.Add(new TrainingObjective<TensorBatch>("loss", lbfgs, s =>
        {
            evaluations++;
            if (s.IsReevaluation)
                reevaluations++;
            return (s.Batch[0].matmul(w) - s.Batch[1]).square().mean();
        }));
        engine.OnStep(s => firstStepLoss = s.Metrics["loss"]);
        var result = engine.Run();

        Assert.True(evaluations > 2, $"L-BFGS evaluated the loss {evaluations} times");
        Assert.Equal(evaluations - 1, reevaluations);
        var fitted = w.detach().data<double>().ToArray();
        for (int i = 0; i < 3; i++)
            Assert.Equal(exact[i], fitted[i], 1e-6);
        // The recorded loss is the first evaluation's (w = 0): mean(y²).
        Assert.Equal(y.square().mean().item<double>(), firstStepLoss!.Value, 1e-12);
        Assert.Equal(firstStepLoss.Value, result.Epochs[0].Metrics["loss"], 1e-12);
        Assert.Equal(TrainingStopReason.StepBudget, result.StopReason);
    }

    [Fact]
    public void AnExceptionInsideANativeOptimizersReevaluationSurfacesAsItself()
    {
        var w = new Parameter(ones(2, ScalarType.Float64), requires_grad: true);
        using var lbfgs = torch.optim.LBFGS([w], lr: 1, max_iter: 20);
        int calls = 0;
        var engine = Steps(null, maxSteps: 3);
        engine.Add(new TrainingObjective<long>("loss", lbfgs, _ =>
            ++calls == 3 ? throw new InvalidOperationException("boom in evaluation 3") : (w - 3).square().sum()));
        var ex = Assert.Throws<InvalidOperationException>(() => engine.Run());
        Assert.Equal("boom in evaluation 3", ex.Message);
    }

    [Fact]
    public void TwoOptimizersOnTwoParameterGroupsEachStepOnTheirOwnLossAndSchedule()
    {
        // a minimises (a − 1)² + a·b with SGD every step; b minimises (b + 2)² with momentum SGD on steps 1, 4, 7, …
        // a's backward also writes b.grad, but b's objective zeroes it first: b's trajectory is that of its own loss alone.
        const double lrA = 0.1, lrB = 0.2, mu = 0.5;
        var a = Scalar(0);
        var b = Scalar(1);
        using var sgd = torch.optim.SGD([a], lrA);
        using var momentum = torch.optim.SGD([b], lrB, momentum: mu);
        int bEvaluations = 0;
        var engine = Steps(null, maxSteps: 12);
        var objectiveA = engine.Add(new TrainingObjective<long>("a loss", sgd, _ => (a - 1).square().sum() + (a * b).sum()));
        var objectiveB = engine.Add(new TrainingObjective<long>("b loss", momentum, _ =>
        {
            bEvaluations++;
            return (b + 2).square().sum();
        })
        { Schedule = TrainingSchedule.Every(3, 1) });
        var bAtStep = new List<double>();
        engine.OnStep(s => bAtStep.Add(Value(b)));
        var result = engine.Run();

        Assert.Equal(12, result.Steps);
        Assert.Equal(12, objectiveA.StepsTaken);
        Assert.Equal(4, objectiveB.StepsTaken);
        Assert.Equal(4, bEvaluations);

        // Independent replay of both recursions (b moves only on steps 1, 4, 7, 10; a sees b's value at its step).
        double ea = 0, eb = 1, velocity = 0;
        bool started = false;
        for (int step = 0; step < 12; step++)
        {
            ea -= lrA * (2 * (ea - 1) + eb);
            if (step % 3 == 1)
            {
                double g = 2 * (eb + 2);
                velocity = started ? mu * velocity + g : g;
                started = true;
                eb -= lrB * velocity;
            }
            Assert.Equal(eb, bAtStep[step], 12);
        }
        Assert.Equal(ea, Value(a), 12);
        Assert.Equal(eb, Value(b), 12);
    }

    [Fact]
    public void ClippingByGlobalNormBoundsTheNormAndKeepsTheDirection()
    {
        // Loss c·p over two parameters: the gradient is c = (3, 4 | 12), norm 13. Clipped to τ = 2.6: g = c·τ/13.
        var p1 = new Parameter(zeros(2, ScalarType.Float64), requires_grad: true);
        var p2 = new Parameter(zeros(1, ScalarType.Float64), requires_grad: true);
        var c1 = tensor(new[] { 3.0, 4.0 });
        var c2 = tensor(new[] { 12.0 });
        using var optimizer = new TrainingEngineHandWrittenSgd([p1, p2], 1.0);
        double? recordedNorm = null;
        var engine = Steps(null, maxSteps: 1);
        engine.Add(new TrainingObjective<long>("loss", optimizer, _ => (c1 * p1).sum() + (c2 * p2).sum()) { MaxGradientNorm = 2.6 });
        engine.OnStep(s => recordedNorm = s.Metrics["loss gradient norm"]);
        engine.Run();

        var g = optimizer.LastGradients.SelectMany(v => v).ToArray();
        double norm = Math.Sqrt(g.Sum(v => v * v));
        Assert.True(norm <= 2.6, $"norm after clipping {norm}");
        Assert.Equal(2.6, norm, 1e-6);
        double[] c = [3, 4, 12];
        for (int i = 0; i < 3; i++)
            Assert.Equal(c[i] / 13, g[i] / norm, 12); // same direction
        Assert.Equal(13, recordedNorm!.Value, 12); // the norm before clipping
        Assert.Equal(-c[0] * 2.6 / (13 + 1e-6), Value(p1), 12); // SGD with lr 1 moved by the clipped gradient

        // Below the threshold the gradient is untouched.
        using var untouched = new TrainingEngineHandWrittenSgd([p1, p2], 1.0);
        var engine2 = Steps(null, maxSteps: 1);
        engine2.Add(new TrainingObjective<long>("loss", untouched, _ => (c1 * p1).sum() + (c2 * p2).sum()) { MaxGradientNorm = 100 });
        engine2.Run();
        Assert.Equal(c, untouched.LastGradients.SelectMany(v => v).ToArray());
    }

    [Fact]
    public void ClippingByValueClampsEveryElement()
    {
        var p = new Parameter(zeros(4, ScalarType.Float64), requires_grad: true);
        var c = tensor(new[] { -5.0, -0.25, 0.5, 7.0 });
        using var optimizer = new TrainingEngineHandWrittenSgd([p], 1.0);
        var engine = Steps(null, maxSteps: 1);
        engine.Add(new TrainingObjective<long>("loss", optimizer, _ => (c * p).sum()) { MaxGradientValue = 1 });
        engine.Run();
        Assert.Equal([-1.0, -0.25, 0.5, 1.0], optimizer.LastGradients[0]);
    }

    [Fact]
    public void EarlyStoppingStopsAfterPatienceAndRestoresTheBestWeights()
    {
        // SGD with lr 1 on loss −w moves w by +1 per step; one step per epoch, so w = epoch after each epoch. The validation
        // metric (w − 3.4)² is lowest at epoch 3; with patience 2 training stops after epoch 5 and w is restored to 3.
        var w = Scalar(0);
        using var sgd = torch.optim.SGD([w], 1.0);
        var engine = Steps(1, maxEpochs: 20, earlyStopping: new EarlyStopping("validation", 2, [w]));
        engine.Add(new TrainingObjective<long>("loss", sgd, _ => -w.sum()));
        engine.AddEpochMetrics(_ => [("validation", Math.Pow(Value(w) - 3.4, 2))]);
        var result = engine.Run();

        Assert.Equal(TrainingStopReason.EarlyStopping, result.StopReason);
        Assert.Equal(3, result.BestEpoch);
        Assert.Equal(5, result.Epochs.Count);
        Assert.Equal(3.0, Value(w));
        Assert.Equal([0.36, 2.56], result.Epochs.Skip(3).Select(e => Math.Round(e.Metrics["validation"], 10)));
    }

    [Fact]
    public void EarlyStoppingOnAMetricThatIsNeverFiniteIsAClearError()
    {
        var w = Scalar(0);
        using var sgd = torch.optim.SGD([w], 0.1);
        var engine = Steps(1, maxEpochs: 3, earlyStopping: new EarlyStopping("validation", 5, [w]));
        engine.Add(new TrainingObjective<long>("loss", sgd, _ => w.square().sum()));
        engine.AddEpochMetrics(_ => [("validation", double.NaN)]);
        var ex = Assert.Throws<InvalidOperationException>(() => engine.Run());
        Assert.Contains("'validation' was never finite", ex.Message);

        var missing = Steps(1, maxEpochs: 3, earlyStopping: new EarlyStopping("validation", 5, [w]));
        missing.Add(new TrainingObjective<long>("loss", sgd, _ => w.square().sum()));
        Assert.Contains("does not report", Assert.Throws<InvalidOperationException>(() => missing.Run()).Message);
    }

    [Fact]
    public void TheStepBudgetEndsTrainingInsideAnEpoch()
    {
        // 10 rows in batches of 3: 4 steps per epoch; a budget of 7 steps ends epoch 2 after its third step.
        var x = arange(10, ScalarType.Float32);
        var w = Scalar(0);
        using var sgd = torch.optim.SGD([w], 0.01);
        int evaluations = 0;
        var engine = new TrainingEngine<TensorBatch>(new TensorBatches([x], 3, shuffle: null), new TrainingEngineOptions { MaxEpochs = 10, MaxSteps = 7 });
        var objective = engine.Add(new TrainingObjective<TensorBatch>("loss", sgd, s =>
        {
            evaluations++;
            return (s.Batch[0].to(ScalarType.Float64) - w).square().mean();
        }));
        var result = engine.Run();

        Assert.Equal(TrainingStopReason.StepBudget, result.StopReason);
        Assert.Equal(7, result.Steps);
        Assert.Equal(7, evaluations);
        Assert.Equal(7, objective.StepsTaken);
        Assert.Equal(2, result.Epochs.Count);
        Assert.True(result.Epochs[0].Complete);
        Assert.False(result.Epochs[1].Complete);
        Assert.Equal([4L, 7L], result.Epochs.Select(e => e.Steps));
    }

    [Fact]
    public void CancellationStopsBeforeTheNextStepAndLeaksNoTensor()
    {
        var x = randn([64, 2]);
        var w = new Parameter(zeros(2), requires_grad: true);
        EstimatorHarness.AssertNoTensorLeak(() =>
        {
            using var cts = new CancellationTokenSource();
            using var adam = torch.optim.Adam([w], 0.01);
            int evaluations = 0;
            var engine = new TrainingEngine<TensorBatch>(new TensorBatches([x], 4, shuffle: null),
                new TrainingEngineOptions { MaxEpochs = 100, Cancellation = cts.Token });
            engine.Add(new TrainingObjective<TensorBatch>("loss", adam, s =>
            {
                evaluations++;
                return s.Batch[0].matmul(w).square().mean();
            }));
            engine.OnStep(s =>
            {
                if (s.Step == 4)
                    cts.Cancel();
            });
            Assert.ThrowsAny<OperationCanceledException>(() => engine.Run());
            Assert.Equal(5, evaluations);
        });
    }

    [Fact]
    public void CallbacksReceiveNamedMetricsAndEpochMetricsAreTheirWeightedMeans()
    {
        // 10 rows in batches of 4: weights 4, 4, 2. The epoch mean of every metric is the row-weighted mean of the step values.
        using var gen = new Generator(2);
        var x = randn([10, 2], generator: gen);
        var w = new Parameter(ones(2), requires_grad: true);
        using var sgd = torch.optim.SGD([w], 0.1);
        var engine = new TrainingEngine<TensorBatch>(new TensorBatches([x], 4, gen), new TrainingEngineOptions { MaxEpochs = 2 });
        engine.Add(new TrainingObjective<TensorBatch>("loss", sgd, s =>
        {
            var z = s.Batch[0].matmul(w);
            s.Record("mean output", z.detach().mean());
            return z.square().mean();
        }));
        var steps = new List<(int Epoch, double Weight, double Loss, double Output, double Extra)>();
        engine.OnStep(s =>
        {
            s.Record("step index", s.StepInEpoch, weight: 1); // a metric recorded by a callback, with its own weight
            var m = s.Metrics;
            Assert.Equal(["mean output", "loss", "step index"], m.Keys);
            steps.Add((s.Epoch, s.Weight, m["loss"], m["mean output"], m["step index"]));
        });
        var epochs = new List<EpochReport>();
        engine.AddEpochMetrics(e => [("twice the loss", 2 * e.Metrics["loss"])]);
        engine.OnEpoch(epochs.Add);
        var result = engine.Run();

        Assert.Equal(result.Epochs, epochs);
        Assert.Equal([4.0, 4.0, 2.0, 4.0, 4.0, 2.0], steps.Select(s => s.Weight));
        foreach (var e in epochs)
        {
            var inEpoch = steps.Where(s => s.Epoch == e.Epoch).ToList();
            double Mean(Func<(int, double Weight, double Loss, double Output, double Extra), double> f)
                => inEpoch.Sum(s => s.Weight * f(s)) / inEpoch.Sum(s => s.Weight);
            Assert.Equal(["loss", "mean output", "step index", "twice the loss"], e.Metrics.Keys); // the objective's loss first
            Assert.Equal(Mean(s => s.Loss), e.Metrics["loss"], 6);
            Assert.Equal(Mean(s => s.Output), e.Metrics["mean output"], 6);
            Assert.Equal(1.0, e.Metrics["step index"], 12); // (0 + 1 + 2) / 3 with weight 1 each
            Assert.Equal(2 * e.Metrics["loss"], e.Metrics["twice the loss"], 12);
        }
    }

    [Fact]
    public void ShufflingComesFromTheGeneratorPassedIn()
    {
        var x = arange(12, ScalarType.Int64);
        List<long> Order(ulong seed)
        {
            using var gen = new Generator(seed);
            var seen = new List<long>();
            var w = Scalar(0);
            using var sgd = torch.optim.SGD([w], 0.1);
            var engine = new TrainingEngine<TensorBatch>(new TensorBatches([x], 5, gen), new TrainingEngineOptions { MaxEpochs = 2 });
            engine.Add(new TrainingObjective<TensorBatch>("loss", sgd, s =>
            {
                seen.AddRange(s.Batch[0].data<long>().ToArray());
                return w.square().sum();
            }));
            engine.Run();
            return seen;
        }
        using var reference = new Generator(9);
        var expected = randperm(12, generator: reference).data<long>().ToArray().Concat(randperm(12, generator: reference).data<long>().ToArray());
        Assert.Equal(expected, Order(9));
        Assert.NotEqual(Order(9), Order(10));
    }

    [Fact]
    public void DivergenceIsAClearErrorNamingTheStepTheObjectiveAndTheHint()
    {
        var w = Scalar(1);
        using var sgd = torch.optim.SGD([w], 0.1);
        var engine = Steps(null, maxSteps: 10, hint: "Lower the learning rate.");
        engine.Add(new TrainingObjective<long>("energy", sgd, s => s.Step == 2 ? w.sum() / 0.0 * 0.0 : w.square().sum()));
        var ex = Assert.Throws<InvalidOperationException>(() => engine.Run());
        Assert.Contains("diverged at step 3", ex.Message);
        Assert.Contains("'energy' is NaN", ex.Message);
        Assert.EndsWith("Lower the learning rate.", ex.Message);
    }

    [Fact]
    public void SkipStepPolicySkipsNonFiniteStepsWithoutTouchingTheParametersAndGivesUpAfterTheLimit()
    {
        // Every third step has an infinite loss: those steps are skipped, the others are plain SGD on (w − 2)².
        var w = Scalar(0);
        using var sgd = torch.optim.SGD([w], 0.1);
        var engine = Steps(null, maxSteps: 9);
        var objective = engine.Add(new TrainingObjective<long>("loss", sgd, s => s.Step % 3 == 2 ? (w - 2).square().sum() / 0.0 : (w - 2).square().sum())
        { NonFiniteLoss = NonFiniteLossPolicy.SkipStep, MaxConsecutiveSkips = 2, MaxGradientNorm = 100 });
        var result = engine.Run();
        double expected = 0;
        for (int i = 0; i < 6; i++)
            expected -= 0.1 * 2 * (expected - 2);
        Assert.Equal(expected, Value(w), 12);
        Assert.Equal(3, objective.SkippedSteps);
        Assert.Equal(6, objective.StepsTaken);
        Assert.True(double.IsFinite(result.Epochs[0].Metrics["loss"])); // skipped losses and gradient norms are not averaged in
        Assert.True(double.IsFinite(result.Epochs[0].Metrics["loss gradient norm"]));

        var always = Steps(null, maxSteps: 9);
        always.Add(new TrainingObjective<long>("loss", sgd, _ => w.sum() / 0.0) { NonFiniteLoss = NonFiniteLossPolicy.SkipStep, MaxConsecutiveSkips = 2 });
        Assert.Contains("2 steps in a row", Assert.Throws<InvalidOperationException>(() => always.Run()).Message);
    }

    [Fact]
    public void AStepCallbackCanStopTheRun()
    {
        var w = Scalar(0);
        using var sgd = torch.optim.SGD([w], 0.1);
        var engine = Steps(5, maxEpochs: 10);
        engine.Add(new TrainingObjective<long>("loss", sgd, _ => w.square().sum()));
        engine.OnStep(s =>
        {
            if (s.Step == 7)
                engine.RequestStop();
        });
        var result = engine.Run();
        Assert.Equal(TrainingStopReason.Requested, result.StopReason);
        Assert.Equal(8, result.Steps);
        Assert.Equal(2, result.Epochs.Count);
    }

    [Fact]
    public void WithAContextEveryEpochIsLoggedUnderTheComponentName()
    {
        var ml = new MLContext(seed: 0);
        var lines = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Source.StartsWith("EngineTestComponent", StringComparison.Ordinal) && e.Kind == ChannelMessageKind.Info)
                lines.Add(e.RawMessage);
        };
        using var ctx = ComponentContext.Create(ml, "EngineTestComponent", 1, "cpu", default);
        var w = Scalar(1);
        using var sgd = torch.optim.SGD([w], 0.25);
        var engine = Steps(2, maxEpochs: 2, context: ctx);
        engine.Add(new TrainingObjective<long>("loss", sgd, _ => w.square().sum()));
        engine.Run();
        // w: 1 → 0.5 → 0.25 → 0.125 → 0.0625; the epoch loss is the mean of w² before each step.
        Assert.Contains("Epoch 1/2: loss 0.6250", lines);
        Assert.Contains("Epoch 2/2: loss 0.0391", lines);
    }

    [Fact]
    public void BadSetupsAreClearErrors()
    {
        var w = Scalar(0);
        using var sgd = torch.optim.SGD([w], 0.1);
        Assert.Throws<ArgumentException>(() => new TrainingEngine<long>(new StepSource(), new TrainingEngineOptions()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingEngine<long>(new StepSource(), new TrainingEngineOptions { MaxSteps = 0 }));
        var engine = Steps(null, maxSteps: 1);
        Assert.Throws<InvalidOperationException>(() => engine.Run()); // no objective
        engine.Add(new TrainingObjective<long>("loss", sgd, _ => w * ones(3)));
        Assert.Throws<ArgumentException>(() => engine.Add(new TrainingObjective<long>("loss", sgd, _ => w.sum())));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.Add(new TrainingObjective<long>("other", sgd, _ => w.sum()) { MaxGradientNorm = -1 }));
        Assert.Contains("must be a scalar", Assert.Throws<InvalidOperationException>(() => engine.Run()).Message);

        var empty = new TrainingEngine<TensorBatch>(new TensorBatches([zeros(0, 2)], 4, null), new TrainingEngineOptions { MaxEpochs = 1 });
        empty.Add(new TrainingObjective<TensorBatch>("loss", sgd, _ => w.sum()));
        Assert.Contains("no batch", Assert.Throws<InvalidOperationException>(() => empty.Run()).Message);
        Assert.Throws<ArgumentException>(() => new TensorBatches([zeros(3), zeros(4)], 2, null));
    }
}
