namespace Components.Trainers.LearnedOptimizer.Fused;

/// <summary>
/// The variants of the fused float32 CPU kernel (<see cref="HierarchicalRnnFusedCpuStep"/> dispatches on it): the same
/// math at two SIMD widths.
/// </summary>
internal enum FusedCpuKernel
{
    /// <summary>No fused kernel on this CPU: the optimizer steps with the libtorch in-place path.</summary>
    None,

    /// <summary><see cref="HierarchicalRnnFusedKernel256"/>: Vector256 (AVX2 + FMA), 8 parameters per pass.</summary>
    Avx2,

    /// <summary><see cref="HierarchicalRnnFusedKernel512"/>: Vector512 (AVX-512F), 16 parameters per pass.</summary>
    Avx512,
}
