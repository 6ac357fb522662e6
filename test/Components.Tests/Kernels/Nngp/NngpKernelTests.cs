using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using TorchSharp;
using static Components.Tests.Kernels.Nngp.NngpTestData;
using static TorchSharp.torch;

namespace Components.Tests.Kernels.Nngp;

/// <summary>Closed forms against independently computed reference values, structure (symmetry, PSD, tiling, diagonal) and bad input.</summary>
public class NngpKernelTests
{
    // Reference values from the reference notes (papers-kernels.md, section (a), oracle 3): x·x/d = 1, cosine 0.5.
    [Theory]
    [InlineData(2.0, 0.0, 1, 2.000000, 1.217996, 4.000000, 1.884662)]
    [InlineData(2.0, 0.0, 3, 2.000000, 1.476256, 8.000000, 3.475689)]
    [InlineData(1.79, 0.83, 1, 3.174900, 2.516920, 5.519800, 3.642042)]
    [InlineData(1.6, 0.2, 2, 1.512000, 1.174063, 3.976000, 2.172322)]
    public void ReluClosedFormMatchesReferenceValues(double sw, double sb, int depth, double k11, double k12, double t11, double t12)
    {
        using var kernel = new NngpKernel(new NngpArchitecture(depth, NngpNonlinearity.Relu, sw, sb));
        using var x = Pair(0.5);
        using var r = kernel.Compute(x);
        var k = ToMatrix(r.Nngp);
        var t = ToMatrix(r.Ntk!);
        Assert.Equal(k11, k[0, 0], 5e-6);
        Assert.Equal(k11, k[1, 1], 5e-6);
        Assert.Equal(k12, k[0, 1], 5e-6);
        Assert.Equal(t11, t[0, 0], 5e-6);
        Assert.Equal(t12, t[0, 1], 5e-6);
    }

    [Fact]
    public void ErfStepMatchesReferenceValues()
    {
        // One Erf step with σ_w² = 1, σ_b² = 0 maps K11 = K22 = 1, K12 = 0.5 to 0.464559 and 0.216347.
        using var kernel = new NngpKernel(new NngpArchitecture(1, NngpNonlinearity.Erf(), 1.0, 0.0));
        using var x = Pair(0.5);
        using var r = kernel.Compute(x, null, NngpOutputs.Nngp);
        var k = ToMatrix(r.Nngp);
        Assert.Equal(0.464559, k[0, 0], 5e-7);
        Assert.Equal(0.216347, k[0, 1], 5e-7);
        Assert.Null(r.Ntk);
    }

    [Fact]
    public void ErfNtkMatchesFiniteDifferenceOfTheNngpMap()
    {
        // dK'/dK12 = σ_w²·E[φ'φ'], so Θ' − K' = σ_w²·Θ·E[φ'φ'] can be checked with a central difference of the NNGP map.
        double cos = 0.3, h = 1e-5;
        double Map(double c)
        {
            using var kernel = new NngpKernel(new NngpArchitecture(1, NngpNonlinearity.Erf(1.3, 0.7, 0.2), 1.0, 0.0));
            using var x = Pair(c);
            using var r = kernel.Compute(x, null, NngpOutputs.Nngp);
            return ToMatrix(r.Nngp)[0, 1];
        }
        double derivative = (Map(cos + h) - Map(cos - h)) / (2 * h);
        using var k2 = new NngpKernel(new NngpArchitecture(1, NngpNonlinearity.Erf(1.3, 0.7, 0.2), 1.0, 0.0));
        using var xx = Pair(cos);
        using var res = k2.Compute(xx);
        double theta0 = cos;                          // Θ⁰ = K⁰ = x·x'/d
        double ntk = ToMatrix(res.Ntk!)[0, 1], nngp = ToMatrix(res.Nngp)[0, 1];
        Assert.Equal(derivative * theta0, ntk - nngp, 1e-7);
    }

    [Fact]
    public void ABReluIdentitiesHold()
    {
        using var x = Gaussian(9, 5, 3);
        using var relu = new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.Relu, 1.7, 0.3));
        using var ab = new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.ABRelu(0, 1), 1.7, 0.3));
        using var r1 = relu.Compute(x);
        using var r2 = ab.Compute(x);
        Assert.True(BitEqual(r1.Nngp, r2.Nngp));
        // φ(x) = -ReLU(-x) = ABReLU(1, 0) has the same kernel as ReLU (the Gaussian is symmetric).
        using var flipped = new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.ABRelu(1, 0), 1.7, 0.3));
        using var r3 = flipped.Compute(x);
        Assert.True(MaxAbsDiff(r1.Nngp, r3.Nngp) < 1e-12);
        Assert.True(MaxAbsDiff(r1.Ntk!, r3.Ntk!) < 1e-12);
        // Abs = ABReLU(-1, 1): E|u||v| at c = 0 is (2/π)·√(q1q2).
        using var abs = new NngpKernel(new NngpArchitecture(1, NngpNonlinearity.Abs, 1.0, 0.0));
        using var orth = Pair(0.0);
        using var r4 = abs.Compute(orth);
        Assert.Equal(2 / Math.PI, ToMatrix(r4.Nngp)[0, 1], 1e-12);
        Assert.Equal(1.0, ToMatrix(r4.Nngp)[0, 0], 1e-12);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TensorPathMatchesFusedCpuPath(bool erf)
    {
        var phi = erf ? NngpNonlinearity.Erf(1.2, 0.8, 0.1) : NngpNonlinearity.LeakyRelu(0.2);
        var arch = new NngpArchitecture(3, phi, 1.5, 0.2);
        using var x = Gaussian(21, 7, 5);
        using var y = Gaussian(13, 7, 6);
        using var fused = new NngpKernel(arch);
        using var tensor = new NngpKernel(arch, new NngpKernelOptions { ForceTensorPath = true, TileSize = 8 });
        using var a = fused.Compute(x, y);
        using var b = tensor.Compute(x, y);
        Assert.True(MaxAbsDiff(a.Nngp, b.Nngp) < 1e-12);
        Assert.True(MaxAbsDiff(a.Ntk!, b.Ntk!) < 1e-12);
        using var c = fused.Compute(x);
        using var e = tensor.Compute(x);
        Assert.True(MaxAbsDiff(c.Nngp, e.Nngp) < 1e-12);
        Assert.True(MaxAbsDiff(c.Ntk!, e.Ntk!) < 1e-12);
    }

    [Fact]
    public void VectorArcFunctionsMatchTheRuntime()
    {
        double worstCos = 0, worstSin = 0;
        for (int i = -20000; i <= 20000; i++)
        {
            double x = i / 20000.0;
            worstCos = Math.Max(worstCos, Math.Abs(NngpVectorMath.Acos(x) - Math.Acos(x)));
            worstSin = Math.Max(worstSin, Math.Abs(NngpVectorMath.Asin(x) - Math.Asin(x)));
        }
        foreach (double x in new[] { 1.0, -1.0, 1 - 1e-16, 0.5, -0.5, 1e-300, 0.0 })
        {
            Assert.Equal(Math.Acos(x), NngpVectorMath.Acos(x), 1e-15);
            Assert.Equal(Math.Asin(x), NngpVectorMath.Asin(x), 1e-15);
        }
        Assert.True(worstCos < 1e-15, $"acos error {worstCos}");
        Assert.True(worstSin < 1e-15, $"asin error {worstSin}");
    }

    [Fact]
    public void KernelIsSymmetricAndPositiveSemidefinite()
    {
        using var x = Gaussian(40, 6, 11);
        foreach (var phi in new[] { NngpNonlinearity.Relu, NngpNonlinearity.Erf() })
        {
            using var kernel = new NngpKernel(new NngpArchitecture(3, phi, 1.8, 0.1), new NngpKernelOptions { TileSize = 12 });
            using var r = kernel.Compute(x);
            foreach (var m in new[] { r.Nngp, r.Ntk! })
            {
                Assert.True(BitEqual(m, m.T.contiguous()), "K(X, X) must be exactly symmetric.");
                using var eig = torch.linalg.eigvalsh(m);
                double min = eig.min().item<double>(), max = eig.max().item<double>();
                Assert.True(min > -1e-10 * max, $"{phi}: smallest eigenvalue {min} (largest {max}).");
            }
            using var y = Gaussian(17, 6, 12);
            using var xy = kernel.Compute(x, y);
            using var yx = kernel.Compute(y, x);
            Assert.True(BitEqual(xy.Nngp, yx.Nngp.T.contiguous()));
            Assert.True(BitEqual(xy.Ntk!, yx.Ntk!.T.contiguous()));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    public void TiledEqualsUntiledExactly(int tile)
    {
        using var x = Gaussian(37, 13, 21);
        using var y = Gaussian(23, 13, 22);
        var arch = new NngpArchitecture(3, NngpNonlinearity.Relu, 2.0, 0.05, inputLayerNorm: true);
        using var whole = new NngpKernel(arch, new NngpKernelOptions { TileSize = 10_000 });
        using var tiled = new NngpKernel(arch, new NngpKernelOptions { TileSize = tile });
        using var a = whole.Compute(x);
        using var b = tiled.Compute(x);
        Assert.Equal(37, a.TileSize);
        Assert.Equal(tile, b.TileSize);
        Assert.True(BitEqual(a.Nngp, b.Nngp));
        Assert.True(BitEqual(a.Ntk!, b.Ntk!));
        using var c = whole.Compute(x, y);
        using var d = tiled.Compute(x, y);
        Assert.True(BitEqual(c.Nngp, d.Nngp));
        Assert.True(BitEqual(c.Ntk!, d.Ntk!));
        // The symmetric path equals the general path on (x, copy of x).
        using var xc = x.clone();
        using var e = tiled.Compute(x, xc);
        Assert.True(BitEqual(a.Nngp, e.Nngp));
        Assert.True(BitEqual(a.Ntk!, e.Ntk!));
    }

    [Fact]
    public void AutomaticTileSizeFollowsTheMemoryBudgetWithoutChangingResults()
    {
        // Behaviour, not the heuristic's constants: a larger budget never gives a smaller tile, a tiny budget splits the
        // work into several tiles where a huge one needs fewer, no tile exceeds the inputs, and the values are the same
        // whatever the tiling.
        using var x = Gaussian(300, 9, 5);
        var arch = new NngpArchitecture(2, NngpNonlinearity.Relu, 2.0, 0.1);
        NngpKernelResult? reference = null;
        int previous = 0, smallest = 0;
        try
        {
            foreach (long budget in new[] { 1L, 1L << 16, 1L << 20, 1L << 24, 1L << 40 })
            {
                using var kernel = new NngpKernel(arch, new NngpKernelOptions { MemoryBudgetBytes = budget });
                var r = kernel.Compute(x);
                Assert.InRange(r.TileSize, 1, 300);
                Assert.True(r.TileSize >= previous, $"budget {budget}: tile {r.TileSize} after {previous} for a smaller budget");
                if (previous == 0)
                    smallest = r.TileSize;
                previous = r.TileSize;
                if (reference is null)
                {
                    reference = r;
                    continue;
                }
                Assert.True(BitEqual(reference.Nngp, r.Nngp) && BitEqual(reference.Ntk!, r.Ntk!), $"budget {budget} changed the values");
                r.Dispose();
            }
            Assert.True(smallest < previous, $"a 1-byte budget gave tile {smallest}, a 1 TiB budget {previous}");
            using var wide = new NngpKernel(arch, new NngpKernelOptions { MemoryBudgetBytes = 1L << 40 });
            using var y = Gaussian(7, 9, 6);
            using var small = Gaussian(30, 9, 7);
            using var rect = wide.Compute(small, y);
            Assert.InRange(rect.TileSize, 1, 30);
        }
        finally
        {
            reference?.Dispose();
        }
    }

    [Theory]
    [InlineData(NngpIntegration.ClosedForm)]
    [InlineData(NngpIntegration.GaussHermite)]
    public void DiagonalPathEqualsDiagonalOfFullKernel(NngpIntegration integration)
    {
        using var x = Gaussian(19, 4, 31);
        using var kernel = new NngpKernel(new NngpArchitecture(4, NngpNonlinearity.Erf(), 1.4, 0.3),
            new NngpKernelOptions { Integration = integration, GaussHermiteDegree = 12, TileSize = 7 });
        using var full = kernel.Compute(x);
        using var diag = kernel.ComputeDiagonal(x);
        Assert.True(diag.IsDiagonal);
        Assert.True(BitEqual(full.Nngp.diagonal().contiguous(), diag.Nngp));
        Assert.True(BitEqual(full.Ntk!.diagonal().contiguous(), diag.Ntk!));
        Assert.True(BitEqual(full.Cov1, diag.Nngp));
        if (integration == NngpIntegration.ClosedForm)
        {
            // Without the symmetric shortcut the diagonal entries come out of the recursion at c = 1: still identical.
            using var copy = x.clone();
            using var cross = kernel.Compute(x, copy);
            Assert.True(BitEqual(cross.Nngp.diagonal().contiguous(), diag.Nngp));
            Assert.True(BitEqual(cross.Ntk!.diagonal().contiguous(), diag.Ntk!));
        }
    }

    [Fact]
    public void DeepReluDiagonalConvergesToTheFixedPoint()
    {
        // q* = σ_b² / (1 − σ_w²/2) = 4 for σ_w² = 1.9, σ_b² = 0.2 (brain-research/nngp testGetVarFixedPoint).
        double expected = 0.2 / (1 - 1.9 / 2);
        Assert.Equal(expected, MeanField.FixedPoint(NngpNonlinearity.Relu, 1.9, 0.2), 1e-4);
        using var kernel = new NngpKernel(new NngpArchitecture(400, NngpNonlinearity.Relu, 1.9, 0.2, inputLayerNorm: true));
        using var x = Gaussian(3, 10, 41);
        using var diag = kernel.ComputeDiagonal(x, NngpOutputs.Nngp);
        foreach (var v in TensorData.ToDoubleArray(diag.Nngp))
            Assert.Equal(expected, v, 1e-4);
        Assert.Equal(2.0, MeanField.CriticalWeightVariance(NngpNonlinearity.Relu, 0.3), 12);
        Assert.Equal(1.0, MeanField.Chi1(NngpNonlinearity.Relu, 2.0, 0.0), 12);
        double erfCritical = MeanField.CriticalWeightVariance(NngpNonlinearity.Erf(), 0.05);
        Assert.Equal(1.0, MeanField.Chi1(NngpNonlinearity.Erf(), erfCritical, 0.05), 6);
        Assert.True(double.IsPositiveInfinity(MeanField.FixedPoint(NngpNonlinearity.Relu, 2.5, 0.1)));
    }

    [Fact]
    public void RescalingPreservesTheKernelAndPreventsOverflow()
    {
        using var x = Gaussian(6, 5, 51);
        var arch = new NngpArchitecture(12, NngpNonlinearity.Relu, 3.0, 0.4);
        using var plain = new NngpKernel(arch);
        using var scaled = new NngpKernel(arch, new NngpKernelOptions { Rescale = true });
        using var a = plain.Compute(x);
        using var b = scaled.Compute(x);
        Assert.Equal(0.0, a.LogScale);
        Assert.True(b.LogScale > 0);
        using var back = b.Nngp * Math.Exp(b.LogScale);
        using var backT = b.Ntk! * Math.Exp(b.LogScale);
        using var relK = ((back - a.Nngp).abs() / a.Nngp.abs()).max();
        using var relT = ((backT - a.Ntk!).abs() / a.Ntk!.abs()).max();
        Assert.True(relK.item<double>() < 1e-12 && relT.item<double>() < 1e-12);

        // σ_w² = 4: the diagonal doubles per layer and overflows float64 near depth 1024.
        var deep = new NngpArchitecture(1500, NngpNonlinearity.Relu, 4.0, 0.1);
        using var overflow = new NngpKernel(deep);
        Assert.Throws<InvalidOperationException>(() => overflow.Compute(x));
        using var rescaled = new NngpKernel(deep, new NngpKernelOptions { Rescale = true });
        using var r = rescaled.Compute(x);
        Assert.True(torch.isfinite(r.Nngp).all().item<bool>() && torch.isfinite(r.Ntk!).all().item<bool>());
        Assert.True(r.LogScale > 1000 * Math.Log(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.Erf()), new NngpKernelOptions { Rescale = true }));
    }

    [Fact]
    public void Float32StorageMatchesFloat64()
    {
        using var x = Gaussian(15, 6, 61);
        var arch = new NngpArchitecture(2, NngpNonlinearity.Relu, 1.6, 0.2);
        using var k64 = new NngpKernel(arch);
        using var k32 = new NngpKernel(arch, new NngpKernelOptions { Precision = NngpPrecision.Float32, TileSize = 4 });
        using var a = k64.Compute(x);
        using var b = k32.Compute(x);
        Assert.Equal(ScalarType.Float32, b.Nngp.dtype);
        using var cast = a.Nngp.to(ScalarType.Float32);
        Assert.True(BitEqual(cast, b.Nngp));
    }

    [Fact]
    public void ZeroRowsWithoutBiasGiveZerosNotNaN()
    {
        using var x = torch.zeros([3, 4], ScalarType.Float64);
        x[1] = torch.ones(4, ScalarType.Float64);
        using var kernel = new NngpKernel(new NngpArchitecture(3, NngpNonlinearity.Relu, 2.0, 0.0, inputLayerNorm: true));
        using var r = kernel.Compute(x);
        Assert.True(torch.isfinite(r.Nngp).all().item<bool>() && torch.isfinite(r.Ntk!).all().item<bool>());
        Assert.Equal(0.0, r.Nngp.abs().max().item<double>());
    }

    [Fact]
    public void BadInputThrowsClearExceptions()
    {
        using var kernel = new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.Relu));
        using var nan = Gaussian(4, 3, 71);
        nan[2, 1] = double.NaN;
        var ex = Assert.Throws<InvalidOperationException>(() => kernel.Compute(nan));
        Assert.Contains("row 2, feature 1", ex.Message);
        using var inf = Gaussian(4, 3, 72);
        inf[0, 0] = double.PositiveInfinity;
        Assert.Throws<InvalidOperationException>(() => kernel.Compute(inf));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Compute(torch.zeros([0, 3], ScalarType.Float64)));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Compute(torch.zeros([3], ScalarType.Float64)));
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Compute(torch.zeros([2, 3], ScalarType.Int64)));
        using var a = Gaussian(4, 3, 73);
        using var b = Gaussian(4, 5, 74);
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Compute(a, b));
        using var other = new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.Relu));
        using var p = other.Prepare(a);
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Compute(p));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpArchitecture(-1, NngpNonlinearity.Relu));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpArchitecture(1, NngpNonlinearity.Relu, -1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpArchitecture(1, NngpNonlinearity.Relu, 1.0, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpKernel(new NngpArchitecture(1, NngpNonlinearity.Tanh), new NngpKernelOptions { Integration = NngpIntegration.ClosedForm }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpKernel(new NngpArchitecture(1, NngpNonlinearity.Relu), new NngpKernelOptions { Integration = NngpIntegration.LookupGrid, GridGaussPoints = 102 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NngpKernel(new NngpArchitecture(1, NngpNonlinearity.Relu), new NngpKernelOptions { TileSize = -1 }));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => kernel.Compute(a, null, NngpOutputs.Both, cts.Token));
    }

    [Fact]
    public void KernelLeaksNoTensors()
    {
        using var x = Gaussian(12, 4, 81);
        using var kernel = new NngpKernel(new NngpArchitecture(2, NngpNonlinearity.Tanh), new NngpKernelOptions { GaussHermiteDegree = 6, TileSize = 5 });
        Harness.EstimatorHarness.AssertNoTensorLeak(() =>
        {
            using var r = kernel.Compute(x);
            using var d = kernel.ComputeDiagonal(x);
        });
    }
}
