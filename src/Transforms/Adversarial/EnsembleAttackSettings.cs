using System.Globalization;

namespace Components.Transforms.Adversarial;

/// <summary>
/// Settings of <see cref="EnsembleAttack.Run"/>: the L∞ budget, the sign-gradient steps and the expectation over
/// random transformations (EOT). Immutable; validated on construction.
/// </summary>
public sealed record EnsembleAttackSettings
{
    /// <summary>Creates and validates the settings.</summary>
    /// <param name="epsilon">L∞ budget ε in pixel units of [0, 1]: every pixel moves by at most ε. In [0, 1].</param>
    /// <param name="stepSize">Step α of each sign-gradient step, positive and at most 1.</param>
    /// <param name="iterations">Number of steps, positive.</param>
    /// <param name="untargeted">False: descend the loss of the target class; true: ascend the loss of the given class.</param>
    /// <param name="transformationSamples">Random transformations averaged per step (EOT), positive.</param>
    /// <param name="maxShift">Each transformation shifts the image by integers dy, dx uniform in [−maxShift, maxShift] (edge pixels replicated). Non-negative.</param>
    /// <param name="noiseStandardDeviation">Each transformation adds N(0, σ²) noise per pixel; non-negative and finite.</param>
    /// <param name="seed">Seed of the transformations (with each row's key, through <c>CounterNoise</c>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range (named in the message).</exception>
    public EnsembleAttackSettings(double epsilon, double stepSize, int iterations, bool untargeted = false, int transformationSamples = 1,
        int maxShift = 0, double noiseStandardDeviation = 0, int seed = 0)
    {
        if (!(epsilon >= 0 && epsilon <= 1))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be in [0, 1] (pixels are in [0, 1]).");
        if (!(stepSize > 0 && stepSize <= 1))
            throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "The step size must be in (0, 1].");
        if (iterations <= 0)
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "The number of iterations must be positive.");
        if (transformationSamples <= 0)
            throw new ArgumentOutOfRangeException(nameof(transformationSamples), transformationSamples, "The number of transformation samples must be positive.");
        if (maxShift < 0)
            throw new ArgumentOutOfRangeException(nameof(maxShift), maxShift, "The maximum shift must be non-negative.");
        if (!(noiseStandardDeviation >= 0) || !double.IsFinite(noiseStandardDeviation))
            throw new ArgumentOutOfRangeException(nameof(noiseStandardDeviation), noiseStandardDeviation, "The noise standard deviation must be non-negative and finite.");
        Epsilon = epsilon;
        StepSize = stepSize;
        Iterations = iterations;
        Untargeted = untargeted;
        TransformationSamples = transformationSamples;
        MaxShift = maxShift;
        NoiseStandardDeviation = noiseStandardDeviation;
        Seed = seed;
    }

    /// <summary>L∞ budget ε.</summary>
    public double Epsilon { get; }

    /// <summary>Step α.</summary>
    public double StepSize { get; }

    /// <summary>Number of steps.</summary>
    public int Iterations { get; }

    /// <summary>Untargeted (ascend the given class's loss) instead of targeted (descend the target's loss).</summary>
    public bool Untargeted { get; }

    /// <summary>Random transformations per step.</summary>
    public int TransformationSamples { get; }

    /// <summary>Largest shift in pixels.</summary>
    public int MaxShift { get; }

    /// <summary>Noise σ per pixel.</summary>
    public double NoiseStandardDeviation { get; }

    /// <summary>Seed of the transformations.</summary>
    public int Seed { get; }

    /// <summary>Summary.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(Untargeted ? "untargeted" : "targeted")} ε={Epsilon:G4} α={StepSize:G4} steps={Iterations} EOT={TransformationSamples}×(shift ±{MaxShift}, noise σ={NoiseStandardDeviation:G4})");
}
