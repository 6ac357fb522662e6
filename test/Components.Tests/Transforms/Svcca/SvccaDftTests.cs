using Components.Transforms.Svcca;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Transforms.Svcca;

public sealed class SvccaDftTests
{
    private static Tensor Images(long n, long h, long w, long c, int seed)
    {
        using var g = new Generator((ulong)seed);
        return torch.randn([n, h, w, c], ScalarType.Float64, generator: g);
    }

    [Fact]
    public void CircularlyShiftedAndChannelMixedCopiesCorrelatePerfectlyAtEveryFrequency()
    {
        using var scope = torch.NewDisposeScope();
        var a = Images(80, 6, 6, 4, 1);
        using var g = new Generator(2);
        var mix = torch.eye(4, dtype: ScalarType.Float64) * 2 + torch.randn([4, 4], ScalarType.Float64, generator: g) * 0.3;
        var b = torch.matmul(a.roll([2, -1], [1, 2]), mix);
        var r = DftCca.Compute(a, b);
        Assert.Equal(6, r.Height);
        Assert.Equal(6, r.Width);
        for (int i = 0; i < 6; i++)
        {
            for (int j = 0; j < 6; j++)
            {
                Assert.Equal(4, r.CoefficientsAt(i, j).Count);
                Assert.All(r.CoefficientsAt(i, j), rho => Assert.InRange(rho, 1 - 1e-9, 1.0));
            }
        }
        Assert.True(r.Minimum > 1 - 1e-9);
        Assert.True(DftCca.Compute(a, Images(80, 6, 6, 4, 3)).Mean < 0.5);
    }

    [Fact]
    public void KeptFrequenciesMatchNumpyFftfreqCrop()
    {
        // fftfreq(8)·8 = [0, 1, 2, 3, -4, -3, -2, -1]; keep -3 ≤ f < 3.
        Assert.Equal([0L, 1, 2, 5, 6, 7], DftCca.KeptFrequencies(8, 6));
        // fftfreq(7)·7 = [0, 1, 2, 3, -3, -2, -1]; keep -2.5 ≤ f < 2.5.
        Assert.Equal([0L, 1, 2, 5, 6], DftCca.KeptFrequencies(7, 5));
        Assert.Equal([0L, 1, 2, 3, 4], DftCca.KeptFrequencies(5, 5));
    }

    [Fact]
    public void DifferentSpatialSizesKeepTheSharedFrequencies()
    {
        using var scope = torch.NewDisposeScope();
        // B = real part of the inverse DFT of A's 6×6 shared spectrum: at every frequency f with -f also kept,
        // B's coefficient is a fixed multiple of A's, so ρ = 1 there (all but the -3 row and column).
        var a = Images(60, 8, 8, 3, 4);
        var idx = torch.tensor(DftCca.KeptFrequencies(8, 6));
        var crop = torch.fft.fft2(a, dim: [1, 2]).index_select(1, idx).index_select(2, idx);
        var b = torch.fft.ifft2(crop, dim: [1, 2]).real.contiguous();
        var r = DftCca.Compute(a, b);
        Assert.Equal(6, r.Height);
        Assert.Equal(6, r.Width);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                if (i != 3 && j != 3)
                    Assert.All(r.CoefficientsAt(i, j), rho => Assert.InRange(rho, 1 - 1e-9, 1.0));
        Assert.True(r.MeanAt(3, 0) < 0.9);
    }

    [Fact]
    public void BadConvInputsGiveClearErrors()
    {
        using var scope = torch.NewDisposeScope();
        Assert.Throws<ArgumentException>(() => DftCca.Compute(torch.randn(10, 4, 4), torch.randn(10, 4, 4, 2)));
        Assert.Throws<ArgumentException>(() => DftCca.Compute(torch.randn(10, 4, 4, 2), torch.randn(9, 4, 4, 2)));
        Assert.Contains("more datapoints than neurons", Assert.Throws<ArgumentException>(() => DftCca.Compute(torch.randn(3, 4, 4, 5), torch.randn(3, 4, 4, 2))).Message);
        var nan = torch.randn(10, 4, 4, 2);
        nan[7, 1, 1, 0] = torch.tensor(float.NaN);
        Assert.Contains("row 7", Assert.Throws<InvalidOperationException>(() => DftCca.Compute(nan, torch.randn(10, 4, 4, 2))).Message);
    }
}
