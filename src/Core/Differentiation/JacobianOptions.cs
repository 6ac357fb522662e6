namespace Components.Core.Differentiation;

/// <summary>How <see cref="Jacobians.FrobeniusNorm"/> computes the norm.</summary>
public enum JacobianNormMethod
{
    /// <summary>Exact for at most <see cref="JacobianOptions.ExactOutputLimit"/> outputs, Hutchinson above.</summary>
    Auto,

    /// <summary>Exact: every row of the Jacobian (one backward pass per block of outputs).</summary>
    Exact,

    /// <summary>Hutchinson's random-projection estimator (unbiased for the squared norm).</summary>
    Hutchinson,
}

/// <summary>Options of <see cref="Jacobians"/>.</summary>
public sealed class JacobianOptions
{
    /// <summary>Defaults of the options.</summary>
    public static class Defaults
    {
        /// <summary>Default <see cref="Method"/>.</summary>
        public const JacobianNormMethod Method = JacobianNormMethod.Auto;

        /// <summary>Default <see cref="ExactOutputLimit"/>.</summary>
        public const int ExactOutputLimit = 64;

        /// <summary>Default <see cref="Probes"/>.</summary>
        public const int Probes = 32;

        /// <summary>Default <see cref="RowsPerPass"/>.</summary>
        public const int RowsPerPass = 256;
    }

    /// <summary>Exact, Hutchinson, or exact up to <see cref="ExactOutputLimit"/> outputs (default).</summary>
    public JacobianNormMethod Method = Defaults.Method;

    /// <summary>With <see cref="JacobianNormMethod.Auto"/>: the largest output size computed exactly. Positive; default 64.</summary>
    public int ExactOutputLimit = Defaults.ExactOutputLimit;

    /// <summary>
    /// Hutchinson probes (Rademacher vectors, one backward pass each). Positive; default 32. The relative standard
    /// error of the squared norm is at most √(2/probes).
    /// </summary>
    public int Probes = Defaults.Probes;

    /// <summary>
    /// Batches smaller than this are replicated (up to once per output or probe) so that one backward pass yields
    /// several Jacobian rows: c = RowsPerPass / n copies, between 1 and the outputs. Batches of at least this many rows
    /// run one forward pass and one backward pass per output (or probe), the fewest operations. Memory ≈ c·n rows of
    /// the function's activations. Positive; default 256.
    /// </summary>
    public int RowsPerPass = Defaults.RowsPerPass;

    internal void Validate()
    {
        if (ExactOutputLimit <= 0)
            throw new ArgumentOutOfRangeException(nameof(ExactOutputLimit), ExactOutputLimit, "Must be positive.");
        if (Probes <= 0)
            throw new ArgumentOutOfRangeException(nameof(Probes), Probes, "Must be positive.");
        if (RowsPerPass <= 0)
            throw new ArgumentOutOfRangeException(nameof(RowsPerPass), RowsPerPass, "Must be positive.");
        if (!Enum.IsDefined(Method))
            throw new ArgumentOutOfRangeException(nameof(Method), Method, "Unknown method.");
    }
}
