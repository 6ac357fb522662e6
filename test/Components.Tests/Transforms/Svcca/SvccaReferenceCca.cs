using TorchSharp;

namespace Components.Tests.Transforms.Svcca;

/// <summary>
/// An independent SVCCA in plain C# doubles, sharing no code with the library: one-sided (Hestenes) Jacobi SVD for
/// the SVD step, modified Gram–Schmidt QR (twice) of the centred data, then ρ = singular values of Q_AᵀQ_B
/// (anatome's <c>cca_by_qr</c>). Plus random-data helpers.
/// </summary>
internal static class SvccaReferenceCca
{
    /// <summary>Gaussian matrix [rows, cols].</summary>
    public static double[,] Gaussian(Random rng, int rows, int cols, double scale = 1.0)
    {
        var m = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                m[i, j] = scale * Normal(rng);
        return m;
    }

    public static double Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), k = a.GetLength(1), m = b.GetLength(1);
        var c = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int l = 0; l < k; l++)
            {
                double v = a[i, l];
                for (int j = 0; j < m; j++)
                    c[i, j] += v * b[l, j];
            }
        return c;
    }

    public static double[,] Add(double[,] a, double[,] b)
    {
        var c = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
                c[i, j] += b[i, j];
        return c;
    }

    /// <summary>Columns scaled by <paramref name="scales"/>.</summary>
    public static double[,] ScaleColumns(double[,] a, double[] scales)
    {
        var c = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
                c[i, j] *= scales[j];
        return c;
    }

    public static double[,] Centre(double[,] a)
    {
        int n = a.GetLength(0), p = a.GetLength(1);
        var c = (double[,])a.Clone();
        for (int j = 0; j < p; j++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++)
                mean += a[i, j];
            mean /= n;
            for (int i = 0; i < n; i++)
                c[i, j] -= mean;
        }
        return c;
    }

    public static double[,] Transpose(double[,] a)
    {
        var t = new double[a.GetLength(1), a.GetLength(0)];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
                t[j, i] = a[i, j];
        return t;
    }

    /// <summary>A random orthogonal matrix (Q of a Gaussian matrix).</summary>
    public static double[,] RandomOrthogonal(Random rng, int n) => Qr(Gaussian(rng, n, n));

    /// <summary>Q of the thin QR factorisation (modified Gram–Schmidt, applied twice for orthogonality).</summary>
    public static double[,] Qr(double[,] a)
    {
        int n = a.GetLength(0), p = a.GetLength(1);
        var q = (double[,])a.Clone();
        for (int j = 0; j < p; j++)
        {
            for (int pass = 0; pass < 2; pass++)
            {
                for (int k = 0; k < j; k++)
                {
                    double dot = 0;
                    for (int i = 0; i < n; i++)
                        dot += q[i, k] * q[i, j];
                    for (int i = 0; i < n; i++)
                        q[i, j] -= dot * q[i, k];
                }
            }
            double norm = 0;
            for (int i = 0; i < n; i++)
                norm += q[i, j] * q[i, j];
            norm = Math.Sqrt(norm);
            for (int i = 0; i < n; i++)
                q[i, j] /= norm;
        }
        return q;
    }

    /// <summary>
    /// One-sided Jacobi SVD of a [n, p] (n ≥ p): returns singular values (descending) and right singular vectors
    /// V [p, p] (columns, same order).
    /// </summary>
    public static (double[] S, double[,] V) Svd(double[,] a)
    {
        int n = a.GetLength(0), p = a.GetLength(1);
        var u = (double[,])a.Clone();
        var v = new double[p, p];
        for (int i = 0; i < p; i++)
            v[i, i] = 1;
        for (int sweep = 0; sweep < 60; sweep++)
        {
            double off = 0;
            for (int j = 0; j < p - 1; j++)
            {
                for (int k = j + 1; k < p; k++)
                {
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int i = 0; i < n; i++)
                    {
                        alpha += u[i, j] * u[i, j];
                        beta += u[i, k] * u[i, k];
                        gamma += u[i, j] * u[i, k];
                    }
                    if (Math.Abs(gamma) <= 1e-15 * Math.Sqrt(alpha * beta))
                        continue;
                    off = Math.Max(off, Math.Abs(gamma) / Math.Sqrt(alpha * beta));
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.Sign(zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    if (zeta == 0)
                        t = 1;
                    double c = 1 / Math.Sqrt(1 + t * t), s = c * t;
                    for (int i = 0; i < n; i++)
                    {
                        double x = u[i, j], y = u[i, k];
                        u[i, j] = c * x - s * y;
                        u[i, k] = s * x + c * y;
                    }
                    for (int i = 0; i < p; i++)
                    {
                        double x = v[i, j], y = v[i, k];
                        v[i, j] = c * x - s * y;
                        v[i, k] = s * x + c * y;
                    }
                }
            }
            if (off < 1e-15)
                break;
        }
        var sv = new double[p];
        for (int j = 0; j < p; j++)
        {
            double norm = 0;
            for (int i = 0; i < n; i++)
                norm += u[i, j] * u[i, j];
            sv[j] = Math.Sqrt(norm);
        }
        var order = Enumerable.Range(0, p).OrderByDescending(j => sv[j]).ToArray();
        var vs = new double[p, p];
        for (int c = 0; c < p; c++)
            for (int r = 0; r < p; r++)
                vs[r, c] = v[r, order[c]];
        return (order.Select(j => sv[j]).ToArray(), vs);
    }

    /// <summary>The SVD step: centred data projected on its top-k right singular vectors, [n, k].</summary>
    public static double[,] SvdReduce(double[,] a, int k)
    {
        var c = Centre(a);
        var (_, v) = Svd(c);
        var vk = new double[v.GetLength(0), k];
        for (int i = 0; i < v.GetLength(0); i++)
            for (int j = 0; j < k; j++)
                vk[i, j] = v[i, j];
        return Multiply(c, vk);
    }

    /// <summary>QR-based CCA: ρ = singular values of Q_AᵀQ_B (descending), min(p, q) of them.</summary>
    public static double[] QrCca(double[,] a, double[,] b)
    {
        var qa = Qr(Centre(a));
        var qb = Qr(Centre(b));
        var m = Multiply(Transpose(qa), qb);
        if (m.GetLength(0) < m.GetLength(1))
            m = Transpose(m);
        return Svd(m).S;
    }

    public static double Correlation(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.Sqrt(sxx * syy);
    }

    public static double[] Column(double[,] m, int j) => Enumerable.Range(0, m.GetLength(0)).Select(i => m[i, j]).ToArray();

    public static torch.Tensor ToTensor(double[,] m)
    {
        var flat = new double[m.Length];
        Buffer.BlockCopy(m, 0, flat, 0, flat.Length * sizeof(double));
        return torch.tensor(flat, [m.GetLength(0), m.GetLength(1)], torch.ScalarType.Float64);
    }

    public static double[,] ToMatrix(torch.Tensor t)
    {
        var flat = Components.Core.Tensors.TensorData.ToDoubleArray(t);
        var m = new double[t.shape[0], t.shape[1]];
        Buffer.BlockCopy(flat, 0, m, 0, flat.Length * sizeof(double));
        return m;
    }

    /// <summary>
    /// Two representations sharing a k-dimensional latent: A = Z·Wa + noise·Ea, B = Z·Wb + noise·Eb, with column
    /// scales decaying so the SVD step has a clear spectrum.
    /// </summary>
    public static (double[,] A, double[,] B) SharedLatent(Random rng, int n, int p, int q, int k, double noise)
    {
        var z = Gaussian(rng, n, k);
        var a = Add(Multiply(z, Gaussian(rng, k, p)), Gaussian(rng, n, p, noise));
        var b = Add(Multiply(z, Gaussian(rng, k, q)), Gaussian(rng, n, q, noise));
        return (a, b);
    }
}
