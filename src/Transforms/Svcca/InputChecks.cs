using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>Argument and data checks shared by the SVCCA math core.</summary>
internal static class InputChecks
{
    /// <summary>Checks a [datapoints, neurons] matrix argument; returns (rows, columns).</summary>
    public static (long Rows, int Columns) Matrix(Tensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() != 2)
            throw new ArgumentException($"'{name}' must be a 2-D tensor [datapoints, neurons]; got shape [{string.Join(", ", t.shape)}].", name);
        if (!t.is_floating_point())
            throw new ArgumentException($"'{name}' must be a floating-point tensor; got {t.dtype}.", name);
        if (t.shape[0] == 0 || t.shape[1] == 0)
            throw new ArgumentException($"'{name}' is empty (shape [{string.Join(", ", t.shape)}]).", name);
        return (t.shape[0], checked((int)t.shape[1]));
    }

    /// <summary>Checks that two representations have the same datapoints and more datapoints than neurons.</summary>
    public static void Pair(long rowsA, int colsA, long rowsB, int colsB, string nameA = "a", string nameB = "b")
    {
        if (rowsA != rowsB)
            throw new ArgumentException($"'{nameA}' has {rowsA} datapoints (rows) but '{nameB}' has {rowsB}: both must hold the same datapoints in the same order.", nameB);
        EnoughDatapoints(rowsA, colsA, nameA, arg: true);
        EnoughDatapoints(rowsB, colsB, nameB, arg: true);
    }

    /// <summary>CCA needs more datapoints than neurons (as the reference asserts).</summary>
    public static void EnoughDatapoints(long rows, int cols, string name, bool arg)
    {
        if (rows > cols)
            return;
        var msg = $"'{name}' has {rows} datapoints (rows) for {cols} neurons (columns): CCA needs more datapoints than neurons. " +
                  "Rows are datapoints and columns neurons; transpose a [neurons, datapoints] layout.";
        throw arg ? new ArgumentException(msg, name) : new InvalidOperationException(msg);
    }

    /// <summary>
    /// Cheap check through the per-column mean <paramref name="mean"/> of <paramref name="t"/>: a NaN or infinity in
    /// a column makes its mean non-finite, and only then are the rows searched.
    /// </summary>
    public static void FiniteGivenMean(Tensor t, Tensor mean, string name, long rowOffset)
    {
        using (var scope = torch.NewDisposeScope())
        {
            if (torch.isfinite(mean).all().item<bool>())
                return;
        }
        Finite(t, name, rowOffset);
        throw new InvalidOperationException($"'{name}': activations are too large (their sum overflows float64).");
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first row holding a NaN or infinity.</summary>
    public static void Finite(Tensor t, string name, long rowOffset = 0)
    {
        using var scope = torch.NewDisposeScope();
        var flat = t.dim() > 2 ? t.reshape(t.shape[0], -1) : t;
        var ok = torch.isfinite(flat).all(1);
        if (ok.all().item<bool>())
            return;
        long row = ok.logical_not().nonzero()[0][0].item<long>();
        throw new InvalidOperationException($"'{name}', row {row + rowOffset}: activations must be finite (found NaN or infinity).");
    }
}
