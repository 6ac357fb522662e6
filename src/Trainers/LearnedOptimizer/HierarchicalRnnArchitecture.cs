namespace Components.Trainers.LearnedOptimizer;

/// <summary>
/// The shape of a hierarchical RNN optimizer (Wichrowska et al. 2017): the number of gradient timescales and the hidden
/// sizes of the per-parameter, per-tensor and global GRUs. A weights file records it and loads only into the same shape.
/// </summary>
/// <param name="GradientScales">Timescales K of gradient accumulation (momentum at K decay rates); at least 2 (the inputs include adjacent-scale products).</param>
/// <param name="ParameterCellSize">Hidden size of the per-parameter GRU.</param>
/// <param name="TensorCellSize">Hidden size of the per-tensor GRU.</param>
/// <param name="GlobalCellSize">Hidden size of the global GRU.</param>
public sealed record HierarchicalRnnArchitecture(int GradientScales, int ParameterCellSize, int TensorCellSize, int GlobalCellSize)
{
    /// <summary>The paper's (and the reference code's) shape: 4 timescales, GRUs of sizes [10, 20, 20].</summary>
    public static HierarchicalRnnArchitecture Default { get; } = new(4, 10, 20, 20);

    /// <summary>
    /// Inputs of the per-parameter GRU: K scaled gradients, K − 1 products of adjacent scales, K relative log mean
    /// squares and the relative log learning rate (3K in all).
    /// </summary>
    public int InputSize => GradientScales + (GradientScales - 1) + GradientScales + 1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless every size is usable.</summary>
    internal void Validate()
    {
        if (GradientScales < 2 || GradientScales > 16)
            throw new ArgumentOutOfRangeException(nameof(GradientScales), GradientScales, "The number of gradient timescales must be in [2, 16].");
        foreach (var (name, size) in new[] { (nameof(ParameterCellSize), ParameterCellSize), (nameof(TensorCellSize), TensorCellSize), (nameof(GlobalCellSize), GlobalCellSize) })
        {
            if (size < 1 || size > 4096)
                throw new ArgumentOutOfRangeException(name, size, "A GRU hidden size must be in [1, 4096].");
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GradientScales} gradient scales, GRU sizes [{ParameterCellSize}, {TensorCellSize}, {GlobalCellSize}]";
}
