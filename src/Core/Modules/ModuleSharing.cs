namespace Components.Core.Modules;

/// <summary>
/// How a <see cref="TorchModuleOwner{TModule}"/> lets several threads (several PredictionEngines, parallel cursors)
/// run inference on one trained module. Measured by <c>test/Benchmarks -- module-sharing</c>; see docs/benchmarks.md.
/// </summary>
public enum ModuleSharing
{
    /// <summary>
    /// The default. A pool of modules: a caller takes an idle one (the trained module first, then copies made on
    /// demand, at most one per processor) and gives it back after the call. Concurrent callers never share a module;
    /// memory grows only with the concurrency actually seen.
    /// </summary>
    Pool,

    /// <summary>One module; callers take turns under a lock. No extra memory; inference is serialised.</summary>
    Lock,

    /// <summary>A copy of the module per calling thread, kept until the owner is disposed (memory grows with the number of threads ever used).</summary>
    PerThreadClone,

    /// <summary>
    /// One module, no synchronisation: only for modules whose forward pass mutates nothing (libtorch allows concurrent
    /// read-only forwards). Kept as the benchmark's reference.
    /// </summary>
    Unsynchronized,
}
