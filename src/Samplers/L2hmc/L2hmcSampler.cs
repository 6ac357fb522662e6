using Components.Samplers.Energies;
using Components.Samplers.Hmc;
using Components.Samplers.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.L2hmc;

/// <summary>
/// L2HMC (Levy, Hoffman &amp; Sohl-Dickstein, ICLR 2018, arXiv:1711.09268) as a math core without MLContext:
/// the augmented leapfrog of <see cref="L2hmcDynamics"/>, trained to maximise expected squared jumped distance,
/// and sampling many parallel chains. Rows of every state tensor are chains. Owns TorchSharp modules: dispose it.
/// </summary>
public sealed class L2hmcSampler : IDisposable
{
    private readonly L2hmcDynamics _dynamics;
    private readonly L2hmcKernel _kernel;
    private bool _disposed;

    /// <summary>Creates a sampler with random (untrained) networks and masks drawn from <paramref name="generator"/>.</summary>
    /// <param name="energy">The target.</param>
    /// <param name="generator">CPU generator for masks and initial weights.</param>
    /// <param name="leapfrogSteps">Augmented leapfrog steps T per transition.</param>
    /// <param name="hiddenUnits">Hidden width of the networks (two layers: the embeddings and one hidden layer), when
    /// <paramref name="hiddenWidths"/> is null.</param>
    /// <param name="stepSize">Initial ε.</param>
    /// <param name="trainStepSize">Whether ε is trained.</param>
    /// <param name="hiddenWidths">Layer widths of the networks: the embeddings' width, then each further hidden layer's
    /// (two or more entries, each at least 1; reference eval_toy.py: [50, 100, 50]). Null: [hiddenUnits, hiddenUnits].</param>
    public L2hmcSampler(EnergyFunction energy, Generator generator, int leapfrogSteps = SamplerDefaults.LeapfrogSteps,
        int hiddenUnits = L2hmcEstimator.Defaults.HiddenUnits, double stepSize = SamplerDefaults.StepSize,
        bool trainStepSize = L2hmcEstimator.Defaults.TrainStepSize, IReadOnlyList<int>? hiddenWidths = null)
    {
        ArgumentNullException.ThrowIfNull(energy);
        ArgumentNullException.ThrowIfNull(generator);
        if (leapfrogSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(leapfrogSteps), leapfrogSteps, "At least one leapfrog step is needed.");
        if (hiddenUnits < 1)
            throw new ArgumentOutOfRangeException(nameof(hiddenUnits), hiddenUnits, "At least one hidden unit is needed.");
        if (hiddenWidths is not null)
            CheckWidths(hiddenWidths, nameof(hiddenWidths));
        if (!(stepSize > 0) || double.IsInfinity(stepSize))
            throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "The step size must be positive and finite.");
        Energy = energy;
        _dynamics = new L2hmcDynamics(energy.Dimension, leapfrogSteps, hiddenWidths ?? [hiddenUnits, hiddenUnits], stepSize, trainStepSize, generator);
        _kernel = new L2hmcKernel(energy, _dynamics);
    }

    /// <summary>The target.</summary>
    public EnergyFunction Energy { get; }

    /// <summary>Augmented leapfrog steps per transition (= gradient evaluations per transition).</summary>
    public int LeapfrogSteps => _dynamics.LeapfrogSteps;

    /// <summary>Width of the networks' first layer (the embeddings).</summary>
    public int HiddenUnits => _dynamics.HiddenWidths[0];

    /// <summary>Layer widths of the networks: the embeddings', then each further hidden layer's.</summary>
    public IReadOnlyList<int> HiddenWidths => _dynamics.HiddenWidths;

    /// <summary>Largest number of layers and largest width accepted for the networks.</summary>
    internal const int MaxLayers = 64, MaxWidth = 1 << 16;

    /// <summary>Throws unless <paramref name="widths"/> has 2 to 64 entries, each in [1, 65536].</summary>
    internal static void CheckWidths(IReadOnlyList<int> widths, string name)
    {
        if (widths.Count < 2 || widths.Count > MaxLayers)
            throw new ArgumentOutOfRangeException(name, widths.Count,
                $"The networks need the embedding width and at least one hidden layer width: 2 to {MaxLayers} entries.");
        for (int i = 0; i < widths.Count; i++)
            if (widths[i] < 1 || widths[i] > MaxWidth)
                throw new ArgumentOutOfRangeException(name, widths[i], $"Layer width {i} is {widths[i]}; each must be in [1, {MaxWidth}].");
    }

    /// <summary>Current step size ε = exp(α).</summary>
    public double StepSize => _dynamics.StepSize;

    internal L2hmcDynamics Dynamics => _dynamics;

    internal ITransitionKernel Kernel => _kernel;

    /// <summary>Moves the networks to <paramref name="device"/>.</summary>
    public L2hmcSampler To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _dynamics.to(device);
        _dynamics.DetachState();
        return this;
    }

    /// <summary>
    /// Trains the networks and ε with the paper's loss (reference SCGExperiment.ipynb): at each step the chains
    /// <c>x</c> and fresh draws <c>z ~ N(0, I)</c> each get a proposal; with
    /// <c>δ = ‖x − x'‖² A(ξ'|ξ) + 1e-4</c> the loss is <c>λ·(mean 1/δ_x + λ_b mean 1/δ_z) − (mean δ_x + λ_b mean δ_z)/λ</c>,
    /// differentiated through every ∂U (double backward); Adam with a staircase exponential learning-rate decay;
    /// then the chains take the Metropolis–Hastings step. Steps whose loss or gradients are not finite are skipped.
    /// </summary>
    /// <param name="initialStates">Starting chains <c>[chains, d]</c> on the sampler's device.</param>
    /// <param name="steps">Training steps.</param>
    /// <param name="generator">Random generator on the states' device.</param>
    /// <param name="learningRate">Initial Adam learning rate.</param>
    /// <param name="decay">Learning-rate factor applied every <paramref name="decaySteps"/> steps.</param>
    /// <param name="decaySteps">Steps between decays.</param>
    /// <param name="scale">Loss scale λ.</param>
    /// <param name="burnInWeight">Weight λ_b of the burn-in term.</param>
    /// <param name="logInterval">Steps between progress records.</param>
    /// <param name="progress">Receives each progress record; may be null.</param>
    /// <param name="cancellation">Cancellation token, checked every step.</param>
    /// <param name="initialTemperature">Annealing: the energy is divided by a temperature that decays geometrically
    /// from this value to 1 over <paramref name="annealingSteps"/> steps (1 = no annealing, the notebook).</param>
    /// <param name="annealingSteps">Steps of the annealing phase; with <paramref name="annealingFactor"/>, steps between decays.</param>
    /// <param name="annealingFactor">0: the temperature decays smoothly, <c>τ₀^(1 − step/annealingSteps)</c>, reaching 1
    /// after <paramref name="annealingSteps"/> steps. In (0, 1): the reference's staircase (MOGExperiment.ipynb,
    /// mog_experiment.py), the temperature multiplied by this factor every <paramref name="annealingSteps"/> steps while
    /// it stays above 1 (it never reaches 1 exactly, as in the reference).</param>
    /// <returns>The chains' final states and the progress records.</returns>
    public (Tensor FinalStates, IReadOnlyList<L2hmcProgress> History) Train(Tensor initialStates, int steps, Generator generator,
        double learningRate = L2hmcEstimator.Defaults.LearningRate, double decay = L2hmcEstimator.Defaults.LearningRateDecay,
        int decaySteps = L2hmcEstimator.Defaults.LearningRateDecaySteps, double scale = L2hmcEstimator.Defaults.Scale,
        double burnInWeight = L2hmcEstimator.Defaults.BurnInWeight, int logInterval = SamplerDefaults.LogInterval,
        Action<L2hmcProgress>? progress = null, CancellationToken cancellation = default, double initialTemperature = 1, int annealingSteps = 0,
        double annealingFactor = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(initialStates);
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        ArgumentOutOfRangeException.ThrowIfNegative(annealingSteps);
        if (!(annealingFactor >= 0 && annealingFactor < 1))
            throw new ArgumentOutOfRangeException(nameof(annealingFactor), annealingFactor, "The annealing factor must be 0 (smooth schedule) or in (0, 1).");
        if (annealingFactor > 0 && initialTemperature > 1 && annealingSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(annealingSteps), annealingSteps, "The staircase schedule needs at least one step between decays.");
        if (!(initialTemperature >= 1) || double.IsInfinity(initialTemperature))
            throw new ArgumentOutOfRangeException(nameof(initialTemperature), initialTemperature, "The initial temperature must be finite and at least 1.");
        if (!(learningRate > 0) || !(decay > 0 && decay <= 1) || decaySteps < 1 || !(scale > 0) || !(burnInWeight >= 0) || logInterval < 1)
            throw new ArgumentOutOfRangeException(nameof(learningRate), "Invalid training settings: learning rate and scale must be positive, decay in (0, 1], decaySteps and logInterval at least 1, burnInWeight non-negative.");
        return L2hmcTrainer.Train(_dynamics, Energy, initialStates, steps, generator, learningRate, decay, decaySteps, scale, burnInWeight,
            logInterval, progress, cancellation, initialTemperature, annealingSteps, annealingFactor);
    }

    /// <summary>Runs the chains with the current networks and records them.</summary>
    /// <param name="initialStates">Starting states <c>[chains, d]</c>.</param>
    /// <param name="steps">Recorded steps (the state before each transition is recorded).</param>
    /// <param name="generator">Random generator on the states' device.</param>
    /// <param name="burnIn">Unrecorded transitions first.</param>
    /// <param name="thin">Transitions per recorded step.</param>
    /// <param name="cancellation">Cancellation token.</param>
    public ChainTrace Sample(Tensor initialStates, int steps, Generator generator, int burnIn = 0, int thin = 1, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(initialStates);
        HmcSampler.CheckRun(steps, burnIn, thin);
        return ChainRunner.Run(_kernel, initialStates, burnIn, steps, thin, new GeneratorNoise(generator), cancellation).Trace;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _dynamics.Dispose();
    }
}
