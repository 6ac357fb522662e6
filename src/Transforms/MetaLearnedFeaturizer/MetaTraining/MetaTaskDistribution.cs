using Components.Core.Randomness;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer.MetaTraining;

/// <summary>One meta-gradient's draw: the task seed (classes, pixel permutation, base-network architecture, batches)
/// and the number of inner steps run with the current rule before the differentiated segment (truncation).</summary>
internal readonly record struct MetaUnroll(int TaskSeed, int WarmupSteps);

/// <summary>A task drawn from a seed: which classes, whether and how the pixels are permuted, and the base network.</summary>
/// <param name="Classes">The dataset classes of the task (their order gives the task's labels 0 … k − 1).</param>
/// <param name="Permutation">Input pixel order, or null for the identity.</param>
/// <param name="Widths">Base-network widths, input first.</param>
/// <param name="Activation">Base-network nonlinearity.</param>
/// <param name="NetworkSeed">Seed of the base network's initial weights.</param>
internal sealed record MetaTask(int[] Classes, long[]? Permutation, int[] Widths, BaseActivation Activation, int NetworkSeed);

/// <summary>
/// The distribution of meta-training tasks (the paper's recipe to generalise: subsets of classes, random pixel
/// permutations, random base-network widths, depths and nonlinearity) and the sizes of one unroll.
/// Every draw is a pure function of a task seed.
/// </summary>
internal sealed class MetaTaskDistribution
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        public const int MinClasses = 2;
        public const int MaxClasses = 10;
        public const int ShotsPerClass = 10;
        public const int QueryPerClass = 10;
        public const int BatchSize = 64;
        public const double PermuteProbability = 0.5;
        public const int MinHiddenLayers = 0;
        public const int MaxHiddenLayers = 1;
        public const int UnrollSteps = 5;
        public const int MaxWarmupSteps = 20;
    }

    /// <summary>Classes per task: uniform in [MinClasses, MaxClasses] (capped by the data's classes).</summary>
    public int MinClasses { get; init; } = Defaults.MinClasses;
    public int MaxClasses { get; init; } = Defaults.MaxClasses;

    /// <summary>Labelled examples per class the ridge regression is fitted on (the reference's samples_per_class 10).</summary>
    public int ShotsPerClass { get; init; } = Defaults.ShotsPerClass;

    /// <summary>Labelled examples per class the ridge predictions are scored on.</summary>
    public int QueryPerClass { get; init; } = Defaults.QueryPerClass;

    /// <summary>Rows of each unlabelled inner-loop batch.</summary>
    public int BatchSize { get; init; } = Defaults.BatchSize;

    /// <summary>Probability that a task permutes the input pixels.</summary>
    public double PermuteProbability { get; init; } = Defaults.PermuteProbability;

    /// <summary>Hidden layers: uniform in [MinHiddenLayers, MaxHiddenLayers] (the output embedding comes on top).</summary>
    public int MinHiddenLayers { get; init; } = Defaults.MinHiddenLayers;
    public int MaxHiddenLayers { get; init; } = Defaults.MaxHiddenLayers;

    /// <summary>Widths a hidden layer is drawn from.</summary>
    public int[] HiddenWidths { get; init; } = [32, 64];

    /// <summary>Widths the output embedding is drawn from.</summary>
    public int[] OutputWidths { get; init; } = [16, 32];

    /// <summary>Nonlinearities drawn from.</summary>
    public BaseActivation[] Activations { get; init; } = [BaseActivation.Relu, BaseActivation.Tanh];

    /// <summary>Inner steps of the differentiated segment (truncated backpropagation through these only).</summary>
    public int UnrollSteps { get; init; } = Defaults.UnrollSteps;

    /// <summary>Warm-up steps before the segment are drawn uniformly from [0, MaxWarmupSteps].</summary>
    public int MaxWarmupSteps { get; init; } = Defaults.MaxWarmupSteps;

    /// <summary>Inner learning rate of the base network.</summary>
    public double InnerLearningRate { get; init; } = InnerLoop.DefaultLearningRate;

    /// <summary>Random purpose of a task's draws.</summary>
    public const string TaskPurpose = "meta-learned-featurizer.task";

    internal void Validate()
    {
        if (MinClasses < 2 || MaxClasses < MinClasses)
            throw new ArgumentOutOfRangeException(nameof(MinClasses), $"Need 2 ≤ MinClasses ≤ MaxClasses (got {MinClasses}, {MaxClasses}).");
        if (ShotsPerClass < 1 || QueryPerClass < 1 || BatchSize < 2)
            throw new ArgumentOutOfRangeException(nameof(ShotsPerClass), $"Need ShotsPerClass ≥ 1, QueryPerClass ≥ 1, BatchSize ≥ 2 (got {ShotsPerClass}, {QueryPerClass}, {BatchSize}).");
        if (!(PermuteProbability >= 0 && PermuteProbability <= 1))
            throw new ArgumentOutOfRangeException(nameof(PermuteProbability), PermuteProbability, "Must be in [0, 1].");
        if (MinHiddenLayers < 0 || MaxHiddenLayers < MinHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(MinHiddenLayers), $"Need 0 ≤ MinHiddenLayers ≤ MaxHiddenLayers (got {MinHiddenLayers}, {MaxHiddenLayers}).");
        if (HiddenWidths is not { Length: > 0 } || OutputWidths is not { Length: > 0 } || HiddenWidths.Concat(OutputWidths).Any(w => w < 1))
            throw new ArgumentException("HiddenWidths and OutputWidths must be non-empty lists of positive widths.");
        if (Activations is not { Length: > 0 })
            throw new ArgumentException("Activations must not be empty.", nameof(Activations));
        if (UnrollSteps < 1 || MaxWarmupSteps < 0)
            throw new ArgumentOutOfRangeException(nameof(UnrollSteps), $"Need UnrollSteps ≥ 1 and MaxWarmupSteps ≥ 0 (got {UnrollSteps}, {MaxWarmupSteps}).");
        if (!(InnerLearningRate > 0) || !double.IsFinite(InnerLearningRate))
            throw new ArgumentOutOfRangeException(nameof(InnerLearningRate), InnerLearningRate, "Must be positive and finite.");
    }

    /// <summary>The random source of task <paramref name="taskSeed"/> (task, then batches, then labelled sets, in that order).</summary>
    internal static Random TaskRandom(int taskSeed) => new((int)(RandomStreams.DeriveSeed(taskSeed, TaskPurpose) & int.MaxValue));

    /// <summary>Draws the task from <paramref name="random"/> for data with <paramref name="classes"/> classes and <paramref name="inputWidth"/> features.</summary>
    internal MetaTask DrawTask(Random random, int classes, int inputWidth)
    {
        int k = random.Next(Math.Min(MinClasses, classes), Math.Min(MaxClasses, classes) + 1);
        var order = Enumerable.Range(0, classes).ToArray();
        Shuffle(random, order);
        var chosen = order[..k];
        long[]? perm = null;
        if (random.NextDouble() < PermuteProbability)
        {
            perm = [.. Enumerable.Range(0, inputWidth).Select(i => (long)i)];
            Shuffle(random, perm);
        }
        int hidden = random.Next(MinHiddenLayers, MaxHiddenLayers + 1);
        var widths = new List<int> { inputWidth };
        for (int i = 0; i < hidden; i++)
            widths.Add(HiddenWidths[random.Next(HiddenWidths.Length)]);
        widths.Add(OutputWidths[random.Next(OutputWidths.Length)]);
        var activation = Activations[random.Next(Activations.Length)];
        return new MetaTask(chosen, perm, [.. widths], activation, random.Next());
    }

    /// <summary>Rows of <paramref name="data"/>: <paramref name="count"/> drawn uniformly (with replacement) from the task's classes.</summary>
    internal static long[] UnlabelledRows(Random random, MetaTrainingData data, MetaTask task, int count)
    {
        var rows = new long[count];
        for (int i = 0; i < count; i++)
        {
            var pool = data.ClassRows[task.Classes[random.Next(task.Classes.Length)]];
            rows[i] = pool[random.Next(pool.Length)];
        }
        return rows;
    }

    /// <summary>Disjoint labelled support and query rows: per class <paramref name="shots"/> and <paramref name="query"/> rows without replacement (task labels 0 … k − 1).</summary>
    internal static (long[] SupportRows, long[] SupportLabels, long[] QueryRows, long[] QueryLabels) LabelledRows(Random random, MetaTrainingData data, MetaTask task, int shots, int query)
    {
        var sr = new List<long>(); var sl = new List<long>(); var qr = new List<long>(); var ql = new List<long>();
        for (int c = 0; c < task.Classes.Length; c++)
        {
            var pool = data.ClassRows[task.Classes[c]];
            if (pool.Length < shots + query)
                throw new ArgumentException($"Class {task.Classes[c]} has {pool.Length} rows; a task needs {shots + query} (shots + query).");
            var picked = new HashSet<long>();
            var list = new List<long>(shots + query);
            while (list.Count < shots + query)
            {
                var r = pool[random.Next(pool.Length)];
                if (picked.Add(r))
                    list.Add(r);
            }
            for (int i = 0; i < list.Count; i++)
            {
                (i < shots ? sr : qr).Add(list[i]);
                (i < shots ? sl : ql).Add(c);
            }
        }
        return ([.. sr], [.. sl], [.. qr], [.. ql]);
    }

    /// <summary>The rows <paramref name="rows"/> of the data with the task's pixel order.</summary>
    internal static Tensor Rows(MetaTrainingData data, MetaTask task, long[] rows)
    {
        var x = data.Images.index_select(0, tensor(rows));
        return task.Permutation is { } p ? x.index_select(1, tensor(p)) : x;
    }

    private static void Shuffle<T>(Random random, T[] a)
    {
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
    }
}
