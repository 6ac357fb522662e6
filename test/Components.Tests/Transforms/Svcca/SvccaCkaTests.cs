using Components.Transforms.Svcca;
using static Components.Tests.Transforms.Svcca.SvccaReferenceCca;

namespace Components.Tests.Transforms.Svcca;

public sealed class SvccaCkaTests
{
    /// <summary>CKA from N×N centred Gram matrices in plain doubles (the kernel definition, independent of the code).</summary>
    private static double GramCka(double[,] k, double[,] l)
    {
        var kc = CentreGram(k);
        var lc = CentreGram(l);
        double kl = 0, kk = 0, ll = 0;
        for (int i = 0; i < kc.GetLength(0); i++)
            for (int j = 0; j < kc.GetLength(1); j++)
            {
                kl += kc[i, j] * lc[i, j];
                kk += kc[i, j] * kc[i, j];
                ll += lc[i, j] * lc[i, j];
            }
        return kl / Math.Sqrt(kk * ll);
    }

    private static double[,] CentreGram(double[,] k) => Transpose(Centre(Transpose(Centre(k))));

    private static double[,] RbfGram(double[,] x)
    {
        int n = x.GetLength(0);
        var d2 = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int c = 0; c < x.GetLength(1); c++)
                    s += (x[i, c] - x[j, c]) * (x[i, c] - x[j, c]);
                d2[i, j] = s;
            }
        var sorted = d2.Cast<double>().OrderBy(v => v).ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
        var k = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                k[i, j] = Math.Exp(-d2[i, j] / (2 * median));
        return k;
    }

    [Fact]
    public void LinearAndRbfCkaEqualTheGramMatrixDefinition()
    {
        var rng = new Random(31);
        var (a, b) = SharedLatent(rng, 60, 5, 4, 2, 0.8);
        using var ta = ToTensor(a);
        using var tb = ToTensor(b);
        Assert.Equal(GramCka(Multiply(a, Transpose(a)), Multiply(b, Transpose(b))), Cka.Linear(ta, tb), 10);
        Assert.Equal(GramCka(RbfGram(a), RbfGram(b)), Cka.Rbf(ta, tb), 10);
    }

    [Fact]
    public void CkaIsOneForItselfAndInvariantToRotationScalingAndTranslation()
    {
        var rng = new Random(32);
        var (a, b) = SharedLatent(rng, 150, 6, 5, 3, 0.5);
        using var ta = ToTensor(a);
        using var tb = ToTensor(b);
        Assert.Equal(1.0, Cka.Linear(ta, ta), 12);
        Assert.Equal(1.0, Cka.Rbf(ta, ta), 12);
        var moved = ScaleColumns(Multiply(a, RandomOrthogonal(rng, 6)), Enumerable.Repeat(3.0, 6).ToArray());
        for (int i = 0; i < 150; i++)
            moved[i, 0] += 5;
        using var tm = ToTensor(moved);
        Assert.Equal(Cka.Linear(ta, tb), Cka.Linear(tm, tb), 10);
        Assert.Equal(Cka.Rbf(ta, tb), Cka.Rbf(tm, tb), 10);
        Assert.InRange(Cka.Linear(ta, tb), 0.0, 1.0);
        Assert.InRange(Cka.Rbf(ta, tb), 0.0, 1.0);
    }

    [Fact]
    public void CkaRejectsConstantRepresentations()
    {
        var rng = new Random(33);
        using var ta = ToTensor(Gaussian(rng, 20, 3));
        using var tc = ToTensor(new double[20, 3]);
        Assert.Throws<InvalidOperationException>(() => Cka.Linear(ta, tc));
        Assert.Throws<InvalidOperationException>(() => Cka.Rbf(ta, tc));
        Assert.Throws<ArgumentOutOfRangeException>(() => Cka.Rbf(ta, ta, bandwidth: 0));
    }
}
