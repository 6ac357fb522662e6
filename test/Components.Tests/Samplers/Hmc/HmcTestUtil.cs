using Components.Samplers.Energies;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Samplers.Hmc;

/// <summary>Shared helpers of the HMC and L2HMC tests.</summary>
internal static class HmcTestUtil
{
    public sealed class StateRow
    {
        public float[] Features { get; set; } = [];
    }

    public sealed class ScalarRow
    {
        public float Features { get; set; }
    }

    /// <summary>An IDataView with a known-size vector column <c>Features</c>.</summary>
    public static IDataView States(MLContext ml, float[][] rows, int? dimension = null)
    {
        int d = dimension ?? rows[0].Length;
        var schema = SchemaDefinition.Create(typeof(StateRow));
        schema[nameof(StateRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
        return ml.Data.LoadFromEnumerable(rows.Select(r => new StateRow { Features = r }).ToList(), schema);
    }

    /// <summary>Rows of N(0, σ²I) draws from a seeded System.Random.</summary>
    public static float[][] GaussianRows(int n, int d, int seed, double sigma = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => (float)(sigma * Normal(rng))).ToArray()).ToArray();
    }

    public static double Normal(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A correlated d-dimensional Gaussian (variances 1 + 0.5 i, covariances 0.3).</summary>
    public static EnergyFunction CorrelatedGaussian(int d)
    {
        var cov = new double[d, d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
                cov[i, j] = i == j ? 1 + 0.5 * i : 0.3;
        }
        return EnergyFunction.Gaussian(new double[d], cov);
    }

    /// <summary>Mean and covariance of the rows of <paramref name="x"/> (double precision).</summary>
    public static (double[] Mean, double[,] Cov) Moments(Tensor x)
    {
        var a = x.to_type(ScalarType.Float64).cpu();
        int n = (int)a.shape[0], d = (int)a.shape[1];
        var v = a.data<double>().ToArray();
        var mean = new double[d];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < d; j++)
                mean[j] += v[i * d + j] / n;
        }
        var cov = new double[d, d];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < d; j++)
            {
                for (int k = 0; k < d; k++)
                    cov[j, k] += (v[i * d + j] - mean[j]) * (v[i * d + k] - mean[k]) / (n - 1);
            }
        }
        return (mean, cov);
    }

    /// <summary>
    /// Asserts that the sample mean and covariance of <paramref name="x"/> (n independent draws) match the target's
    /// within <paramref name="z"/> standard errors: SE(mean_j) = √(Σ_jj/n), SE(Σ̂_jk) = √((Σ_jj Σ_kk + Σ_jk²)/n).
    /// </summary>
    public static void AssertMoments(Tensor x, double[] mean, double[,] cov, double z, string what)
    {
        int n = (int)x.shape[0], d = mean.Length;
        var (m, c) = Moments(x);
        for (int j = 0; j < d; j++)
        {
            double se = Math.Sqrt(cov[j, j] / n);
            Assert.True(Math.Abs(m[j] - mean[j]) <= z * se, $"{what}: mean[{j}] = {m[j]:G4}, expected {mean[j]:G4} ± {z * se:G3}.");
            for (int k = 0; k < d; k++)
            {
                double sek = Math.Sqrt((cov[j, j] * cov[k, k] + cov[j, k] * cov[j, k]) / n);
                Assert.True(Math.Abs(c[j, k] - cov[j, k]) <= z * sek, $"{what}: cov[{j},{k}] = {c[j, k]:G4}, expected {cov[j, k]:G4} ± {z * sek:G3}.");
            }
        }
    }

    /// <summary>AR(1) chains x_t = ρ x_{t−1} + √(1−ρ²) ε_t started at stationarity: [chain][draw].</summary>
    public static double[][] Ar1(int chains, int n, double rho, int seed, double offsetPerChain = 0)
    {
        var rng = new Random(seed);
        var result = new double[chains][];
        double s = Math.Sqrt(1 - rho * rho);
        for (int c = 0; c < chains; c++)
        {
            var x = new double[n];
            x[0] = Normal(rng);
            for (int t = 1; t < n; t++)
                x[t] = rho * x[t - 1] + s * Normal(rng);
            for (int t = 0; t < n; t++)
                x[t] += c * offsetPerChain;
            result[c] = x;
        }
        return result;
    }

    /// <summary>log|det A| by Gaussian elimination with partial pivoting.</summary>
    public static double LogAbsDet(double[,] a)
    {
        int n = a.GetLength(0);
        var m = (double[,])a.Clone();
        double logDet = 0;
        for (int c = 0; c < n; c++)
        {
            int p = c;
            for (int r = c + 1; r < n; r++)
            {
                if (Math.Abs(m[r, c]) > Math.Abs(m[p, c]))
                    p = r;
            }
            if (p != c)
            {
                for (int k = 0; k < n; k++)
                    (m[c, k], m[p, k]) = (m[p, k], m[c, k]);
            }
            double pivot = m[c, c];
            logDet += Math.Log(Math.Abs(pivot));
            for (int r = c + 1; r < n; r++)
            {
                double f = m[r, c] / pivot;
                for (int k = c; k < n; k++)
                    m[r, k] -= f * m[c, k];
            }
        }
        return logDet;
    }
}
