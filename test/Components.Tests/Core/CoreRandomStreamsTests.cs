using Components.Core.Randomness;
using Components.Core.Runtime;
using Microsoft.ML;
using TorchSharp;

namespace Components.Tests.Core;

public sealed class CoreRandomStreamsTests
{
    private const int Draws = 200_000;

    // |r| of two independent samples of size n has standard error 1/√n; 5 standard errors.
    private static readonly double CorrelationBound = 5 / Math.Sqrt(Draws);

    private static double[] Normals(torch.Generator g, int n)
    {
        using var t = torch.randn([n], torch.float64, generator: g);
        return t.data<double>().ToArray();
    }

    private static double Correlation(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.Sqrt(saa * sbb);
    }

    [Fact]
    public void GeneratorsOfTheSameSeedAreIdentical_WhichIsWhyPurposesAreNeeded()
    {
        // The defect the sub-streams remove: two generators seeded with the same value emit the same stream.
        using var a = new torch.Generator(7, torch.CPU);
        using var b = new torch.Generator(7, torch.CPU);
        Assert.Equal(1.0, Correlation(Normals(a, 1000), Normals(b, 1000)), 12);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-5)]
    public void PurposeStreamsOfOneSeedAreUncorrelated(int seed)
    {
        string[] purposes = ["initialization", "shuffle", "training-noise", "validation-split"];
        var streams = purposes.Select(p =>
        {
            using var g = RandomStreams.CreateGenerator(seed, p);
            return Normals(g, Draws);
        }).ToArray();
        for (int i = 0; i < streams.Length; i++)
        {
            for (int j = i + 1; j < streams.Length; j++)
            {
                Assert.True(Math.Abs(Correlation(streams[i], streams[j])) < CorrelationBound, $"{purposes[i]} vs {purposes[j]}");
                // Shifted by one draw as well: a stream must not be a lagged copy of another.
                Assert.True(Math.Abs(Correlation(streams[i][1..], streams[j][..^1])) < CorrelationBound, $"{purposes[i]} vs lagged {purposes[j]}");
            }
        }
    }

    [Fact]
    public void AStreamDependsOnSeedAndPurposeOnly()
    {
        using var a1 = RandomStreams.CreateGenerator(3, "initialization");
        using var a2 = RandomStreams.CreateGenerator(3, "initialization");
        using var otherSeed = RandomStreams.CreateGenerator(4, "initialization");
        var x1 = Normals(a1, 1000);
        Assert.Equal(x1, Normals(a2, 1000));
        Assert.True(Math.Abs(Correlation(x1, Normals(otherSeed, 1000))) < 5 / Math.Sqrt(1000));
        Assert.NotEqual(RandomStreams.DeriveSeed(3, "initialization"), RandomStreams.DeriveSeed(3, "Initialization"));
        // libtorch's CPU generator keeps the low 32 bits of the seed: those differ across seeds × purposes.
        var low = new HashSet<uint>();
        string[] purposes = ["initialization", "shuffle", "training-noise", "validation-split", "selection-subset"];
        for (int seed = -500; seed < 500; seed++)
            foreach (var p in purposes)
                Assert.True(low.Add((uint)RandomStreams.DeriveSeed(seed, p)), $"seed {seed}, purpose {p}");
        Assert.Throws<ArgumentException>(() => RandomStreams.DeriveSeed(0, ""));
    }

    [Fact]
    public void ContextGeneratorsFollowThePurposeAndContinueTheirStream()
    {
        var ml = new MLContext(seed: 0);
        using var ctx = ComponentContext.Create(ml, "RandomStreamsTest", seed: 11, device: "cpu", default);
        var init = ctx.CreateGenerator("initialization");
        Assert.Same(init, ctx.CreateGenerator("initialization"));
        var noise = ctx.CreateGenerator("training-noise");
        Assert.NotSame(init, noise);
        var first = Normals(init, 500);
        // Asking again continues the stream rather than replaying it.
        var second = Normals(ctx.CreateGenerator("initialization"), 500);
        using var reference = RandomStreams.CreateGenerator(11, "initialization");
        Assert.Equal(first, Normals(reference, 500));
        Assert.Equal(second, Normals(reference, 500));
        Assert.NotEqual(first, second);
        Assert.True(Math.Abs(Correlation(Normals(noise, Draws), Normals(ctx.CreateGenerator("shuffle"), Draws))) < CorrelationBound);
    }
}

public sealed class CoreCounterNoiseTests
{
    private static float[] RowNormals(CounterNoise noise, long row, int step, int dimension)
    {
        var v = new float[dimension];
        noise.Stream(row, step).NextNormals(v);
        return v;
    }

    [Fact]
    public void NumbersDependOnSeedRowAndStepOnly()
    {
        var a = new CounterNoise(5);
        var b = new CounterNoise(5);
        Assert.Equal(RowNormals(a, 123, 4, 7), RowNormals(b, 123, 4, 7));
        Assert.NotEqual(RowNormals(a, 123, 4, 7), RowNormals(a, 124, 4, 7));
        Assert.NotEqual(RowNormals(a, 123, 4, 7), RowNormals(a, 123, 5, 7));
        Assert.NotEqual(RowNormals(a, 123, 4, 7), RowNormals(new CounterNoise(6), 123, 4, 7));
        // A prefix of a row's normals does not depend on how many are read (batching by dimension is free).
        Assert.Equal(RowNormals(a, 9, 0, 10)[..4], RowNormals(a, 9, 0, 4));
    }

    [Fact]
    public void UniformsAndNormalsHaveTheirMomentsAndRowsAreIndependent()
    {
        var noise = new CounterNoise(1);
        const int rows = 40_000;
        var u = new double[rows];
        var z0 = new double[rows];
        var z1 = new double[rows];
        var zNextStep = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            var s = noise.Stream(r, 0);
            u[r] = s.NextUniform();
            Assert.InRange(u[r], double.Epsilon, 1 - 1e-17);
            var z = new float[2];
            s.NextNormals(z);
            z0[r] = z[0];
            z1[r] = z[1];
            zNextStep[r] = RowNormals(noise, r, 1, 1)[0];
        }
        double se = 1 / Math.Sqrt(rows);
        Assert.InRange(u.Average(), 0.5 - 5 * se * Math.Sqrt(1.0 / 12), 0.5 + 5 * se * Math.Sqrt(1.0 / 12));
        Assert.InRange(z0.Average(), -5 * se, 5 * se);
        // Var of the sample variance of N(0,1) is 2/n.
        Assert.InRange(z0.Select(x => x * x).Average(), 1 - 5 * se * Math.Sqrt(2), 1 + 5 * se * Math.Sqrt(2));
        Assert.InRange(Corr(z0, z1), -5 * se, 5 * se);           // the two values of a Box–Muller pair
        Assert.InRange(Corr(z0[1..], z0[..^1]), -5 * se, 5 * se); // neighbouring rows
        Assert.InRange(Corr(z0, zNextStep), -5 * se, 5 * se);     // the same row at the next step
    }

    [Fact]
    public void MatchesTheDocumentedFormula()
    {
        // Independent implementation of the mapping in CounterNoise's remarks (sampler models saved with a seed
        // depend on it: their rows must receive the same noise after this code moved from Samplers to Core).
        static ulong M(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
        foreach (var (seed, row, step) in new[] { (0, 0L, 0), (1, 17L, 3), (-9, 1L << 40, 250) })
        {
            ulong s = M((ulong)(uint)seed ^ 0x5DEECE66DUL);
            ulong k = M(M(s ^ ((ulong)row * 0xD1B54A32D192ED03UL)) ^ ((ulong)(uint)step * 0x8CB92BA72F3D8DD7UL));
            double Unit(ulong i) => ((M(k + (i + 1) * 0x9E3779B97F4A7C15UL) >> 11) + 0.5) * (1.0 / (1UL << 53));
            var stream = new CounterNoise(seed).Stream(row, step);
            var z = new float[3];
            stream.NextNormals(z);
            double r0 = Math.Sqrt(-2 * Math.Log(Unit(0))), r1 = Math.Sqrt(-2 * Math.Log(Unit(2)));
            Assert.Equal((float)(r0 * Math.Cos(2 * Math.PI * Unit(1))), z[0]);
            Assert.Equal((float)(r0 * Math.Sin(2 * Math.PI * Unit(1))), z[1]);
            Assert.Equal((float)(r1 * Math.Cos(2 * Math.PI * Unit(3))), z[2]);
            Assert.Equal(Unit(4), stream.NextUniform());
        }
    }

    private static double Corr(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.Sqrt(saa * sbb);
    }
}
