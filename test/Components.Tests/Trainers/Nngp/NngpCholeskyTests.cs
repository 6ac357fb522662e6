using Components.Trainers.Nngp;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Trainers.Nngp;

/// <summary>
/// The dense GP solve factorises the kernel in its own storage (no copy of the n×n matrix): the factor and weights
/// equal LAPACK's on the same matrix, a failed attempt of the jitter ladder is undone exactly, and only the lower
/// triangle is read. Sizes are odd multiples of nothing (613 = 2·256 + 101, not a multiple of the 96-row tiles or of
/// the 4×4 micro-blocks) so that every edge case of the blocked code runs.
/// </summary>
public class NngpCholeskyTests
{
    private const int N = 613;

    [Fact]
    public void InPlaceFactorEqualsLapackAndConsumesTheKernel()
    {
        using var scope = torch.NewDisposeScope();
        var g = new Generator(21);
        var a = torch.randn([N, N + 5], ScalarType.Float64, generator: g);
        var k = torch.mm(a, a.T) / N + 0.1 * torch.eye(N, dtype: ScalarType.Float64);
        var original = k.clone();
        var y = torch.randn([N, 3], ScalarType.Float64, generator: g);
        const double reg = 0.01;

        using var post = NngpPosterior.Fit(k, y, reg, true, null, CancellationToken.None);

        Assert.Equal(NngpFactorKind.Cholesky, post.Kind);
        Assert.Equal(NngpPosterior.FirstJitter, post.Jitter);
        var c = original + (reg + post.Jitter) * post.MeanDiagonal * torch.eye(N, dtype: ScalarType.Float64);
        var lapack = torch.linalg.cholesky(c);
        var l = post.Factor!;
        Assert.True((l - lapack).abs().max().item<double>() < 1e-12 * lapack.abs().max().item<double>(), "factor differs from LAPACK's");
        Assert.Equal(0.0, l.triu(1).abs().max().item<double>());
        var alpha = torch.linalg.solve(c, y);
        Assert.True(((post.Alpha - alpha).norm() / alpha.norm()).item<double>() < 1e-10, "weights differ from a dense solve");
        // Consumed: the caller's matrix now holds the factor (the posterior shares its storage instead of copying it).
        Assert.Equal(0.0, (k - l).abs().max().item<double>()); // the kernel was factorised in place
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BothTrailingUpdatesGiveLapacksFactorAndLeaveTheUpperTriangleOnFailure(bool blasUpdate)
    {
        using var scope = torch.NewDisposeScope();
        var g = new Generator(23);
        var x = torch.randn([N, N], ScalarType.Float64, generator: g);
        var c = torch.mm(x, x.T) / N + 0.05 * torch.eye(N, dtype: ScalarType.Float64);
        var upper = torch.triu(torch.randn([N, N], ScalarType.Float64, generator: g), 1);
        var a = torch.tril(c) + upper;
        Assert.True(NngpCholesky.FactorInPlace(a, CancellationToken.None, blasUpdate));
        var lapack = torch.linalg.cholesky(c);
        Assert.True((a - lapack).abs().max().item<double>() < 1e-12 * lapack.abs().max().item<double>(), "factor differs from LAPACK's");

        // Not positive definite in the last block: false, and the strict upper triangle is untouched.
        var bad = c.clone();
        bad[N - 1, N - 1] = torch.tensor(-1.0, ScalarType.Float64);
        var b = torch.tril(bad) + upper;
        Assert.False(NngpCholesky.FactorInPlace(b, CancellationToken.None, blasUpdate));
        Assert.Equal(0.0, (torch.triu(b, 1) - upper).abs().max().item<double>());
    }

    [Fact]
    public void FailedAttemptIsUndoneAndOnlyTheLowerTriangleIsRead()
    {
        using var scope = torch.NewDisposeScope();
        var g = new Generator(22);
        // Eigenvalues in [1, 2] and one of −1e-7 with a dense eigenvector: the first attempts fail late (in the last
        // diagonal block), after earlier blocks have overwritten most of the lower triangle.
        var q = torch.linalg.qr(torch.randn([N, N], ScalarType.Float64, generator: g)).Item1;
        var lambda = torch.linspace(1, 2, N, ScalarType.Float64);
        lambda[N - 1] = torch.tensor(-1e-7, ScalarType.Float64);
        var symmetric = torch.mm(q * lambda, q.T);
        symmetric = torch.tril(symmetric) + torch.tril(symmetric, -1).T; // exactly symmetric
        // Garbage above the diagonal: it must not be read, not even to undo a failed attempt.
        var k = symmetric + torch.triu(torch.randn([N, N], ScalarType.Float64, generator: g), 1);
        var y = torch.randn([N, 2], ScalarType.Float64, generator: g);

        var messages = new List<string>();
        using var post = NngpPosterior.Fit(k, y, 0, true, messages.Add, CancellationToken.None);

        Assert.Equal(NngpFactorKind.Cholesky, post.Kind);
        Assert.True(post.Jitter > NngpPosterior.FirstJitter, $"the ladder was not climbed (jitter {post.Jitter})");
        Assert.Contains(messages, m => m.Contains("trying a larger one"));
        double shift = post.Jitter * post.MeanDiagonal;
        Assert.True(shift > 1e-7 && shift < 1e-5, $"diagonal shift {shift:G3} for an eigenvalue of −1e-7");
        var c = symmetric + shift * torch.eye(N, dtype: ScalarType.Float64);
        var lapack = torch.linalg.cholesky(c);
        var l = post.Factor!;
        // κ(c) ≈ 4e7: forward errors of two backward-stable factorisations differ by up to about κ·ε.
        Assert.True((l - lapack).abs().max().item<double>() < 1e-6, "factor differs from LAPACK's on the restored, shifted kernel");
        Assert.True((torch.mm(l, l.T) - c).abs().max().item<double>() < 1e-11, "L·Lᵀ is not the shifted kernel");
        var residual = torch.mm(c, post.Alpha) - y;
        Assert.True(residual.abs().max().item<double>() < 1e-10 * post.Alpha.abs().max().item<double>(), "the weights do not solve the shifted system");
    }
}
