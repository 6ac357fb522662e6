using static TorchSharp.torch;

namespace Components.Samplers.Energies;

/// <summary>
/// Constant tensors of an energy (means, precisions), built once per device on first use and kept for the life of
/// the energy (they are detached from every dispose scope). Thread-safe.
/// </summary>
internal sealed class DeviceConstants
{
    private readonly Func<Device, Tensor[]> _make;
    private readonly Dictionary<string, Tensor[]> _byDevice = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public DeviceConstants(Func<Device, Tensor[]> make) => _make = make;

    public Tensor[] Get(Device device)
    {
        var key = device.ToString();
        lock (_lock)
        {
            if (!_byDevice.TryGetValue(key, out var tensors))
            {
                tensors = _make(device);
                foreach (var t in tensors)
                    t.DetachFromDisposeScope();
                _byDevice[key] = tensors;
            }
            return tensors;
        }
    }
}

/// <summary>Small dense linear algebra in double precision for energy constants.</summary>
internal static class DenseAlgebra
{
    /// <summary>Lower Cholesky factor of a symmetric positive definite matrix, or null if it is not one.</summary>
    public static double[,]? Cholesky(double[,] a)
    {
        int n = a.GetLength(0);
        var l = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++)
                    s -= l[i, k] * l[j, k];
                if (i == j)
                {
                    if (!(s > 0))
                        return null;
                    l[i, i] = Math.Sqrt(s);
                }
                else
                {
                    l[i, j] = s / l[j, j];
                }
            }
        }
        return l;
    }

    /// <summary>Inverse of <c>L Lᵀ</c> from its lower Cholesky factor.</summary>
    public static double[,] InverseFromCholesky(double[,] l)
    {
        int n = l.GetLength(0);
        var inv = new double[n, n];
        var col = new double[n];
        for (int c = 0; c < n; c++)
        {
            // Solve L y = e_c, then Lᵀ x = y.
            for (int i = 0; i < n; i++)
            {
                double s = i == c ? 1 : 0;
                for (int k = 0; k < i; k++)
                    s -= l[i, k] * col[k];
                col[i] = s / l[i, i];
            }
            for (int i = n - 1; i >= 0; i--)
            {
                double s = col[i];
                for (int k = i + 1; k < n; k++)
                    s -= l[k, i] * inv[k, c];
                inv[i, c] = s / l[i, i];
            }
        }
        // Symmetrise rounding.
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < i; j++)
            {
                double m = 0.5 * (inv[i, j] + inv[j, i]);
                inv[i, j] = m;
                inv[j, i] = m;
            }
        }
        return inv;
    }

    public static float[] ToSingles(double[,] a)
    {
        int r = a.GetLength(0), c = a.GetLength(1);
        var f = new float[r * c];
        for (int i = 0; i < r; i++)
        {
            for (int j = 0; j < c; j++)
                f[i * c + j] = (float)a[i, j];
        }
        return f;
    }

    public static float[] ToSingles(double[] a) => a.Select(v => (float)v).ToArray();
}
