using Components.Trainers.NeuralNetwork;
using static TorchSharp.torch;

namespace Components.Transforms.Sensitivity;

/// <summary>
/// Transitions along a trajectory (Novak et al., ICLR 2018): each hidden ReLU unit gives one bit (pre-activation &gt; 0),
/// the bits of all hidden layers form the code c(x); the count is Σ_k ‖c(x_k) − c(x_{k+1})‖₁ over consecutive points of
/// a sampled trajectory (closing the loop from the last point to the first when the trajectory is closed).
/// </summary>
public static class TrajectoryTransitions
{
    /// <summary>
    /// The closed trajectory through <paramref name="anchors"/> [P, d] (P ≥ 2): the trigonometric interpolant of degree
    /// ⌊P/2⌋ that passes through anchor j at angle 2πj/P, sampled at <paramref name="points"/> equally spaced angles
    /// starting at anchor 0; [points, d] in the anchors' dtype. Three anchors give the ellipse through them (the paper's
    /// trajectory), two the segment between them travelled there and back.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than 2 anchors, fewer than 2 points, or non-finite anchors.</exception>
    public static Tensor ClosedTrajectory(Tensor anchors, int points)
    {
        ArgumentNullException.ThrowIfNull(anchors);
        if (anchors.dim() != 2 || anchors.shape[0] < 2)
            throw new ArgumentException($"A trajectory needs at least 2 anchor points as a [P, d] tensor, got shape [{string.Join(", ", anchors.shape)}].", nameof(anchors));
        if (points < 2)
            throw new ArgumentOutOfRangeException(nameof(points), points, "Sample the trajectory at 2 or more points.");
        if (!anchors.isfinite().all().item<bool>())
            throw new ArgumentException("The anchor points contain NaN or infinite values.", nameof(anchors));
        using var scope = NewDisposeScope();
        var weights = TrajectoryWeights((int)anchors.shape[0], points, anchors.dtype, anchors.device);
        return weights.matmul(anchors).MoveToOuterDisposeScope();
    }

    /// <summary>Interpolation weights [points, P]: sample m of the closed trajectory is Σ_j w[m, j] anchor_j.</summary>
    internal static Tensor TrajectoryWeights(int p, int points, ScalarType dtype, Device device)
    {
        int harmonics = (p - 1) / 2;
        var w = new double[points * p];
        for (int m = 0; m < points; m++)
        {
            for (int j = 0; j < p; j++)
            {
                double dt = 2 * Math.PI * ((double)m / points - (double)j / p);
                double s = 1;
                for (int k = 1; k <= harmonics; k++)
                    s += 2 * Math.Cos(k * dt);
                if (p % 2 == 0)
                    s += Math.Cos(p / 2 * dt);
                w[m * p + j] = s / p;
            }
        }
        return tensor(w, [points, p], ScalarType.Float64).to(dtype).to(device);
    }

    /// <summary>Checks that <paramref name="arch"/> is a fully connected ReLU network with a hidden layer.</summary>
    /// <exception cref="ArgumentException">It is not.</exception>
    internal static void CheckReluMlp(NeuralNetworkArchitecture arch, string paramName)
    {
        if (arch.Activation != NeuralNetworkActivation.Relu || arch.Kind == NeuralNetworkArchitectureKind.Cnn || arch.LayerCount < 2)
            throw new ArgumentException($"Transitions count ReLU activation patterns: the network must be a fully connected ReLU network with a hidden layer, got {arch} ({arch.Activation}).", paramName);
    }

    /// <summary>
    /// The ReLU activation code of each row of <paramref name="x"/> [n, InputSize] under a fully connected ReLU
    /// network: [n, Σ hidden widths] booleans, true where a hidden unit's pre-activation is positive.
    /// </summary>
    /// <exception cref="ArgumentException">The network is not a ReLU MLP with a hidden layer, or the input has the wrong size or non-finite values.</exception>
    public static Tensor ActivationCodes(NeuralNetworkModule module, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(x);
        var arch = module.Architecture;
        CheckReluMlp(arch, nameof(module));
        if (x.dim() != 2 || x.shape[1] != arch.InputSize)
            throw new ArgumentException($"Expected points of shape [n, {arch.InputSize}], got [{string.Join(", ", x.shape)}].", nameof(x));
        if (!x.isfinite().all().item<bool>())
            throw new ArgumentException("The points contain NaN or infinite values.", nameof(x));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hidden = Enumerable.Range(1, arch.LayerCount - 1).ToArray();
        var input = x.to(ScalarType.Float32).to(module.parameters().First().device);
        // ReLU output > 0 exactly where the pre-activation is > 0.
        var codes = cat(module.ForwardLayers(input, hidden), 1).gt(0);
        return codes.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The number of transitions along the sampled trajectory <paramref name="path"/> [M, InputSize] (M ≥ 2): the summed
    /// Hamming distances between consecutive activation codes, including last → first when <paramref name="closed"/>.
    /// </summary>
    /// <exception cref="ArgumentException">See <see cref="ActivationCodes"/>; or fewer than 2 points.</exception>
    public static long Count(NeuralNetworkModule module, Tensor path, bool closed = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.dim() != 2 || path.shape[0] < 2)
            throw new ArgumentException($"A trajectory needs at least 2 points as a [M, d] tensor, got shape [{string.Join(", ", path.shape)}].", nameof(path));
        using var scope = NewDisposeScope();
        var codes = ActivationCodes(module, path);
        var next = closed ? codes.roll(-1, 0) : codes.narrow(0, 1, codes.shape[0] - 1);
        var current = closed ? codes : codes.narrow(0, 0, codes.shape[0] - 1);
        return current.ne(next).sum().item<long>();
    }

    /// <summary>Transitions along the closed trajectory through <paramref name="anchors"/> sampled at <paramref name="points"/> points.</summary>
    public static long CountOnClosedTrajectory(NeuralNetworkModule module, Tensor anchors, int points)
    {
        using var scope = NewDisposeScope();
        return Count(module, ClosedTrajectory(anchors, points), closed: true);
    }

    /// <summary>
    /// Transitions along the closed trajectory through each row's anchors: <paramref name="anchors"/> [n, P, InputSize]
    /// (checked finite by the caller) gives [n] counts (float64), one forward pass over n × <paramref name="points"/> points.
    /// </summary>
    internal static Tensor CountBatched(NeuralNetworkModule module, Tensor anchors, int points)
    {
        using var scope = NewDisposeScope();
        long n = anchors.shape[0], p = anchors.shape[1], d = anchors.shape[2];
        var weights = TrajectoryWeights((int)p, points, anchors.dtype, anchors.device);
        var paths = weights.matmul(anchors); // [n, points, d]
        var codes = ActivationCodes(module, paths.reshape(n * points, d)).reshape(n, points, -1);
        return codes.ne(codes.roll(-1, 1)).sum([1, 2]).to(ScalarType.Float64).MoveToOuterDisposeScope();
    }
}
