using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Core.Data;

/// <summary>Small synthetic datasets for tests and samples (deterministic for a seed).</summary>
public static class SyntheticData
{
    /// <summary>A row with a feature vector and a class name.</summary>
    public sealed class LabeledRow
    {
        /// <summary>Features.</summary>
        public float[] Features { get; set; } = [];

        /// <summary>Class name ("c0", "c1", …) or regression target text.</summary>
        public string Label { get; set; } = "";

        /// <summary>Regression target.</summary>
        public float Target { get; set; }
    }

    /// <summary>
    /// Gaussian blobs: <paramref name="classes"/> centres drawn N(0, separation²·I) in <paramref name="dimension"/>
    /// dimensions, unit-variance noise around them; rows cycle through the classes. Returns <c>Features</c>
    /// (Single[dimension]), <c>Label</c> (key with values c0, c1, …) and <c>Target</c> (Single: the class index plus
    /// the first feature, for regression).
    /// </summary>
    public static IDataView GaussianBlobs(MLContext mlContext, int rows, int dimension, int classes, double separation = 3.0, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        var rng = new Random(seed);
        var centres = new double[classes, dimension];
        for (int c = 0; c < classes; c++)
        {
            for (int j = 0; j < dimension; j++)
                centres[c, j] = separation * Normal(rng);
        }
        var list = new List<LabeledRow>(rows);
        for (int i = 0; i < rows; i++)
        {
            int c = i % classes;
            var f = new float[dimension];
            for (int j = 0; j < dimension; j++)
                f[j] = (float)(centres[c, j] + Normal(rng));
            list.Add(new LabeledRow { Features = f, Label = $"c{c}", Target = c + f[0] });
        }
        var schema = SchemaDefinition.Create(typeof(LabeledRow));
        schema[nameof(LabeledRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        var data = mlContext.Data.LoadFromEnumerable(list, schema);
        var keys = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, classes).Select(c => new { Label = $"c{c}" }));
        return mlContext.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(data).Transform(data);
    }

    /// <summary>
    /// Two views of a shared latent: A = Z·M_A + noise·E_A and B = Z·M_B + noise·E_B, with Z ~ N(0, I) of
    /// <paramref name="sharedDimensions"/> columns and random mixing matrices. Rows = datapoints, columns = neurons.
    /// The top <paramref name="sharedDimensions"/> canonical correlations are near 1 when noise is small.
    /// </summary>
    public static (double[,] A, double[,] B) CorrelatedGaussians(int rows, int dimensionA, int dimensionB, int sharedDimensions, double noise, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensionA);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensionB);
        ArgumentOutOfRangeException.ThrowIfNegative(sharedDimensions);
        ArgumentOutOfRangeException.ThrowIfNegative(noise);
        var rng = new Random(seed);
        var z = new double[rows, sharedDimensions];
        for (int i = 0; i < rows; i++)
        {
            for (int k = 0; k < sharedDimensions; k++)
                z[i, k] = Normal(rng);
        }
        double[,] View(int d)
        {
            var m = new double[sharedDimensions, d];
            for (int k = 0; k < sharedDimensions; k++)
            {
                for (int j = 0; j < d; j++)
                    m[k, j] = Normal(rng);
            }
            var x = new double[rows, d];
            for (int i = 0; i < rows; i++)
            {
                for (int j = 0; j < d; j++)
                {
                    double s = noise * Normal(rng);
                    for (int k = 0; k < sharedDimensions; k++)
                        s += z[i, k] * m[k, j];
                    x[i, j] = s;
                }
            }
            return x;
        }
        return (View(dimensionA), View(dimensionB));
    }

    /// <summary>A standard normal draw (Box–Muller).</summary>
    public static double Normal(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        double u1 = 1.0 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
