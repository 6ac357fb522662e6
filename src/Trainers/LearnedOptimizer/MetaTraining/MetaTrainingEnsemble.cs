using Components.Core.Randomness;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer.MetaTraining;

/// <summary>The base problem families of the meta-training ensemble (docs/trainers/learned-optimizer.md, "Meta-training ensemble").</summary>
internal enum MetaTrainingFamily
{
    /// <summary><c>f(x) = ‖Ax − b‖² / n</c>, A Gaussian, n ∈ [2, 20].</summary>
    Quadratic,

    /// <summary>As <see cref="Quadratic"/> with the columns of A scaled by <c>10^{−c·j/(n−1)}</c>, c ∈ [1, 3] (condition up to 10⁶ in f).</summary>
    IllConditionedQuadratic,

    /// <summary>A rotated 2-d bowl <c>½(a·u² + b·v²)</c>, a, b log-uniform in [0.1, 10].</summary>
    Bowl2d,

    /// <summary><c>(1 − x)² + 100(y − x²)²</c> / 100 from a random start in [−2, 2]².</summary>
    Rosenbrock,

    /// <summary>Beale's function <c>Σ_i (c_i − x + x·y^i)²</c>, c = (1.5, 2.25, 2.625), from a random start in [−2, 2]².</summary>
    Beale,

    /// <summary>Softmax regression (2–4 classes, 2–10 features, 64 samples) on data labelled by a random linear teacher.</summary>
    SoftmaxRegression,

    /// <summary>A tanh MLP (2–6 inputs, 4–16 hidden units, 2 classes, 64 samples) on data labelled by a random linear teacher.</summary>
    Mlp,
}

/// <summary>
/// The meta-training distribution: a weighted choice of <see cref="MetaTrainingFamily"/> and, independently, the paper's
/// variants: noisy (the loss is taken at θ + σε, a fresh ε ~ N(0, 1) per call, so the gradient is noisy), sparse gradient
/// (each call a random half of the elements get no gradient), rescaled (the optimizer sees z with θ = s ⊙ z, s log-uniform
/// in [0.1, 10] per tensor) and summed (two independent problems' losses added). <see cref="Draw"/> is a pure function of the seed.
/// </summary>
internal sealed class MetaTrainingEnsemble
{
    /// <summary>Every family with weight 1 and each variant with probability 0.2.</summary>
    public static MetaTrainingEnsemble Default { get; } = new(Enum.GetValues<MetaTrainingFamily>().Select(f => (f, 1.0)).ToArray());

    /// <param name="families">Families and their (positive) weights; at least one.</param>
    /// <param name="noisyProbability">Probability of the noisy variant.</param>
    /// <param name="sparseProbability">Probability of the sparse-gradient variant.</param>
    /// <param name="rescaledProbability">Probability of the rescaled variant.</param>
    /// <param name="summedProbability">Probability of the summed variant.</param>
    public MetaTrainingEnsemble(IReadOnlyList<(MetaTrainingFamily Family, double Weight)> families,
        double noisyProbability = 0.2, double sparseProbability = 0.2, double rescaledProbability = 0.2, double summedProbability = 0.2)
    {
        ArgumentNullException.ThrowIfNull(families);
        if (families.Count == 0)
            throw new ArgumentException("The meta-training ensemble is empty: give at least one problem family.", nameof(families));
        foreach (var (family, weight) in families)
        {
            if (!Enum.IsDefined(family))
                throw new ArgumentOutOfRangeException(nameof(families), family, "Unknown problem family.");
            if (!(weight > 0) || double.IsInfinity(weight))
                throw new ArgumentOutOfRangeException(nameof(families), weight, $"The weight of family {family} must be positive and finite.");
        }
        foreach (var (name, p) in new[] { (nameof(noisyProbability), noisyProbability), (nameof(sparseProbability), sparseProbability), (nameof(rescaledProbability), rescaledProbability), (nameof(summedProbability), summedProbability) })
        {
            if (!(p >= 0 && p <= 1))
                throw new ArgumentOutOfRangeException(name, p, "A variant probability must be in [0, 1].");
        }
        Families = [.. families];
        NoisyProbability = noisyProbability;
        SparseProbability = sparseProbability;
        RescaledProbability = rescaledProbability;
        SummedProbability = summedProbability;
    }

    public IReadOnlyList<(MetaTrainingFamily Family, double Weight)> Families { get; }
    public double NoisyProbability { get; }
    public double SparseProbability { get; }
    public double RescaledProbability { get; }
    public double SummedProbability { get; }

    /// <summary>The problem of <paramref name="seed"/> (stream <c>"learned-optimizer.problem"</c>), in <paramref name="dtype"/>; the caller disposes it.</summary>
    public MetaTrainingProblem Draw(int seed, ScalarType dtype = ScalarType.Float32)
    {
        var random = new Random((int)(RandomStreams.DeriveSeed(seed, "learned-optimizer.problem") & int.MaxValue));
        var generator = RandomStreams.CreateGenerator(seed, "learned-optimizer.problem.tensors");
        var owned = new List<IDisposable> { generator };
        try
        {
            var problem = Build(random, generator, dtype, owned, allowSum: true);
            problem.NoiseGenerator = generator;
            return problem;
        }
        catch
        {
            foreach (var o in owned)
                o.Dispose();
            throw;
        }
    }

    private MetaTrainingFamily PickFamily(Random random)
    {
        double u = random.NextDouble() * Families.Sum(f => f.Weight);
        foreach (var (family, weight) in Families)
        {
            if ((u -= weight) < 0)
                return family;
        }
        return Families[^1].Family;
    }

    private MetaTrainingProblem Build(Random random, Generator g, ScalarType dtype, List<IDisposable> owned, bool allowSum)
    {
        var family = PickFamily(random);
        bool noisy = random.NextDouble() < NoisyProbability;
        bool sparse = random.NextDouble() < SparseProbability;
        bool rescaled = random.NextDouble() < RescaledProbability;
        bool summed = allowSum && random.NextDouble() < SummedProbability;
        double sigma = Math.Exp(Math.Log(0.01) + random.NextDouble() * (Math.Log(0.3) - Math.Log(0.01)));

        Tensor Keep(Tensor t)
        {
            t.DetachFromDisposeScope();
            owned.Add(t);
            return t;
        }

        var (name, init, loss) = BaseProblem(family, random, g, dtype, Keep);
        if (noisy)
        {
            var inner = loss;
            loss = p => inner([.. p.Select(t => t + sigma * randn(t.shape, dtype, generator: g))]);
            name = $"noisy({name})";
        }
        if (sparse)
        {
            var inner = loss;
            loss = p => inner([.. p.Select(t =>
            {
                var mask = (rand(t.shape, dtype, generator: g) < 0.5).to(dtype);
                return mask * t + (1 - mask) * t.detach();
            })]);
            name = $"sparse({name})";
        }
        if (rescaled)
        {
            var scales = init.Select(t => Keep(full(t.shape, Math.Exp((random.NextDouble() * 2 - 1) * Math.Log(10)), dtype))).ToArray();
            var inner = loss;
            loss = p => inner([.. p.Select((t, i) => t * scales[i])]);
            init = [.. init.Select((t, i) => t / scales[i])];
            name = $"rescaled({name})";
        }
        if (summed)
        {
            // The second problem owns its own tensors (it shares the generator, which the outermost problem owns).
            var other = Build(random, g, dtype, [], allowSum: false);
            owned.Add(other);
            int n = init.Length;
            var first = loss;
            loss = p => first([.. p.Take(n)]) + other.Loss([.. p.Skip(n)]);
            init = [.. init, .. other.InitialParameters.Select(t => t.clone())];
            name = $"sum({name}, {other.Name})";
        }
        foreach (var t in init)
            t.DetachFromDisposeScope();
        return new MetaTrainingProblem(name, init, loss, owned);
    }

    private static (string Name, Tensor[] Init, Func<IReadOnlyList<Tensor>, Tensor> Loss) BaseProblem(
        MetaTrainingFamily family, Random random, Generator g, ScalarType dtype, Func<Tensor, Tensor> keep)
    {
        switch (family)
        {
            case MetaTrainingFamily.Quadratic:
            case MetaTrainingFamily.IllConditionedQuadratic:
            {
                int n = random.Next(2, 21);
                var a = randn([n, n], dtype, generator: g);
                if (family == MetaTrainingFamily.IllConditionedQuadratic)
                {
                    double c = 1 + 2 * random.NextDouble();
                    a = a * pow(10.0, -c * arange(n, dtype) / Math.Max(1, n - 1));
                }
                var aa = keep(a);
                var b = keep(randn([n], dtype, generator: g));
                var x0 = randn([n], dtype, generator: g);
                string name = family == MetaTrainingFamily.Quadratic ? "quadratic" : "ill-conditioned quadratic";
                return (name, [x0], p => (aa.matmul(p[0]) - b).square().mean());
            }
            case MetaTrainingFamily.Bowl2d:
            {
                double ea = Math.Exp((random.NextDouble() * 2 - 1) * Math.Log(10)), eb = Math.Exp((random.NextDouble() * 2 - 1) * Math.Log(10));
                double angle = random.NextDouble() * Math.PI;
                var rot = keep(tensor(new[] { Math.Cos(angle), -Math.Sin(angle), Math.Sin(angle), Math.Cos(angle) }, [2, 2], dtype));
                var eig = keep(tensor(new[] { ea, eb }, dtype));
                var x0 = rand([2], dtype, generator: g) * 4 - 2;
                return ("2-d bowl", [x0], p => 0.5 * (eig * rot.matmul(p[0]).square()).sum());
            }
            case MetaTrainingFamily.Rosenbrock:
            {
                var x0 = rand([2], dtype, generator: g) * 4 - 2;
                return ("rosenbrock", [x0], p =>
                {
                    var x = p[0][0];
                    var y = p[0][1];
                    return ((1 - x).square() + 100 * (y - x.square()).square()) / 100;
                });
            }
            case MetaTrainingFamily.Beale:
            {
                var x0 = rand([2], dtype, generator: g) * 4 - 2;
                return ("beale", [x0], p =>
                {
                    var x = p[0][0];
                    var y = p[0][1];
                    return (1.5 - x + x * y).square() + (2.25 - x + x * y.square()).square() + (2.625 - x + x * y.pow(3)).square();
                });
            }
            case MetaTrainingFamily.SoftmaxRegression:
            {
                int d = random.Next(2, 11), classes = random.Next(2, 5);
                var (features, labels) = TeacherData(d, classes, g, dtype, keep);
                var w0 = randn([d, classes], dtype, generator: g) * 0.1;
                var b0 = zeros([classes], dtype);
                return ("softmax regression", [w0, b0], p => nn.functional.cross_entropy(features.matmul(p[0]) + p[1], labels));
            }
            case MetaTrainingFamily.Mlp:
            {
                int d = random.Next(2, 7), hidden = random.Next(4, 17);
                var (features, labels) = TeacherData(d, 2, g, dtype, keep);
                var w1 = randn([d, hidden], dtype, generator: g) / Math.Sqrt(d);
                var b1 = zeros([hidden], dtype);
                var w2 = randn([hidden, 2], dtype, generator: g) / Math.Sqrt(hidden);
                var b2 = zeros([2], dtype);
                return ("mlp", [w1, b1, w2, b2], p => nn.functional.cross_entropy((features.matmul(p[0]) + p[1]).tanh().matmul(p[2]) + p[3], labels));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(family), family, "Unknown problem family.");
        }
    }

    private static (Tensor Features, Tensor Labels) TeacherData(int d, int classes, Generator g, ScalarType dtype, Func<Tensor, Tensor> keep)
    {
        const int samples = 64;
        var x = randn([samples, d], dtype, generator: g);
        var teacher = randn([d, classes], dtype, generator: g);
        var labels = x.matmul(teacher).argmax(1);
        return (keep(x), keep(labels));
    }
}
