using Components.Transforms.Svcca;
using TorchSharp;
using static Components.Tests.Transforms.Svcca.SvccaReferenceCca;

namespace Components.Tests.Transforms.Svcca;

public sealed class SvccaStreamingTests
{
    [Fact]
    public void StreamingInUnevenBatchesEqualsBatchTo1e8()
    {
        var rng = new Random(21);
        var (a, b) = SharedLatent(rng, 1500, 12, 9, 4, 0.5);
        // Large offsets make a naive Σx² − n·μ² accumulation lose digits; the pairwise update must not.
        for (int i = 0; i < 1500; i++)
        {
            for (int j = 0; j < 12; j++)
                a[i, j] += 100;
            for (int j = 0; j < 9; j++)
                b[i, j] -= 250;
        }
        using var ta = ToTensor(a);
        using var tb = ToTensor(b);
        foreach (var settings in new[] { SvccaSettings.Default, SvccaSettings.Cca })
        {
            var batch = SvccaAnalysis.Compute(ta, tb, settings);
            using var acc = new SvccaAccumulator(12, 9);
            int start = 0;
            foreach (int size in new[] { 1, 7, 300, 2, 690, 500 })
            {
                acc.Add(ta.narrow(0, start, size), tb.narrow(0, start, size));
                start += size;
            }
            Assert.Equal(1500, acc.Count);
            var stream = acc.Compute(settings);
            Assert.Equal(batch.KeptA, stream.KeptA);
            Assert.Equal(batch.KeptB, stream.KeptB);
            for (int i = 0; i < batch.Components; i++)
                Assert.True(Math.Abs(batch.Coefficients[i] - stream.Coefficients[i]) < 1e-8, $"ρ[{i}] {stream.Coefficients[i]} vs {batch.Coefficients[i]}");
            for (int j = 0; j < 12; j++)
                Assert.True(Math.Abs(batch.MeanA[j] - stream.MeanA[j]) < 1e-8);
            Assert.Equal(batch.Pwcca, stream.Pwcca, 8);
            Assert.Equal(batch.LinearCka, stream.LinearCka, 8);
        }
    }

    [Fact]
    public void SpanBatchesEqualTensorBatches()
    {
        var rng = new Random(22);
        var (a, b) = SharedLatent(rng, 200, 4, 3, 2, 0.3);
        using var fromTensor = new SvccaAccumulator(4, 3);
        fromTensor.Add(ToTensor(a), ToTensor(b));
        using var fromSpans = new SvccaAccumulator(4, 3);
        var fa = a.Cast<double>().Select(x => (float)x).ToArray();
        var fb = b.Cast<double>().Select(x => (float)x).ToArray();
        fromSpans.Add(fa.AsSpan(0, 120 * 4), fb.AsSpan(0, 120 * 3), 120);
        fromSpans.Add(fa.AsSpan(120 * 4), fb.AsSpan(120 * 3), 80);
        var x = fromTensor.Compute(SvccaSettings.Cca);
        var y = fromSpans.Compute(SvccaSettings.Cca);
        for (int i = 0; i < x.Components; i++)
            Assert.Equal(x.Coefficients[i], y.Coefficients[i], 5); // the spans are float32
    }

    [Fact]
    public void AccumulatorRejectsBadBatchesAndEmptyState()
    {
        using var acc = new SvccaAccumulator(3, 2);
        Assert.Throws<InvalidOperationException>(() => acc.Compute());
        Assert.Throws<ArgumentException>(() => acc.Add(torch.zeros(5, 4), torch.zeros(5, 2)));
        Assert.Throws<ArgumentException>(() => acc.Add(torch.zeros(5, 3), torch.zeros(4, 2)));
        var bad = torch.randn(6, 3);
        bad[4, 1] = torch.tensor(float.PositiveInfinity);
        acc.Add(torch.randn(10, 3), torch.randn(10, 2));
        var ex = Assert.Throws<InvalidOperationException>(() => acc.Add(bad, torch.randn(6, 2)));
        Assert.Contains("row 14", ex.Message); // rows are numbered across batches
        using var small = new SvccaAccumulator(5, 2);
        small.Add(torch.randn(4, 5), torch.randn(4, 2));
        Assert.Contains("more datapoints than neurons", Assert.Throws<InvalidOperationException>(() => small.Compute()).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SvccaAccumulator(0, 2));
    }
}
