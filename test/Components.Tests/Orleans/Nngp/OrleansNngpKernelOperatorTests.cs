using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Components.Orleans.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Orleans.Nngp;

/// <summary>
/// The kernel operator whose row-blocks live in grains on three in-process silos: the same entries as the
/// single-process operator, solves that survive a stopped silo, and clear errors (never a hang) for malformed
/// requests, failing grains and timeouts.
/// </summary>
[Collection(OrleansNngpClusterCollection.Name)]
public sealed class OrleansNngpKernelOperatorTests(OrleansNngpClusterFixture fixture)
{
    private const int N = 240, D = 12;
    private const double Lambda = 0.1;
    private const int Iterations = 8;
    private static readonly NngpArchitecture Relu = new(2, NngpNonlinearity.Relu, 1.6, 0.1, inputLayerNorm: true);

    private static Tensor Features(ulong seed = 7, int n = N)
    {
        using var g = new torch.Generator(seed);
        return torch.randn([n, D], ScalarType.Float32, generator: g);
    }

    private OrleansNngpKernelOperatorFactory Factory(int blocks = 6) => new(fixture.Client)
    {
        Blocks = blocks,
        RetryDelay = TimeSpan.FromMilliseconds(100),
        CallTimeout = TimeSpan.FromSeconds(60),
        BuildTimeout = TimeSpan.FromSeconds(60),
    };

    private static NngpLocalKernelOperatorFactory Local() => new() { CachePrecision = NngpPrecision.Float64, BlockRows = 64 };

    private static double MaxRelative(Tensor actual, Tensor expected)
        => (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();

    [Theory]
    [InlineData(NngpOutputs.Nngp)]
    [InlineData(NngpOutputs.Ntk)]
    public void EntriesEqualTheLocalOperatorAndProductsAgreeToRounding(NngpOutputs kind)
    {
        using var x = Features();
        var options = new NngpKernelOptions();
        using var local = Local().Create(Relu, options, kind, x);
        using var cluster = (OrleansNngpKernelOperator)Factory().Create(Relu, options, kind, x);
        Assert.Equal(N, cluster.Count);
        Assert.Equal(6, cluster.Blocks);

        using var dl = local.Diagonal();
        using var dc = cluster.Diagonal();
        Assert.True(NngpKernelTestsBitEqual(dl, dc), "the diagonals differ");

        long[] rows = [5, N - 1, 0, 5, 130];
        using var rl = local.Rows(rows);
        using var rc = cluster.Rows(rows);
        Assert.Equal([rows.Length, N], rc.shape);
        Assert.True(NngpKernelTestsBitEqual(rl, rc), "the rows differ");

        using var g = new torch.Generator(3);
        using var v = torch.randn([N, 3], ScalarType.Float64, generator: g);
        using var yl = local.Multiply(v);
        using var yc = cluster.Multiply(v);
        Assert.True(MaxRelative(yc, yl) < 1e-13, $"products differ by {MaxRelative(yc, yl):G3} relative");
        // An independent check of the product: the gathered rows times v.
        using var all = cluster.Rows(Enumerable.Range(0, N).Select(i => (long)i).ToArray());
        using var dense = all.mm(v);
        Assert.True(MaxRelative(yc, dense) < 1e-13);
        // Payload per product: every block gets the whole vector, the gathered product comes back once.
        long sent = cluster.PayloadBytesSent;
        using var again = cluster.Multiply(v);
        Assert.Equal(6L * N * 3 * 8, cluster.PayloadBytesSent - sent);
        Assert.True(NngpKernelTestsBitEqual(yc, again), "a repeated product differs");

        // Above Orleans' message limit (1 MiB in the fixture) products and rows are split into several messages.
        int wide = 1 + OrleansNngpClusterFixture.MaxMessageBodySize / (8 * N);
        using var w = torch.randn([N, wide], ScalarType.Float64, generator: g);
        using var wl = local.Multiply(w);
        using var wc = cluster.Multiply(w);
        Assert.True(MaxRelative(wc, wl) < 1e-13, $"wide products differ by {MaxRelative(wc, wl):G3} relative");
        long[] many = [.. Enumerable.Range(0, wide).Select(i => (long)(i % 40))];
        using var ml = local.Rows(many);
        using var mc = cluster.Rows(many);
        Assert.True(NngpKernelTestsBitEqual(ml, mc), "rows split over messages differ");
    }

    [Fact]
    public void Float32CacheStaysWithinFloat32Rounding()
    {
        using var x = Features();
        using var local = Local().Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        var f = Factory(4);
        f.Float32Cache = true;
        using var cluster = f.Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        using var v = torch.ones([N, 2], ScalarType.Float64);
        using var yl = local.Multiply(v);
        using var yc = cluster.Multiply(v);
        double rel = MaxRelative(yc, yl);
        Assert.True(rel < 1e-6 && rel > 0, $"float32 blocks: {rel:G3} relative");
    }

    [Fact]
    public void IterativeSolveEqualsTheLocalSolveAndApproachesTheDenseSolve()
    {
        using var x = Features();
        using var local = Local().Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        using var cluster = Factory().Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        using var y = Targets();
        using var al = Richardson(local, y, Lambda, Iterations);
        using var ac = Richardson(cluster, y, Lambda, Iterations);
        Assert.True(MaxRelative(ac, al) < 1e-10, $"solves differ by {MaxRelative(ac, al):G3}");
        // The iterates approach the dense solution (an independent computation from the gathered rows).
        using var k = cluster.Rows(Enumerable.Range(0, N).Select(i => (long)i).ToArray());
        using var exact = torch.linalg.solve(k + Lambda * torch.eye(N, dtype: ScalarType.Float64), y);
        using var early = Richardson(cluster, y, Lambda, 2);
        Assert.True(MaxRelative(ac, exact) < MaxRelative(early, exact), $"iterations vs dense solve: {MaxRelative(ac, exact):G3} after {Iterations} iterations, {MaxRelative(early, exact):G3} after 2");
    }

    [Fact]
    public async Task ASiloStoppedDuringASolveLosesNothing()
    {
        using var x = Features();
        using var y = Targets();
        using var reference = Factory(9).Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        using var expected = Richardson(reference, y, Lambda, Iterations);

        using var op = (OrleansNngpKernelOperator)Factory(9).Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        var primary = fixture.Cluster.Primary!.SiloAddress.ToString();
        var silos = op.BlockSilos();
        var victim = fixture.Cluster.GetActiveSilos().First(s => s.SiloAddress.ToString() != primary && silos.Contains(s.SiloAddress.ToString()));
        int lost = silos.Count(s => s == victim.SiloAddress.ToString());
        Task? stop = null;
        try
        {
            using var solved = Richardson(op, y, Lambda, Iterations, onIteration: i =>
            {
                if (i == 3)
                    stop = Task.Run(() => fixture.Cluster.StopSiloAsync(victim)); // the product below runs while the silo shuts down
                else if (i == 4)
                    stop!.Wait(TimeSpan.FromMinutes(2));                          // the products from here on find its blocks gone
            });
            Assert.NotNull(stop);
            await stop;
            Assert.True(op.Reloads >= lost, $"{lost} block(s) lived on the stopped silo, {op.Reloads} reload(s)");
            Assert.DoesNotContain(victim.SiloAddress.ToString(), op.BlockSilos());
            Assert.True(NngpKernelTestsBitEqual(expected, solved), $"the solve changed by {MaxRelative(solved, expected):G3}");
        }
        finally
        {
            if (stop is not null)
                await stop;
            await fixture.RestoreAsync();
        }
    }

    [Fact]
    public async Task MalformedRequestsGetClearExceptions()
    {
        using var x = Features();
        using var op = (OrleansNngpKernelOperator)Factory(3).Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        // Client-side checks.
        using var wrong = torch.ones([N + 1, 2], ScalarType.Float64);
        Assert.Contains($"[{N}, m]", Assert.Throws<ArgumentOutOfRangeException>(() => op.Multiply(wrong)).Message);
        using var nan = torch.full([N, 1], double.NaN, ScalarType.Float64);
        Assert.Contains("NaN", Assert.Throws<ArgumentOutOfRangeException>(() => op.Multiply(nan)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => op.Rows([N]));

        // The grain's own checks, reached directly as another client would.
        var grain = fixture.Client.GetGrain<INngpKernelBlockGrain>($"{op.Job:N}/1");
        var e = await Assert.ThrowsAsync<ArgumentException>(() => grain.Multiply(op.Job, new double[N - 1], 1));
        Assert.Contains($"{N} rows × 1 columns", e.Message);
        var rows = op.BlockRows[1];
        e = await Assert.ThrowsAsync<ArgumentException>(() => grain.Rows(op.Job, [rows.First - 1]));
        Assert.Contains($"Row {rows.First - 1} is not in block 1", e.Message);
        var spec = NngpBlockSpec.Create(Guid.NewGuid(), 0, 10, N + 5, N, D, false, Relu, new NngpKernelOptions(), false, false);
        var other = fixture.Client.GetGrain<INngpKernelBlockGrain>($"{spec.Job:N}/0");
        e = await Assert.ThrowsAsync<ArgumentException>(() => other.Begin(spec));
        Assert.Contains("not a non-empty range", e.Message);
        // A grain asked for another job's block says so instead of answering.
        Assert.False((await grain.Diagonal(Guid.NewGuid())).Loaded);
        // The operator still works after all this.
        using var d = op.Diagonal();
        Assert.Equal(N, d.shape[0]);
    }

    [Fact]
    public void AFailingGrainGivesTheCallerItsError()
    {
        using var x = Features();
        x[17, 4] = torch.tensor(float.NaN);
        var e = Assert.Throws<NngpClusterException>(() => Factory(3).Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x));
        var inner = Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Contains("row 17, feature 4 is NaN", inner.Message);
        Assert.Contains("block", e.Message);
    }

    [Fact]
    public void TimeoutsEndInAnErrorNotAHang()
    {
        using var x = Features(n: 2000);
        var f = Factory(2);
        f.BuildTimeout = TimeSpan.FromTicks(1);
        f.MaxAttempts = 2;
        var e = Assert.Throws<NngpClusterException>(() => f.Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x));
        Assert.Contains("did not answer loading in 2 attempt(s)", e.Message);
        Assert.IsType<TimeoutException>(e.InnerException);
    }

    [Fact]
    public void CancellationAndUnsendableNonlinearitiesAreRefused()
    {
        using var x = Features();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Factory(2).Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x, cts.Token));
        var custom = Relu.With(nonlinearity: NngpNonlinearity.Custom("softplus", t => torch.nn.functional.softplus(t)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Factory(2).Create(custom, new NngpKernelOptions(), NngpOutputs.Nngp, x));
        Assert.Contains("cannot be sent to Orleans silos", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new OrleansNngpKernelOperatorFactory(fixture.Client) { MaxAttempts = 0 }
            .Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x));
    }

    [Fact]
    public void DefaultBlocksAreTwoPerActiveSilo()
    {
        using var x = Features();
        using var op = (OrleansNngpKernelOperator)new OrleansNngpKernelOperatorFactory(fixture.Client).Create(Relu, new NngpKernelOptions(), NngpOutputs.Nngp, x);
        Assert.Equal(2 * fixture.Cluster.GetActiveSilos().Count(), op.Blocks);
        Assert.Equal(0, op.BlockRows[0].First);
        Assert.Equal(N, op.BlockRows[^1].End);
    }

    private static Tensor Targets()
    {
        using var g = new torch.Generator(11);
        return torch.randn([N, 3], ScalarType.Float64, generator: g);
    }

    /// <summary>
    /// Richardson iteration on (K + λI)α = Y, all columns at once: α ← α + ω(Y − (K + λI)α) with ω = 1/(tr K + λ), which
    /// converges for any positive semi-definite K (its largest eigenvalue is at most tr K); one product per iteration.
    /// </summary>
    private static Tensor Richardson(INngpKernelOperator k, Tensor y, double lambda, int iterations, Action<int>? onIteration = null)
    {
        using var diagonal = k.Diagonal();
        double omega = 1.0 / (diagonal.sum().item<double>() + lambda);
        var a = torch.zeros_like(y);
        for (int i = 0; i < iterations; i++)
        {
            onIteration?.Invoke(i);
            using var scope = torch.NewDisposeScope();
            var residual = y - k.Multiply(a) - lambda * a;
            a = (a + omega * residual).DetachFromDisposeScope();
        }
        return a;
    }

    private static bool NngpKernelTestsBitEqual(Tensor a, Tensor b)
        => a.shape.SequenceEqual(b.shape) && TensorData.ToDoubleArray(a).SequenceEqual(TensorData.ToDoubleArray(b));
}
