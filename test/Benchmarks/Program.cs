namespace Components.Benchmarks;

/// <summary>
/// Dispatcher: <c>dotnet run -c Release --project test/Benchmarks -- &lt;runner&gt; [args]</c>. Each component adds
/// its runners (in its own folder) to the table below.
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, (string Description, Func<string[], int> Run)> Runners = new(StringComparer.OrdinalIgnoreCase)
    {
        ["adversarial-bench"] = ("Adversarial: attack steps/s, batch 64 vs an ensemble of 4 CNNs, native conv2d vs unfold fallback, with and without the retina (--steps N)", Adversarial.AdversarialBenchmark.Run),
        ["adversarial-repro"] = ("Adversarial reproduction: transfer success to held-out models vs ε, ensembles of 1/2/4 CNNs with and without the retina (+ PNGs; --train --test --epochs --iterations)", Adversarial.AdversarialRepro.Run),
        ["gan-bench"] = ("GAN: training steps/s of the MLP and DCGAN pairs at batch 64 and 256, each objective's cost relative to minimax", Gan.GanBench.Run),
        ["gan-repro"] = ("GAN objectives reproduction: 8-Gaussian ring, 25-Gaussian grid, Fashion-MNIST DCGAN per objective (modes, quality, KDE KL, classifier score, Fréchet; + PNG)", Gan.GanRepro.Run),
        ["jacobian-norm"] = ("Jacobian Frobenius norm rows/s, 784-512-512-10 MLP, batch 256: batched vs a per-row loop", Core.JacobianNormBenchmark.Run),
        ["l2hmc-bench"] = ("L2HMC vs HMC cost per transition / gradient evaluation and per training step, 200 chains", L2hmc.L2hmcBench.Run),
        ["l2hmc-repro"] = ("L2HMC paper reproduction: ESS of L2HMC vs HMC on SCG, ICG, MoG, rough well (+ PNG plots)", L2hmc.L2hmcRepro.Run),
        ["conv-nan"] = ("Minimal reproduction of NaN input gradients of libtorch CPU conv2d (threads, dtype, oneDNN, contiguity, dirty memory)", NeuralNetwork.ConvolutionNanRepro.Run),
        ["threads"] = ("Threading default (passive OpenMP wait) vs libgomp spinning vs one thread: L2HMC and SVCCA fits, idle or --contend", Core.ThreadingBenchmark.Run),
        ["lopt-metatrain"] = ("Learned optimizer: meta-train the hierarchical RNN (--steps --workers --unrolls --seed --out --checkpoint)", LearnedOptimizer.MetaTrainRunner.Run),
        ["lopt-step"] = ("Learned optimizer: time and memory per step vs Adam at 10k/100k/1M parameters, FLOP rate vs GEMM (--threads T --sizes a,b,c)", LearnedOptimizer.StepBenchmark.Run),
        ["lopt-lr-range"] = ("Learned optimizer: NeuralNetwork MLP on Fashion-MNIST with several initial learning-rate ranges vs Adam, 3 seeds (--rows --epochs --seeds --workers)", LearnedOptimizer.InitialLearningRateStudy.Run),
        ["lopt-repro"] = ("Learned optimizer reproduction: HRNN vs tuned Adam/RMSProp/SGD+momentum on held-out problems, Fashion-MNIST MLP and CNN, matrix factorisation (+ PNG)", LearnedOptimizer.LearnedOptimizerRepro.Run),
        ["mlur-metatrain"] = ("Meta-learned featurizer: meta-train the local update rule (--steps --workers --unrolls --seed --out --checkpoint; --bench N: inner steps/s, 1 vs 2 workers)", MetaLearnedFeaturizer.MetaTrainRunner.Run),
        ["mlur-repro"] = ("Meta-learned featurizer reproduction: 10-shot probe accuracy of rule-trained features vs random init, autoencoder, PCA, raw pixels; permuted pixels; unseen widths/depths (+ PNG)", MetaLearnedFeaturizer.MetaLearnedFeaturizerRepro.Run),
        ["loading"] = ("IDataView → tensor loading of 60,000 × 784: library path vs GetColumn + torch.tensor, and where the time goes", Core.LoadingBenchmark.Run),
        ["mlur-featurizer"] = ("Meta-learned featurizer: Fit time per 10,000 rows and Transform rows/s vs ProjectToPrincipalComponents of the same width, Fashion-MNIST", MetaLearnedFeaturizer.FeaturizerBenchmark.Run),
        ["module-sharing"] = ("Models owning a TorchSharp module: PredictionEngine rows/s on 1, 2, 4 threads, lock vs per-thread clones vs pool", Core.ModuleSharingBenchmark.Run),
        ["neuralnetwork"] = ("NeuralNetwork: training throughput (rows/s) of the MLP and the CNN on Fashion-MNIST, CPU", NeuralNetwork.NeuralNetworkBenchmark.Run),
        ["nngp-bench"] = ("NNGP: kernel time vs numpy and GEMM, GP solve vs scipy, peak memory", Nngp.NngpBenchmark.Run),
        ["nngp-width"] = ("NNGP vs finite networks: tuned NeuralNetwork MLPs at widths 64–4096 with the NNGP's depth, nonlinearity and initialisation, n = 1k/5k/20k (+ CSV, PNG; --quick)", Nngp.NngpWidthStudy.Run),
        ["nngp-orleans-bench"] = ("NNGP on Orleans: kernel products single-process vs 1, 2, 3 in-process silos, payload bytes per product, projection to n = 1,000,000 (--n --d --m --reps --project-silos --cores --gbps --iterations)", Orleans.OrleansNngpBenchmark.Run),
        ["nngp-repro"] = ("NNGP reproduction: Fashion-MNIST accuracy vs n, baselines, variance vs error", Nngp.NngpReproduction.Run),
        ["nngp-cg"] = ("NNGP matrix-free conjugate gradients on the full Fashion-MNIST (n = 60,000): accuracy, time, peak memory", Nngp.NngpMatrixFreeRun.Run),
        ["rebar-repro"] = ("REBAR reproduction: toy E[(b − 0.45)²] and a sigmoid belief network on binarized Fashion-MNIST per estimator: log-variance over training (+ PNG), ELBO/IWAE", Rebar.RebarRepro.Run),
        ["rebar-bench"] = ("REBAR: cost per gradient estimate per estimator (passes of f, ms/step at batch 24 and 256), variance, variance × cost", Rebar.RebarBench.Run),
        ["sensitivity-study"] = ("Sensitivity and generalization: ≥ 100 Fashion-MNIST MLPs, Jacobian norm vs gap (Spearman, bootstrap), AUROC (+ CSV, PNG)", Sensitivity.SensitivityStudy.Run),
        ["sigprop-repro"] = ("Signal propagation reproduction: phase diagrams, depth scales vs simulation, cross-layer covariance theory vs simulation and its 1/N scaling (+ PNG; --quick)", SignalPropagation.SignalPropagationRepro.Run),
        ["sigprop-trainability"] = ("Signal propagation: deep tanh MLPs on Fashion-MNIST from initialisations across the phase diagram (+ PNG; --quick --rows --epochs)", SignalPropagation.SignalPropagationTrainability.Run),
        ["sigprop-bench"] = ("Signal propagation: random-network simulator networks/s on the CPU, conditional-Gaussian vs explicit weights", SignalPropagation.SignalPropagationBenchmark.Run),
        ["svcca"] = ("SVCCA: CPU time vs a numpy implementation of the reference, and streaming peak memory", Svcca.SvccaBenchmark.Run),
        ["svcca-repro"] = ("SVCCA reproduction: Fashion-MNIST MLPs, layer similarity across seeds and over training", Svcca.SvccaReproduction.Run),
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Runners.TryGetValue(args[0], out var runner))
        {
            Console.Error.WriteLine("Usage: dotnet run -c Release --project test/Benchmarks -- <runner> [args]");
            foreach (var (name, (description, _)) in Runners.OrderBy(r => r.Key))
                Console.Error.WriteLine($"  {name,-14} {description}");
            return args.Length == 0 ? 1 : 2;
        }
        return runner.Run(args[1..]);
    }
}
