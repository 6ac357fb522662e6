using System.Diagnostics;
using Components.Core.Runtime;
using Components.Core.Training;
using Components.Trainers.Rebar.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>One training step of a sigmoid belief network, as reported to <see cref="SigmoidBeliefNetworkTraining.Train"/>'s callback.</summary>
/// <param name="Step">1-based step.</param>
/// <param name="NegativeElbo">Mean −ELBO of the step's batch (Concrete: of its relaxed samples).</param>
/// <param name="LogVariance">log of the tracked per-element variance of the model's gradient estimates (EMA 0.999).</param>
/// <param name="Temperature">The estimator's temperature after the step.</param>
/// <param name="Seconds">Wall time since training started.</param>
public sealed record SigmoidBeliefNetworkStep(long Step, double NegativeElbo, double LogVariance, double Temperature, double Seconds);

/// <summary>Trains a <see cref="SigmoidBeliefNetworkModule"/> with one of the gradient estimators on the suite's TrainingEngine.</summary>
public static class SigmoidBeliefNetworkTraining
{
    /// <summary>
    /// Trains <paramref name="module"/> on binary rows <paramref name="x"/> (on the context's device): Adam (β₂ = 0.99999) on the
    /// network with the estimator's gradients, Adam at <see cref="SigmoidBeliefNetworkEstimator.Options.ControlVariateLearningRateFactor"/>×
    /// the rate on its control variates. Baselines see the centred input x − mean(x).
    /// </summary>
    public static void Train(SigmoidBeliefNetworkModule module, Tensor x, SigmoidBeliefNetworkEstimator.Options o, ComponentContext ctx,
        Action<SigmoidBeliefNetworkStep>? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(ctx);
        var parameters = module.parameters().ToArray();
        bool context = o.GradientEstimator is not GradientEstimatorKind.Reinforce and not GradientEstimatorKind.Concrete;
        using var meanX = x.mean([0]).DetachFromDisposeScope();
        using var estimator = new BernoulliGradientEstimator(o.GradientEstimator, parameters, o.EstimatorOptions,
            contextWidth: context ? module.InputWidth : 0, latentWidth: module.LatentWidth * module.Layers,
            initialization: ctx.CreateGenerator("control-variate-initialization", CPU), dtype: ScalarType.Float32, device: x.device);
        using var tracker = new GradientVarianceTracker();
        var noise = ctx.CreateGenerator("training-noise", x.device);
        using var modelOptimizer = optim.Adam(parameters, o.LearningRate, beta2: 0.99999);
        using var cvOptimizer = estimator.ControlVariateParameters.Count > 0
            ? optim.Adam(estimator.ControlVariateParameters, o.LearningRate * o.ControlVariateLearningRateFactor, beta2: 0.99999) : null;
        int batchSize = (int)Math.Min(o.BatchSize, x.shape[0]);
        var engine = new TrainingEngine<TensorBatch>(new TensorBatches([x], batchSize, ctx.CreateGenerator("shuffle", CPU), dropLast: true),
            new TrainingEngineOptions
            {
                MaxSteps = o.Steps,
                MaxEpochs = int.MaxValue,
                Context = ctx,
                StepLogInterval = Math.Max(1, o.Steps / 10),
                DivergenceHint = $"lower {nameof(o.LearningRate)} (now {o.LearningRate})",
            });
        GradientEstimate? last = null; // the step's estimate; its tensors live in the step's dispose scope, which both objectives share
        var clock = Stopwatch.StartNew();
        double logVariance = double.NaN;
        engine.Add(new TrainingObjective<TensorBatch>("negative ELBO", modelOptimizer, step =>
        {
            var xb = step.Batch[0];
            var est = estimator.Estimate(layers => module.NegativeElbo(layers, xb), noise, context ? xb - meanX : null);
            GradientEstimate.Assign(parameters, est.ModelGradients);
            last = est;
            logVariance = tracker.Update(est.ModelGradients);
            if (double.IsFinite(logVariance))
                step.Record("log variance", logVariance);
            return tensor(est.Loss);
        }, parameters) { ComputesOwnGradients = true });
        if (cvOptimizer is not null)
        {
            engine.Add(new TrainingObjective<TensorBatch>("control variate objective", cvOptimizer, step =>
            {
                GradientEstimate.Assign(estimator.ControlVariateParameters, last!.ControlVariateGradients);
                return tensor(double.IsNaN(last.VarianceObjective) ? 0 : last.VarianceObjective);
            }, estimator.ControlVariateParameters) { ComputesOwnGradients = true });
        }
        if (onStep is not null)
            engine.OnStep(step => onStep(new SigmoidBeliefNetworkStep(step.Step + 1, last!.Loss, logVariance, estimator.Temperature, clock.Elapsed.TotalSeconds)));
        engine.Run();
    }
}
