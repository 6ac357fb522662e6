using Components.Core.Training;
using Components.Samplers.Energies;
using Components.Samplers.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.L2hmc;

/// <summary>The training loop of L2HMC (reference SCGExperiment.ipynb), on the Core training engine.</summary>
internal static class L2hmcTrainer
{
    /// <summary>Consecutive non-finite steps after which training stops with an error.</summary>
    internal const int MaxConsecutiveSkips = 50;

    public static (Tensor FinalStates, IReadOnlyList<L2hmcProgress> History) Train(L2hmcDynamics dynamics, EnergyFunction energy,
        Tensor initialStates, int steps, Generator generator, double learningRate, double decay, int decaySteps, double scale,
        double burnInWeight, int logInterval, Action<L2hmcProgress>? progress, CancellationToken cancellation,
        double initialTemperature = 1, int annealingSteps = 0, double annealingFactor = 0)
    {
        energy.CheckStates(initialStates, "initial states");
        var history = new List<L2hmcProgress>();
        var parameters = dynamics.parameters().Where(p => p.requires_grad).ToList();
        var x = initialStates.detach().clone().DetachFromDisposeScope();
        if (steps == 0 || parameters.Count == 0)
            return (Release(x), history);
        using var optimizer = torch.optim.Adam(parameters, learningRate);
        var scheduler = torch.optim.lr_scheduler.StepLR(optimizer, decaySteps, decay);
        int b = (int)x.shape[0], d = energy.Dimension;
        float lambda = (float)scale, weight = (float)burnInWeight;
        double lr = learningRate, temperature = 1;
        Tensor? loss = null, x1 = null, p = null; // made by the loss, reused by the Metropolis–Hastings step of the same step

        var engine = new TrainingEngine<long>(new StepSource(), new TrainingEngineOptions
        {
            MaxSteps = steps,
            Cancellation = cancellation,
            DivergenceHint = $"L2HMC on '{energy.Name}': lower the step size or the learning rate, or check the energy.",
        });
        var objective = engine.Add(new TrainingObjective<long>("loss", optimizer, s =>
        {
            var device = x.device;
            temperature = annealingFactor > 0
                ? StaircaseTemperature(initialTemperature, annealingSteps, annealingFactor, (int)s.Step)
                : Temperature(initialTemperature, annealingSteps, (int)s.Step);
            var target = temperature == 1 ? energy : new TemperedEnergy(energy, temperature);
            var z = torch.randn([b, d], ScalarType.Float32, device, generator: generator);
            var input = torch.cat([x, z], 0);
            var (u0, g0) = target.EnergyAndGradient(input);
            var v = torch.randn([2 * b, d], ScalarType.Float32, device, generator: generator);
            var forward = torch.rand([2 * b], ScalarType.Float32, device, generator: generator).lt(0.5);
            (x1, var v1, var logDet, var u1, _) = dynamics.Propose(target, input, v, forward, g0, createGraph: true);
            var h0 = u0 + 0.5f * v.square().sum(1);
            var h1 = u1 + 0.5f * v1.square().sum(1);
            p = Acceptance.Probability(h0, h1, logDet, x1);
            loss = Loss(input, x1, p, b, lambda, weight);
            return loss;
        }, parameters)
        {
            NonFiniteLoss = NonFiniteLossPolicy.SkipStep, // the reference skips such steps; the engine stops after too many in a row
            MaxConsecutiveSkips = MaxConsecutiveSkips,
            Scheduler = scheduler,
        });
        engine.OnStep(s =>
        {
            // Metropolis–Hastings step of the chains with the same proposal.
            int step = (int)s.Step;
            var pc = p!.narrow(0, 0, b).detach();
            var accept = torch.rand([b], ScalarType.Float32, x.device, generator: generator).lt(pc);
            var xNew = torch.where(accept.unsqueeze(1), x1!.narrow(0, 0, b).detach(), x).DetachFromDisposeScope();
            x.Dispose();
            x = xNew;

            if (step % logInterval == 0 || step == steps - 1)
            {
                var record = new L2hmcProgress(step, loss!.item<float>(), pc.mean().item<float>(), dynamics.StepSize, lr, (int)objective.SkippedSteps, temperature);
                history.Add(record);
                progress?.Invoke(record);
            }
            lr = CurrentLearningRate(learningRate, decay, decaySteps, step + 1);
        });
        dynamics.train();
        try
        {
            engine.Run();
        }
        catch
        {
            x.Dispose();
            throw;
        }
        finally
        {
            dynamics.eval();
        }
        return (Release(x), history);
    }

    /// <summary>A copy of an unscoped tensor in the caller's dispose scope; disposes the original.</summary>
    private static Tensor Release(Tensor x)
    {
        var copy = x.clone();
        x.Dispose();
        return copy;
    }

    /// <summary>
    /// The paper's loss (reference form): with <c>δ = ‖x − x'‖² A + 1e-4</c> per row, rows <c>[0, b)</c> the chains
    /// and rows <c>[b, 2b)</c> the burn-in draws, <c>λ (mean 1/δ_x + w mean 1/δ_z) − (mean δ_x + w mean δ_z) / λ</c>.
    /// </summary>
    internal static Tensor Loss(Tensor x, Tensor proposal, Tensor acceptance, int b, float lambda, float weight)
    {
        using var scope = torch.NewDisposeScope();
        var delta = (x - proposal).square().sum(1) * acceptance + 1e-4f;
        var dx = delta.narrow(0, 0, b);
        var dz = delta.narrow(0, b, delta.shape[0] - b);
        var loss = lambda * (dx.reciprocal().mean() + weight * dz.reciprocal().mean())
                   - (dx.mean() + weight * dz.mean()) / lambda;
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Annealing temperature of a step: <c>τ₀^(1 − step/annealingSteps)</c> for the first
    /// <paramref name="annealingSteps"/> steps, then 1.
    /// </summary>
    internal static double Temperature(double initial, int annealingSteps, int step)
        => initial == 1 || step >= annealingSteps ? 1 : Math.Pow(initial, 1 - (double)step / annealingSteps);

    /// <summary>
    /// Annealing temperature of a step under the reference schedule (MOGExperiment.ipynb, mog_experiment.py): step 0
    /// trains at <c>τ₀</c>; after every step whose index is a multiple of <paramref name="interval"/> the temperature is
    /// multiplied by <paramref name="factor"/> unless that would bring it to 1 or below, where it then stays. So step
    /// <c>s</c> trains at <c>τ₀ · factor^min(⌈s/interval⌉, n)</c>, n the last power keeping it above 1.
    /// </summary>
    internal static double StaircaseTemperature(double initial, int interval, double factor, int step)
    {
        if (initial == 1 || interval < 1)
            return 1;
        int decays = (int)Math.Min(int.MaxValue, ((long)step + interval - 1) / interval);
        double t = initial;
        for (int i = 0; i < decays; i++)
        {
            double next = t * factor;
            if (!(next > 1))
                break;
            t = next;
        }
        return t;
    }

    /// <summary>Staircase exponential decay: <c>lr₀ · decay^⌊step / decaySteps⌋</c>.</summary>
    internal static double CurrentLearningRate(double lr0, double decay, int decaySteps, int step)
        => lr0 * Math.Pow(decay, step / decaySteps);
}
