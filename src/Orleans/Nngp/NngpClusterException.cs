namespace Components.Orleans.Nngp;

/// <summary>
/// A kernel block on the Orleans cluster could not answer: its grain failed (the inner exception is the grain's, e.g.
/// an <see cref="ArgumentException"/> for a malformed request or an <see cref="InvalidOperationException"/> for a
/// kernel that cannot be computed), or every attempt timed out or found its silo unavailable.
/// </summary>
public sealed class NngpClusterException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NngpClusterException(string message, int block, Exception? inner)
        : base(message, inner)
    {
        Block = block;
    }

    /// <summary>Creates the exception.</summary>
    public NngpClusterException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public NngpClusterException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NngpClusterException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>The block that failed, or −1.</summary>
    public int Block { get; } = -1;
}
