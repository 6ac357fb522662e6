using Components.Trainers.Nngp;

namespace Components.Orleans.Nngp;

/// <summary>Points the NNGP trainers at an Orleans cluster.</summary>
public static class NngpOrleansExtensions
{
    /// <summary>
    /// Solves the trainer's GP with matrix-free conjugate gradients (<see cref="NngpTrainerOptions.Solver"/> =
    /// <see cref="NngpSolver.ConjugateGradient"/>) whose kernel row-blocks are owned by grains on the cluster behind
    /// <paramref name="client"/> (<see cref="NngpTrainerOptions.KernelOperatorFactory"/>). The silos must run the
    /// Components.Orleans grains (reference the package in the silo host). The returned factory's fields set the
    /// number of blocks, the float32 cache and the timeouts; they are read when the trainer creates its operator.
    /// </summary>
    /// <param name="options">The trainer's options (multiclass or regression).</param>
    /// <param name="client">A started Orleans client; not owned (keep it running until training has finished).</param>
    /// <returns>The factory set on the options.</returns>
    public static OrleansNngpKernelOperatorFactory UseOrleansCluster(this NngpTrainerOptions options, IClusterClient client)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(client);
        var factory = new OrleansNngpKernelOperatorFactory(client);
        options.Solver = NngpSolver.ConjugateGradient;
        options.KernelOperatorFactory = factory;
        return factory;
    }
}
