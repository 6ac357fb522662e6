using static TorchSharp.torch;

namespace Components.Trainers.Gan;

/// <summary>
/// The 2-d Gaussian mixtures of the GAN literature: 8 components on a ring and 25 on a 5×5 grid (equal weights,
/// isotropic). Rows come from a seeded <see cref="Random"/>, so they are the same on every machine.
/// </summary>
public static class GanToyData
{
    /// <summary>Means of <paramref name="modes"/> components evenly spaced on a circle of <paramref name="radius"/> [modes, 2].</summary>
    public static float[,] RingCenters(int modes = 8, double radius = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(modes);
        var c = new float[modes, 2];
        for (int k = 0; k < modes; k++)
        {
            c[k, 0] = (float)(radius * Math.Cos(2 * Math.PI * k / modes));
            c[k, 1] = (float)(radius * Math.Sin(2 * Math.PI * k / modes));
        }
        return c;
    }

    /// <summary>Means of a side × side grid with the given spacing, centred at 0 [side², 2].</summary>
    public static float[,] GridCenters(int side = 5, double spacing = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(side);
        var c = new float[side * side, 2];
        for (int i = 0; i < side; i++)
        {
            for (int j = 0; j < side; j++)
            {
                c[i * side + j, 0] = (float)((i - (side - 1) / 2.0) * spacing);
                c[i * side + j, 1] = (float)((j - (side - 1) / 2.0) * spacing);
            }
        }
        return c;
    }

    /// <summary><paramref name="count"/> rows of the equal-weight mixture of N(c_k, σ²I), c_k the rows of <paramref name="centers"/>.</summary>
    public static float[][] Sample(float[,] centers, double sigma, int count, int seed)
    {
        ArgumentNullException.ThrowIfNull(centers);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var rng = new Random(seed);
        int k = centers.GetLength(0), d = centers.GetLength(1);
        var rows = new float[count][];
        for (int i = 0; i < count; i++)
        {
            int m = rng.Next(k);
            rows[i] = new float[d];
            for (int j = 0; j < d; j++)
                rows[i][j] = (float)(centers[m, j] + sigma * Normal(rng));
        }
        return rows;
    }

    /// <summary>Rows as a float32 tensor [n, d].</summary>
    public static Tensor ToTensor(float[][] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int d = rows.Length == 0 ? 0 : rows[0].Length;
        return tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, d]);
    }

    /// <summary>Centers as a float32 tensor [k, d].</summary>
    public static Tensor ToTensor(float[,] centers)
    {
        ArgumentNullException.ThrowIfNull(centers);
        return tensor(centers.Cast<float>().ToArray(), [centers.GetLength(0), centers.GetLength(1)]);
    }

    private static double Normal(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
