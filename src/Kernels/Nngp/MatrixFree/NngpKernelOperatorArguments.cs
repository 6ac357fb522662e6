using System.Globalization;

namespace Components.Kernels.Nngp;

/// <summary>The argument checks every <see cref="INngpKernelOperator"/> and its factory share (local and cluster).</summary>
internal static class NngpKernelOperatorArguments
{
    /// <summary>Throws unless <paramref name="kernel"/> names exactly one kernel, NNGP or NTK.</summary>
    public static void CheckKernel(NngpOutputs kernel)
    {
        if (kernel != NngpOutputs.Nngp && kernel != NngpOutputs.Ntk)
            throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "Choose one kernel: Nngp or Ntk.");
    }

    /// <summary>The requested row indices as an array; throws naming the first one outside [0, <paramref name="count"/>).</summary>
    public static long[] CheckRows(ReadOnlySpan<long> indices, int count)
    {
        var idx = indices.ToArray();
        foreach (var i in idx)
        {
            if (i < 0 || i >= count)
                throw new ArgumentOutOfRangeException(nameof(indices), i, string.Create(CultureInfo.InvariantCulture, $"Row index {i} is outside [0, {count})."));
        }
        return idx;
    }
}
