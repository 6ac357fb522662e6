using System.Globalization;
using Components.Kernels.Nngp;

namespace Components.Orleans.Nngp;

/// <summary>
/// What a <see cref="INngpKernelBlockGrain"/> needs, besides the training features, to compute its row-block
/// K[<see cref="FirstRow"/>:<see cref="EndRow"/>, :] deterministically: the job, the block's rows, the architecture and
/// the kernel options, all as plain values (no functions: a <see cref="NngpNonlinearityKind.Custom"/> nonlinearity
/// cannot be sent to a silo).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record NngpBlockSpec
{
    /// <summary>The operator that owns the block; every request names it, so a grain never mixes two jobs.</summary>
    [Id(0)] public required Guid Job { get; init; }

    /// <summary>Index of the block in the operator.</summary>
    [Id(1)] public required int Block { get; init; }

    /// <summary>First training row of the block.</summary>
    [Id(2)] public required int FirstRow { get; init; }

    /// <summary>One past the last training row of the block.</summary>
    [Id(3)] public required int EndRow { get; init; }

    /// <summary>Training rows n (the block's columns).</summary>
    [Id(4)] public required int Rows { get; init; }

    /// <summary>Features per row d.</summary>
    [Id(5)] public required int Features { get; init; }

    /// <summary>True when the features travel as float64, false for float32.</summary>
    [Id(6)] public required bool Float64Features { get; init; }

    /// <summary>Hidden layers of the architecture.</summary>
    [Id(7)] public required int Depth { get; init; }

    /// <summary>The nonlinearity's family (not <see cref="NngpNonlinearityKind.Custom"/>).</summary>
    [Id(8)] public required NngpNonlinearityKind Nonlinearity { get; init; }

    /// <summary>The nonlinearity's parameters (<see cref="NngpNonlinearity.Parameters"/>).</summary>
    [Id(9)] public required double[] NonlinearityParameters { get; init; }

    /// <summary>σ_w².</summary>
    [Id(10)] public required double WeightVariance { get; init; }

    /// <summary>σ_b².</summary>
    [Id(11)] public required double BiasVariance { get; init; }

    /// <summary>Layer-normalise input rows.</summary>
    [Id(12)] public required bool InputLayerNorm { get; init; }

    /// <summary><see cref="NngpKernelOptions.Integration"/>.</summary>
    [Id(13)] public required NngpIntegration Integration { get; init; }

    /// <summary><see cref="NngpKernelOptions.GaussHermiteDegree"/>.</summary>
    [Id(14)] public required int GaussHermiteDegree { get; init; }

    /// <summary><see cref="NngpKernelOptions.Rescale"/>.</summary>
    [Id(15)] public required bool Rescale { get; init; }

    /// <summary>Lookup grid sizes and ranges (<see cref="NngpKernelOptions"/>'s Grid* fields).</summary>
    [Id(16)] public required int GridGaussPoints { get; init; }

    /// <summary>See <see cref="GridGaussPoints"/>.</summary>
    [Id(17)] public required int GridVariancePoints { get; init; }

    /// <summary>See <see cref="GridGaussPoints"/>.</summary>
    [Id(18)] public required int GridCorrelationPoints { get; init; }

    /// <summary>See <see cref="GridGaussPoints"/>.</summary>
    [Id(19)] public required double GridMaxVariance { get; init; }

    /// <summary>See <see cref="GridGaussPoints"/>.</summary>
    [Id(20)] public required double GridMaxGauss { get; init; }

    /// <summary>True for the neural tangent kernel Θ, false for the NNGP kernel K.</summary>
    [Id(21)] public required bool Ntk { get; init; }

    /// <summary>Keep the block in float32 (half the memory; products still accumulate in float64).</summary>
    [Id(22)] public required bool Float32Cache { get; init; }

    /// <summary>Rows of the block.</summary>
    public int BlockRows => EndRow - FirstRow;

    /// <summary>The block as text for messages, e.g. <c>block 2 (rows 1000–1499)</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"block {Block} (rows {FirstRow}–{EndRow - 1})");

    /// <summary>The spec of one block of a kernel over <paramref name="rows"/> × <paramref name="features"/> training features.</summary>
    internal static NngpBlockSpec Create(Guid job, int block, int firstRow, int endRow, int rows, int features, bool float64Features,
        NngpArchitecture architecture, NngpKernelOptions options, bool ntk, bool float32Cache)
    {
        if (architecture.Nonlinearity.Kind == NngpNonlinearityKind.Custom)
        {
            throw new ArgumentOutOfRangeException(nameof(architecture),
                $"The nonlinearity {architecture.Nonlinearity.Name} is a user function, which cannot be sent to Orleans silos; use ReLU, leaky ReLU, ABReLU, Abs, Erf or Tanh.");
        }
        return new NngpBlockSpec
        {
            Job = job, Block = block, FirstRow = firstRow, EndRow = endRow, Rows = rows, Features = features, Float64Features = float64Features,
            Depth = architecture.Depth, Nonlinearity = architecture.Nonlinearity.Kind, NonlinearityParameters = [.. architecture.Nonlinearity.Parameters],
            WeightVariance = architecture.WeightVariance, BiasVariance = architecture.BiasVariance, InputLayerNorm = architecture.InputLayerNorm,
            Integration = options.Integration, GaussHermiteDegree = options.GaussHermiteDegree, Rescale = options.Rescale,
            GridGaussPoints = options.GridGaussPoints, GridVariancePoints = options.GridVariancePoints, GridCorrelationPoints = options.GridCorrelationPoints,
            GridMaxVariance = options.GridMaxVariance, GridMaxGauss = options.GridMaxGauss, Ntk = ntk, Float32Cache = float32Cache,
        };
    }

    /// <summary>Checks the spec as a silo receives it; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    internal void Validate()
    {
        if (Rows <= 0 || Features <= 0)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The training set must have rows and features, got {Rows} × {Features}."), nameof(Rows));
        if (FirstRow < 0 || EndRow <= FirstRow || EndRow > Rows)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The {this} is not a non-empty range of the {Rows} training rows."), nameof(FirstRow));
        if ((long)Rows * Features > Array.MaxLength)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{Rows} × {Features} features exceed the largest array a silo can hold."), nameof(Features));
        if ((long)BlockRows * Rows > Array.MaxLength)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The {this} holds {(long)BlockRows * Rows} kernel entries, above the largest array; use more blocks."), nameof(EndRow));
        if (!Enum.IsDefined(Nonlinearity) || Nonlinearity == NngpNonlinearityKind.Custom)
            throw new ArgumentException($"The nonlinearity kind {Nonlinearity} cannot be computed on a silo.", nameof(Nonlinearity));
        int expected = Nonlinearity switch { NngpNonlinearityKind.ABRelu => 2, NngpNonlinearityKind.Erf => 3, _ => 0 };
        if (NonlinearityParameters is null || NonlinearityParameters.Length != expected)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The nonlinearity {Nonlinearity} takes {expected} parameter(s), got {NonlinearityParameters?.Length ?? 0}."), nameof(NonlinearityParameters));
    }

    /// <summary>The architecture the spec describes (its constructor checks the values).</summary>
    internal NngpArchitecture Architecture()
    {
        var p = NonlinearityParameters;
        var phi = Nonlinearity switch
        {
            NngpNonlinearityKind.ABRelu => NngpNonlinearity.ABRelu(p[0], p[1]),
            NngpNonlinearityKind.Erf => NngpNonlinearity.Erf(p[0], p[1], p[2]),
            NngpNonlinearityKind.Tanh => NngpNonlinearity.Tanh,
            _ => throw new ArgumentException($"The nonlinearity kind {Nonlinearity} cannot be computed on a silo.", nameof(Nonlinearity)),
        };
        return new NngpArchitecture(Depth, phi, WeightVariance, BiasVariance, InputLayerNorm);
    }

    /// <summary>The kernel options the spec describes (CPU, float64, automatic tiles).</summary>
    internal NngpKernelOptions KernelOptions() => new()
    {
        Integration = Integration,
        GaussHermiteDegree = GaussHermiteDegree,
        Rescale = Rescale,
        GridGaussPoints = GridGaussPoints,
        GridVariancePoints = GridVariancePoints,
        GridCorrelationPoints = GridCorrelationPoints,
        GridMaxVariance = GridMaxVariance,
        GridMaxGauss = GridMaxGauss,
    };
}
