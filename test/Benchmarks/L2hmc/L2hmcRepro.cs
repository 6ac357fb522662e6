using System.Diagnostics;
using System.Globalization;
using System.Text;
using Components.Core.Randomness;
using Components.Samplers.Diagnostics;
using Components.Samplers.Hmc;
using Components.Samplers.L2hmc;
using Components.Samplers.Sampling;
using TorchSharp;

namespace Components.Benchmarks.L2hmc;

/// <summary>
/// Reproduction of the L2HMC paper's ESS comparison (arXiv:1711.09268; reference SCGExperiment.ipynb protocol):
/// train L2HMC (T = 10, ε₀ = 0.1, Adam 1e-3 × 0.96^⌊s/1000⌋, λ = 0.1, 200 chains), then run 200 chains for 2000
/// MH steps from exact samples, and compare the paper's ESS per MH step and per gradient evaluation with HMC at the
/// notebook's ε ∈ {0.1, 0.15, 0.2} (T = 10) and with HMC tuned by dual averaging.
/// Mixture targets also get the reference's tunnelling rate (utils/tunneling.py). Besides the paper's four targets
/// (the default), mog-anneal, ring and rw-ref use settings from the reference's history (see ReproTarget.All).
/// Usage: l2hmc-repro [--steps 5000] [--chains 200] [--eval-steps 2000] [--targets scg,icg,mog,rw,mog-anneal,ring,rw-ref]
/// [--images docs/images] [--seed 1] [--log-interval 500] [--deadline HH:MM (UTC; stop training there, evaluate)] [--burnin-weight w] [--temperature τ₀] [--annealing-fraction f | --annealing-factor r --annealing-interval k]
/// </summary>
public static class L2hmcRepro
{
    public static int Run(string[] args)
    {
        var opts = ParseArgs(args);
        int steps = opts.Int("steps", 5000), chains = opts.Int("chains", 200), evalSteps = opts.Int("eval-steps", 2000), seed = opts.Int("seed", 1);
        var keys = opts.Str("targets", "scg,icg,mog,rw").Split(',', StringSplitOptions.RemoveEmptyEntries);
        string images = opts.Str("images", "docs/images");
        int threads = opts.Int("threads", 1), logInterval = opts.Int("log-interval", 500);
        torch.set_num_threads(threads);
        Console.WriteLine($"# L2HMC reproduction: {steps} training steps, {chains} chains, {evalSteps} evaluation steps, seed {seed}, " +
                          $"{threads} torch thread(s), {Environment.ProcessorCount} cores, {DateTime.UtcNow:u}");
        var table = new StringBuilder();
        table.AppendLine("| Target | Sampler | ε | Accept | Paper ESS / MH step | Paper ESS / grad | ESS (Geyer, min dim) / grad | max split R̂ | Sampling s | Training s |");
        table.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        var ratios = new StringBuilder();
        var tunnelling = new StringBuilder();
        foreach (var target in ReproTarget.All.Where(t => keys.Contains(t.Key)))
        {
            Console.WriteLine($"## {target.Title}");
            // One sub-stream per purpose, as the estimator: masks and initial weights, training (start and noise), evaluation.
            using var initGen = RandomStreams.CreateGenerator(seed, "initialization");
            using var trainGen = RandomStreams.CreateGenerator(seed, "training-noise");
            using var gen = RandomStreams.CreateGenerator(seed, "evaluation");
            using var scope = torch.NewDisposeScope();
            var energy = target.Energy;

            // Train L2HMC from N(0, I) chains, as the notebook.
            using var l2hmc = new L2hmcSampler(energy, initGen, hiddenUnits: target.HiddenUnits, stepSize: target.StepSize, hiddenWidths: target.HiddenWidths);
            var clock = Stopwatch.StartNew();
            double burnIn = opts.Dbl("burnin-weight", target.BurnInWeight), t0 = opts.Dbl("temperature", target.InitialTemperature);
            double factor = opts.Dbl("annealing-factor", target.AnnealingFactor);
            int annealing = factor > 0
                ? opts.Int("annealing-interval", Math.Max(1, (int)Math.Round((double)target.AnnealingIntervalPer20000 * steps / 20000)))
                : (int)(steps * opts.Dbl("annealing-fraction", target.AnnealingFraction));
            Console.WriteLine(FormattableString.Invariant(
                $"  ε₀ {target.StepSize}, λ {target.LossScale:G4}, layer widths [{string.Join(", ", l2hmc.HiddenWidths)}], lr 1e-3 × {target.LearningRateDecay}^⌊s/{target.LearningRateDecaySteps}⌋, burn-in weight {burnIn}, ") +
                (t0 == 1 ? "no annealing" : factor > 0
                    ? FormattableString.Invariant($"temperature {t0} × {factor} every {annealing} steps while above 1")
                    : FormattableString.Invariant($"temperature {t0} annealed over {annealing} steps")));
            // --deadline HH:MM (UTC): stop training at the first progress record after that time and evaluate the networks
            // as trained so far (the step count reached is printed; rerunning with --steps <that count> repeats it exactly,
            // as no schedule depends on the planned total except a scaled annealing interval: pass --annealing-interval).
            using var stop = new CancellationTokenSource();
            DateTime? deadline = opts.Str("deadline", "") is { Length: > 0 } dl
                ? DateTime.SpecifyKind(DateTime.UtcNow.Date + TimeSpan.Parse(dl, CultureInfo.InvariantCulture), DateTimeKind.Utc) : null;
            int trained = 0;
            try
            {
                l2hmc.Train(torch.randn([chains, energy.Dimension], generator: trainGen), steps, trainGen, burnInWeight: burnIn, logInterval: logInterval,
                    scale: target.LossScale, decay: target.LearningRateDecay, decaySteps: target.LearningRateDecaySteps,
                    progress: p =>
                    {
                        trained = p.Step + 1;
                        Console.WriteLine($"  step {p.Step,5}: loss {p.Loss,10:G4}  accept {p.Acceptance:F3}  ε {p.StepSize:F4}  lr {p.LearningRate:G3}  T {p.Temperature:G3}  skipped {p.SkippedSteps}  {clock.Elapsed.TotalSeconds:F0} s");
                        if (DateTime.UtcNow > deadline && trained < steps)
                            stop.Cancel();
                    },
                    cancellation: stop.Token, initialTemperature: t0, annealingSteps: annealing, annealingFactor: factor);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                Console.WriteLine($"  deadline {deadline:HH:mm} UTC reached: training stopped after {trained} of {steps} steps");
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"  training: {trained} steps, {trainSeconds:F1} s ({1000 * trainSeconds / Math.Max(1, trained):F1} ms/step), load {LoadAverage()}");

            var start = target.Start(chains, gen);
            var results = new List<(string Name, double Eps, ChainTrace Trace)>();
            clock.Restart();
            results.Add(("L2HMC", l2hmc.StepSize, l2hmc.Sample(start, evalSteps, gen, burnIn: target.EvaluationBurnIn)));
            foreach (var eps in target.Grid)
            {
                var hmc = new HmcSampler(energy, eps, 10);
                results.Add(($"HMC ε={eps.ToString(CultureInfo.InvariantCulture)}", eps, hmc.Sample(start, evalSteps, gen, burnIn: target.EvaluationBurnIn)));
            }
            var tuned = new HmcSampler(energy, target.StepSize, 10);
            var adapted = tuned.Adapt(start, 1000, 0.65, gen);
            results.Add(("HMC dual averaging (δ = 0.65)", tuned.StepSize, tuned.Sample(adapted, evalSteps, gen)));

            var summaries = results.Select(r => (r.Name, r.Eps, r.Trace, Summary: McmcDiagnostics.Summarize(r.Trace, target.Scale))).ToList();
            foreach (var (name, eps, trace, s) in summaries)
            {
                string train = name == "L2HMC" ? trainSeconds.ToString("F0", CultureInfo.InvariantCulture) : "";
                table.AppendLine(FormattableString.Invariant(
                    $"| {target.Key.ToUpperInvariant()} | {name} | {eps:G3} | {s.AcceptanceRate:F3} | {s.PaperEss:E2} | {s.PaperEssPerGradient:E2} | {s.MinEssPerGradient:E2} | {s.MaxSplitRHat:F3} | {trace.Elapsed.TotalSeconds:F1} | {train} |"));
                Console.WriteLine(FormattableString.Invariant(
                    $"  {name,-30} ε {eps,7:G3} accept {s.AcceptanceRate:F3} paperESS {s.PaperEss:E2}/step {s.PaperEssPerGradient:E2}/grad  minESS/grad {s.MinEssPerGradient:E2}  R̂ {s.MaxSplitRHat:F3}  {trace.Elapsed.TotalSeconds:F1} s"));
                if (energy.ModeCentres is { } centres)
                {
                    // Reference utils/tunneling.py: nearest-centre mode changes per MH step, mean ± std over chains.
                    var (rate, sd) = Tunneling.MeanRate(trace, centres);
                    var modes = Tunneling.Modes(trace, centres);
                    int visitedAll = modes.Count(m => m.Distinct().Count() == centres.Count);
                    tunnelling.AppendLine(FormattableString.Invariant(
                        $"| {target.Key.ToUpperInvariant()} | {name} | {eps:G3} | {rate:E2} ± {sd:E2} | {visitedAll}/{trace.Chains} | {s.MaxSplitRHat:F3} |"));
                    Console.WriteLine(FormattableString.Invariant(
                        $"    tunnelling rate {rate:E3} ± {sd:E2} per MH step; chains visiting all {centres.Count} modes: {visitedAll}/{trace.Chains}"));
                }
            }
            Console.WriteLine($"  evaluation done, load {LoadAverage()}");
            var l = summaries[0].Summary;
            var notebook = summaries[2].Summary;   // the middle grid ε (0.15 for the SCG notebook's grid)
            var bestGrid = summaries.Skip(1).Take(3).MaxBy(x => x.Summary.PaperEss);
            var da = summaries[^1].Summary;
            ratios.AppendLine(FormattableString.Invariant(
                $"| {target.Key.ToUpperInvariant()} | {l.PaperEss:E2} | {notebook.PaperEss:E2} | {l.PaperEss / notebook.PaperEss:F1}× | {bestGrid.Summary.PaperEss:E2} ({bestGrid.Name}) | {l.PaperEss / bestGrid.Summary.PaperEss:F1}× | {da.PaperEss:E2} | {l.PaperEss / da.PaperEss:F1}× | {l.MinEssPerGradient / da.MinEssPerGradient:F1}× | {target.PaperNumbers ?? "—"} |"));

            if (target.Key is "scg" or "mog" or "mog-anneal" or "ring")
                ReproPlots.Save(images, target, summaries.Select(s => (s.Name, s.Trace)).ToList(), target.Scale);
        }
        Console.WriteLine();
        Console.WriteLine(table.ToString());
        Console.WriteLine("| Target | L2HMC paper ESS | HMC middle grid ε (SCG: 0.15, the notebook's) | ratio | best grid HMC | ratio | DA-tuned HMC | ratio | ratio (Geyer ESS / grad, vs DA) | paper |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        Console.Write(ratios.ToString());
        if (tunnelling.Length > 0)
        {
            Console.WriteLine();
            Console.WriteLine("| Target | Sampler | ε | tunnelling rate / MH step (mean ± std over chains) | chains visiting every mode | max split R̂ |");
            Console.WriteLine("|---|---|---|---|---|---|");
            Console.Write(tunnelling.ToString());
        }
        return 0;
    }

    private static string LoadAverage()
        => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    internal sealed class Args(Dictionary<string, string> values)
    {
        public int Int(string key, int fallback) => values.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

        public string Str(string key, string fallback) => values.TryGetValue(key, out var v) ? v : fallback;

        public double Dbl(string key, double fallback) => values.TryGetValue(key, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
    }

    internal static Args ParseArgs(string[] args)
    {
        var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i + 1 < args.Length; i += 2)
            d[args[i].TrimStart('-')] = args[i + 1];
        return new Args(d);
    }
}
