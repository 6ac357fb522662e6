using Components.Core.Runtime;
using Components.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Gan;

/// <summary>Settings of <see cref="GanTraining.Train"/>.</summary>
internal sealed record GanTrainingSettings(
    GeneratorObjective Objective,
    GeneratorObjective? FinalObjective,
    int GeneratorSteps,
    int DiscriminatorSteps,
    int BatchSize,
    double GeneratorLearningRate,
    double DiscriminatorLearningRate,
    double Beta1,
    int LogInterval);

/// <summary>
/// The GAN training loop on the Core training engine: two objectives (discriminator every engine step, generator
/// every <c>DiscriminatorSteps</c>-th), each with its own Adam over its own network's parameters.
/// </summary>
internal static class GanTraining
{
    /// <summary>Trains <paramref name="g"/> and <paramref name="d"/> in place on the rows of <paramref name="data"/> [n, dataSize] (on the networks' device).</summary>
    public static IReadOnlyList<GanProgress> Train(GanGenerator g, GanDiscriminator d, Tensor data, GanTrainingSettings s,
        Generator shuffle, Generator noise, ComponentContext? context, CancellationToken cancellation, Action<GanProgress>? progress = null)
    {
        var history = new List<GanProgress>();
        if (s.GeneratorSteps == 0)
            return history;
        int k = s.DiscriminatorSteps, latent = g.Architecture.LatentSize;
        int batch = (int)Math.Min(s.BatchSize, data.shape[0]);
        using var gOptimizer = torch.optim.Adam(g.parameters(), s.GeneratorLearningRate, beta1: s.Beta1, beta2: 0.999);
        using var dOptimizer = torch.optim.Adam(d.parameters(), s.DiscriminatorLearningRate, beta1: s.Beta1, beta2: 0.999);
        var device = data.device;
        Tensor? lastRatio = null;
        var engine = new TrainingEngine<TensorBatch>(new TensorBatches([data], batch, shuffle, dropLast: true), new TrainingEngineOptions
        {
            MaxSteps = (long)s.GeneratorSteps * k,
            Context = context,
            Cancellation = cancellation,
            DivergenceHint = "GAN training diverged: lower the learning rates, or use a bounded objective (minimax, −log D, JS, reverse KL).",
        });
        engine.Add(new TrainingObjective<TensorBatch>("discriminator loss", dOptimizer, step =>
        {
            var z = torch.randn([batch, latent], ScalarType.Float32, device, generator: noise);
            Tensor fake;
            using (no_grad())
                fake = g.forward(z);
            return GeneratorObjective.DiscriminatorLoss(d.forward(step.Batch[0]), d.forward(fake));
        }, d.parameters()));
        engine.Add(new TrainingObjective<TensorBatch>("generator loss", gOptimizer, step =>
        {
            var z = torch.randn([batch, latent], ScalarType.Float32, device, generator: noise);
            var r = d.forward(g.forward(z));
            lastRatio = r.detach().mean();
            int gStep = (int)(step.Step / k);
            return MixedLoss(s, r, gStep);
        }, g.parameters())
        {
            Schedule = TrainingSchedule.Every(k, k - 1),
        });
        engine.OnStep(step =>
        {
            if (step.Step % k != k - 1)
                return;
            int done = (int)(step.Step / k) + 1;
            if (done % s.LogInterval != 0 && done != s.GeneratorSteps)
                return;
            var m = step.Metrics;
            var record = new GanProgress(done, m["discriminator loss"], m["generator loss"], lastRatio!.item<float>());
            history.Add(record);
            context?.Info(FormattableString.Invariant(
                $"Generator step {done}/{s.GeneratorSteps}: discriminator loss {record.DiscriminatorLoss:F4}, generator loss {record.GeneratorLoss:G5}, mean r(G(z)) {record.MeanLogRatioGenerated:F3}."));
            progress?.Invoke(record);
        });
        g.train();
        d.train();
        try
        {
            engine.Run();
        }
        finally
        {
            g.eval();
            d.eval();
        }
        return history;
    }

    /// <summary>
    /// The generator loss of generator step <paramref name="gStep"/>: mean g(e^r) of the objective, or with a final
    /// objective the mixture (1 − t)·L_first + t·L_final, t = gStep/(steps − 1) rising linearly from 0 to 1.
    /// </summary>
    internal static Tensor MixedLoss(GanTrainingSettings s, Tensor r, int gStep)
    {
        var first = s.Objective.Loss(r).mean();
        if (s.FinalObjective is null)
            return first;
        double t = s.GeneratorSteps <= 1 ? 1 : Math.Min(1, (double)gStep / (s.GeneratorSteps - 1));
        return (1 - t) * first + t * s.FinalObjective.Loss(r).mean();
    }
}
