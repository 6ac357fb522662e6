using Components.Transforms.Svcca;
using TorchSharp;
using static Components.Tests.Transforms.Svcca.SvccaReferenceCca;

namespace Components.Tests.Transforms.Svcca;

public sealed class SvccaMathTests
{
    private static double[,] Decaying(Random rng, int n, int p)
        => ScaleColumns(Gaussian(rng, n, p), Enumerable.Range(0, p).Select(j => Math.Pow(0.8, j)).ToArray());

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<double> actual, double tol)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"ρ[{i}]: {actual[i]} vs {expected[i]} (tol {tol})");
    }

    [Fact]
    public void CcaOfAnInvertibleLinearTransformIsAllOnes()
    {
        var rng = new Random(1);
        var a = Gaussian(rng, 300, 10);
        var t = Add(Gaussian(rng, 10, 10, 0.5), ScaleColumns(Identity(10), Enumerable.Repeat(2.0, 10).ToArray()));
        var r = SvccaAnalysis.Compute(a, Multiply(a, t), SvccaSettings.Cca);
        Assert.Equal(10, r.Components);
        Assert.All(r.Coefficients, rho => Assert.InRange(rho, 1 - 1e-9, 1.0));
        Assert.Equal(1.0, r.Mean, 9);
        Assert.Equal(1.0, r.Pwcca, 9);
    }

    [Fact]
    public void SvccaIsInvariantToOrthogonalTransformsPermutationsAndScaling()
    {
        var rng = new Random(2);
        var (a, b) = SharedLatent(rng, 400, 12, 9, 4, 0.3);
        a = Add(a, Decaying(rng, 400, 12));
        var settings = SvccaSettings.Default with { VarianceFraction = 0.9 };
        var baseline = SvccaAnalysis.Compute(a, b, settings);
        Assert.True(baseline.KeptA < 12, "the SVD step should cut directions for this test to mean something");

        var rotated = SvccaAnalysis.Compute(Multiply(a, RandomOrthogonal(rng, 12)), b, settings);
        AssertClose(baseline.Coefficients, rotated.Coefficients, 1e-9);
        Assert.Equal(baseline.KeptA, rotated.KeptA);

        var perm = Enumerable.Range(0, 12).OrderBy(_ => rng.Next()).ToArray();
        var permuted = new double[400, 12];
        for (int i = 0; i < 400; i++)
            for (int j = 0; j < 12; j++)
                permuted[i, j] = a[i, perm[j]];
        AssertClose(baseline.Coefficients, SvccaAnalysis.Compute(permuted, b, settings).Coefficients, 1e-9);

        var scaled = ScaleColumns(a, Enumerable.Repeat(37.5, 12).ToArray());
        AssertClose(baseline.Coefficients, SvccaAnalysis.Compute(scaled, b, settings).Coefficients, 1e-9);

        // Plain CCA is invariant to any per-neuron scaling (any invertible map), SVCCA is not required to be.
        var cca = SvccaAnalysis.Compute(a, b, SvccaSettings.Cca);
        var perNeuron = ScaleColumns(a, Enumerable.Range(0, 12).Select(j => 0.1 + j).ToArray());
        AssertClose(cca.Coefficients, SvccaAnalysis.Compute(perNeuron, b, SvccaSettings.Cca).Coefficients, 1e-9);
    }

    [Fact]
    public void CoefficientsAreSymmetricBoundedSortedAndMinOfKeptDimensions()
    {
        var rng = new Random(3);
        var (a, b) = SharedLatent(rng, 500, 14, 8, 3, 0.5);
        foreach (var settings in new[] { SvccaSettings.Default, SvccaSettings.Cca, SvccaSettings.Default with { Dimensions = 5 } })
        {
            var ab = SvccaAnalysis.Compute(a, b, settings);
            var ba = SvccaAnalysis.Compute(b, a, settings);
            AssertClose(ab.Coefficients, ba.Coefficients, 1e-10);
            Assert.Equal(Math.Min(ab.KeptA, ab.KeptB), ab.Components);
            Assert.Equal(ab.KeptA, ba.KeptB);
            for (int i = 0; i < ab.Components; i++)
            {
                Assert.InRange(ab.Coefficients[i], 0.0, 1.0);
                if (i > 0)
                    Assert.True(ab.Coefficients[i] <= ab.Coefficients[i - 1]);
            }
        }
    }

    [Fact]
    public void IndependentGaussiansGiveAMeanThatFallsAsDatapointsGrow()
    {
        var rng = new Random(4);
        var means = new List<double>();
        foreach (int n in new[] { 41, 100, 200, 500, 1000, 4000 })
            means.Add(SvccaAnalysis.Compute(Gaussian(rng, n, 40), Gaussian(rng, n, 40), SvccaSettings.Cca).Mean);
        for (int i = 1; i < means.Count; i++)
            Assert.True(means[i] < means[i - 1], $"mean ρ did not fall: {string.Join(", ", means)}");
        Assert.True(means[0] > 0.5, $"with N barely above the neurons ρ should be large, got {means[0]}");
        Assert.True(means[^1] < 0.15, $"with N = 4000 ≫ 40 neurons ρ should be small, got {means[^1]}");
    }

    [Fact]
    public void ASharedLatentGivesThatManyCoefficientsNearOne()
    {
        var rng = new Random(5);
        var (a, b) = SharedLatent(rng, 2000, 10, 12, 3, 0.05);
        var r = SvccaAnalysis.Compute(a, b, SvccaSettings.Cca);
        for (int i = 0; i < 3; i++)
            Assert.True(r.Coefficients[i] > 0.98, $"ρ[{i}] = {r.Coefficients[i]}");
        for (int i = 3; i < r.Components; i++)
            Assert.True(r.Coefficients[i] < 0.2, $"ρ[{i}] = {r.Coefficients[i]} should be at the noise level");
    }

    [Fact]
    public void AgreesWithAnIndependentQrBasedCcaInFloat64()
    {
        var rng = new Random(6);
        var (a, b) = SharedLatent(rng, 500, 12, 9, 4, 0.7);
        AssertClose(QrCca(a, b), SvccaAnalysis.Compute(a, b, SvccaSettings.Cca).Coefficients, 1e-6);

        // With the SVD step (fixed k on a spectrum with clear gaps): Jacobi SVD, then QR-based CCA.
        var (c, d) = (Decaying(rng, 500, 12), Decaying(rng, 500, 9));
        d = Add(d, Multiply(c, Gaussian(rng, 12, 9, 0.3)));
        var ours = SvccaAnalysis.Compute(c, d, SvccaSettings.Default with { Dimensions = 6 });
        AssertClose(QrCca(SvdReduce(c, 6), SvdReduce(d, 6)), ours.Coefficients, 1e-6);
    }

    [Fact]
    public void VarianceFractionIsComputedOnSquaredSingularValues()
    {
        var rng = new Random(7);
        var a = Decaying(rng, 600, 10);
        var b = Gaussian(rng, 600, 5);
        var (s, _) = Svd(Centre(a));
        double total = s.Sum(x => x * x);
        foreach (var fraction in new[] { 0.5, 0.8, 0.95 })
        {
            int expected = 0;
            double cum = 0;
            while (cum < fraction * total)
                cum += s[expected] * s[expected++];
            var r = SvccaAnalysis.Compute(a, b, SvccaSettings.Default with { VarianceFraction = fraction });
            Assert.Equal(expected, r.KeptA);
            Assert.Equal(cum / total, r.VarianceKeptA, 9);
        }
    }

    [Fact]
    public void CanonicalVariatesAreWhiteAndCorrelateByRho()
    {
        var rng = new Random(8);
        var (a, b) = SharedLatent(rng, 800, 7, 6, 2, 0.5);
        var r = SvccaAnalysis.Compute(a, b, SvccaSettings.Cca);
        using var ta = ToTensor(a);
        using var tb = ToTensor(b);
        using var za = r.Project(ta, SvccaSide.A);
        using var zb = r.Project(tb, SvccaSide.B);
        var ma = ToMatrix(za);
        var mb = ToMatrix(zb);
        for (int i = 0; i < r.Components; i++)
        {
            var x = Column(ma, i);
            Assert.Equal(1.0, Variance(x), 8);
            Assert.Equal(r.Coefficients[i], Correlation(x, Column(mb, i)), 8);
            for (int j = 0; j < i; j++)
                Assert.Equal(0.0, Correlation(x, Column(ma, j)), 8);
        }
    }

    [Fact]
    public void PwccaWeightsEqualTheQrDefinitionAndUseTheSideWithFewerDimensions()
    {
        var rng = new Random(9);
        var (a, b) = SharedLatent(rng, 600, 6, 10, 3, 0.6);
        var r = SvccaAnalysis.Compute(a, b, SvccaSettings.Cca);
        Assert.Equal(SvccaSide.A, r.PwccaSide);

        // Paper definition: Q = QR(canonical variates of A).Q, αᵢ ∝ Σⱼ |⟨Qᵢ, centred neuron j of A⟩|.
        using var ta = ToTensor(a);
        var q = Qr(ToMatrix(r.Project(ta, SvccaSide.A)));
        var ac = Centre(a);
        var alpha = new double[r.Components];
        for (int i = 0; i < r.Components; i++)
            for (int j = 0; j < 6; j++)
                alpha[i] += Math.Abs(Enumerable.Range(0, 600).Sum(t => q[t, i] * ac[t, j]));
        double sum = alpha.Sum();
        AssertClose(alpha.Select(x => x / sum).ToArray(), r.PwccaWeights, 1e-8);
        Assert.Equal(alpha.Zip(r.Coefficients, (w, rho) => w / sum * rho).Sum(), r.Pwcca, 8);

        // Swapping the arguments picks the same (smaller) side: the reference's else-branch bug would not.
        var swapped = SvccaAnalysis.Compute(b, a, SvccaSettings.Cca);
        Assert.Equal(SvccaSide.B, swapped.PwccaSide);
        Assert.Equal(r.Pwcca, swapped.Pwcca, 9);
        Assert.Equal(r.Pwcca, SvccaAnalysis.Pwcca(ta, ToTensor(b)), 12);
    }

    [Fact]
    public void ThresholdMeanFollowsTheReferenceSumThreshold()
    {
        // ρ = [1, .5, .3], Σ = 1.8: prefix sums 0, 1, 1.5 → first i with Σρ[:i] ≥ .6·1.8 = 1.08 is i = 2.
        Assert.Equal(2, SvccaResult.ThresholdIndex([1, 0.5, 0.3], 0.6));
        Assert.Equal(3, SvccaResult.ThresholdIndex([1, 0.5, 0.3], 0.98));
        Assert.Equal(1, SvccaResult.ThresholdIndex([1, 0, 0], 0.98));
        var rng = new Random(10);
        var (a, b) = SharedLatent(rng, 400, 8, 8, 2, 1.0);
        var r = SvccaAnalysis.Compute(a, b, SvccaSettings.Cca);
        double total = r.Coefficients.Sum();
        int idx = r.ThresholdCount;
        Assert.True(r.Coefficients.Take(idx).Sum() >= 0.98 * total - 1e-12);
        Assert.True(r.Coefficients.Take(idx - 1).Sum() < 0.98 * total);
        Assert.Equal(r.Coefficients.Take(idx).Average(), r.ThresholdMean, 12);
    }

    [Fact]
    public void EpsilonRegularisationShrinksCoefficients()
    {
        var rng = new Random(11);
        var a = Gaussian(rng, 300, 6);
        var t = Add(Identity(6), Gaussian(rng, 6, 6, 0.2));
        var plain = SvccaAnalysis.Compute(a, Multiply(a, t), SvccaSettings.Cca);
        var reg = SvccaAnalysis.Compute(a, Multiply(a, t), SvccaSettings.Cca with { Epsilon = 1e-2 });
        Assert.All(reg.Coefficients.Zip(plain.Coefficients), p => Assert.True(p.First < p.Second - 1e-6));
    }

    [Fact]
    public void ConstantNeuronsAreDroppedAsNullDirections()
    {
        var rng = new Random(12);
        var (a, b) = SharedLatent(rng, 300, 5, 6, 2, 0.5);
        var withConst = new double[300, 7];
        for (int i = 0; i < 300; i++)
        {
            for (int j = 0; j < 5; j++)
                withConst[i, j] = a[i, j];
            withConst[i, 5] = 3.25;
            withConst[i, 6] = 0;
        }
        var r = SvccaAnalysis.Compute(withConst, b, SvccaSettings.Cca);
        Assert.Equal(5, r.KeptA);
        AssertClose(SvccaAnalysis.Compute(a, b, SvccaSettings.Cca).Coefficients, r.Coefficients, 1e-9);
    }

    [Theory]
    [InlineData(1e-7)]
    [InlineData(1e7)]
    public void PlainCcaIsInvariantToRescalingOneNeuron(double factor)
    {
        // CCA is invariant to any invertible per-neuron scaling; a neuron 1e-7 (or 1e7) times the scale of the others
        // must not be taken for a null direction (nor make the others look null).
        var rng = new Random(21);
        var (a, b) = SharedLatent(rng, 300, 5, 6, 3, 0.5);
        var scales = Enumerable.Repeat(1.0, 5).ToArray();
        scales[2] = factor;
        var reference = SvccaAnalysis.Compute(a, b, SvccaSettings.Cca);
        var rescaled = SvccaAnalysis.Compute(ScaleColumns(a, scales), b, SvccaSettings.Cca);
        Assert.Equal(5, rescaled.KeptA);
        AssertClose(reference.Coefficients, rescaled.Coefficients, 1e-9);
        // Through the streaming accumulator in batches, and on side B, the same.
        using var acc = new SvccaAccumulator(6, 5);
        for (int start = 0; start < 300; start += 70)
        {
            int rows = Math.Min(70, 300 - start);
            using var tb = ToTensor(b).narrow(0, start, rows);
            using var ta = ToTensor(ScaleColumns(a, scales)).narrow(0, start, rows);
            acc.Add(tb, ta);
        }
        var streamed = acc.Compute(SvccaSettings.Cca);
        Assert.Equal(5, streamed.KeptB);
        AssertClose(reference.Coefficients, streamed.Coefficients, 1e-9);
        // The reference CCA (QR of the centred data, no null-direction test) agrees.
        AssertClose(QrCca(Centre(ScaleColumns(a, scales)), Centre(b)), rescaled.Coefficients, 1e-8);
    }

    [Fact]
    public void ConstantAndDuplicateNeuronsStayNullWhateverTheirScale()
    {
        // Constant neurons (also with a large or inexact mean, streamed in batches) and duplicates (also rescaled by
        // 1e-7) are null directions; a small but varying neuron is not.
        var rng = new Random(22);
        var (a, b) = SharedLatent(rng, 300, 5, 6, 2, 0.5);
        var wide = new double[300, 9];
        for (int i = 0; i < 300; i++)
        {
            for (int j = 0; j < 5; j++)
                wide[i, j] = a[i, j];
            wide[i, 5] = 0.1;                 // constant, not exactly representable
            wide[i, 6] = 1e6;                 // constant, large
            wide[i, 7] = 1e-7 * a[i, 1];      // duplicate of neuron 1, rescaled
            wide[i, 8] = a[i, 0] + a[i, 3];   // linear combination
        }
        var reference = SvccaAnalysis.Compute(a, b, SvccaSettings.Cca);
        var r = SvccaAnalysis.Compute(wide, b, SvccaSettings.Cca);
        Assert.Equal(5, r.KeptA);
        AssertClose(reference.Coefficients, r.Coefficients, 1e-9);
        using var acc = new SvccaAccumulator(9, 6);
        for (int start = 0; start < 300; start += 64)
        {
            int rows = Math.Min(64, 300 - start);
            using var ta = ToTensor(wide).narrow(0, start, rows);
            using var tb = ToTensor(b).narrow(0, start, rows);
            acc.Add(ta, tb);
        }
        var streamed = acc.Compute(SvccaSettings.Cca);
        Assert.Equal(5, streamed.KeptA);
        AssertClose(reference.Coefficients, streamed.Coefficients, 1e-9);

        var onlyConstants = new double[300, 2];
        for (int i = 0; i < 300; i++)
            (onlyConstants[i, 0], onlyConstants[i, 1]) = (0.1, -7);
        var ex = Assert.Throws<InvalidOperationException>(() => SvccaAnalysis.Compute(onlyConstants, b, SvccaSettings.Cca));
        Assert.Contains("no variance", ex.Message);
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var rng = new Random(13);
        var a = Gaussian(rng, 50, 4);
        var ex1 = Assert.Throws<ArgumentException>(() => SvccaAnalysis.Compute(a, Gaussian(rng, 49, 4)));
        Assert.Contains("50 datapoints", ex1.Message);
        var ex2 = Assert.Throws<ArgumentException>(() => SvccaAnalysis.Compute(Gaussian(rng, 20, 30), Gaussian(rng, 20, 3)));
        Assert.Contains("more datapoints than neurons", ex2.Message);
        var nan = (double[,])a.Clone();
        nan[17, 2] = double.NaN;
        var ex3 = Assert.Throws<InvalidOperationException>(() => SvccaAnalysis.Compute(a, nan));
        Assert.Contains("row 17", ex3.Message);
        var constant = new double[50, 4];
        var ex4 = Assert.Throws<InvalidOperationException>(() => SvccaAnalysis.Compute(constant, a));
        Assert.Contains("no variance", ex4.Message);
        Assert.Throws<ArgumentException>(() => SvccaAnalysis.Compute(torch.zeros(5), torch.zeros(5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => SvccaAnalysis.Compute(a, a, new SvccaSettings { VarianceFraction = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SvccaAnalysis.Compute(a, a, new SvccaSettings { Dimensions = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SvccaAnalysis.Compute(a, a, new SvccaSettings { Epsilon = -1 }));
    }

    [Fact]
    public void ComputeLeaksNoTensors()
    {
        var rng = new Random(14);
        using var a = ToTensor(Gaussian(rng, 200, 6));
        using var b = ToTensor(Gaussian(rng, 200, 5));
        Harness.EstimatorHarness.AssertNoTensorLeak(() => SvccaAnalysis.Compute(a, b));
    }

    [Harness.CudaFact]
    public void CudaAgreesWithCpu()
    {
        var rng = new Random(15);
        var (a, b) = SharedLatent(rng, 500, 10, 8, 3, 0.5);
        var cpu = SvccaAnalysis.Compute(a, b);
        var gpu = SvccaAnalysis.Compute(a, b, SvccaSettings.Default with { Device = torch.CUDA });
        AssertClose(cpu.Coefficients, gpu.Coefficients, 1e-9);
    }

    private static double[,] Identity(int n)
    {
        var m = new double[n, n];
        for (int i = 0; i < n; i++)
            m[i, i] = 1;
        return m;
    }

    private static double Variance(double[] x)
    {
        double m = x.Average();
        return x.Sum(v => (v - m) * (v - m)) / (x.Length - 1);
    }
}
