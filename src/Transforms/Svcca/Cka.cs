using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>
/// Centered kernel alignment (Kornblith et al. 2019), a similarity index complementary to (SV)CCA: invariant to
/// orthogonal transforms and isotropic scaling but not to arbitrary invertible ones. Rows are datapoints, columns
/// neurons; float64 on the given device.
/// </summary>
public static class Cka
{
    /// <summary>Linear CKA: ‖BcᵀAc‖²_F / (‖AcᵀAc‖_F ‖BcᵀBc‖_F) with column-centred A [N, p], B [N, q]. Cost O(N(p + q)²).</summary>
    /// <exception cref="ArgumentException">Bad shapes or different datapoint counts.</exception>
    /// <exception cref="InvalidOperationException">NaN/infinite values or a constant representation.</exception>
    public static double Linear(Tensor a, Tensor b, Device? device = null)
    {
        var (x, y) = Prepare(a, b);
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var dev = device ?? torch.CPU;
        var xc = Centre(x.to(dev).to(ScalarType.Float64));
        var yc = Centre(y.to(dev).to(ScalarType.Float64));
        return SvccaAccumulator.LinearCkaOf(torch.matmul(xc.mT, xc), torch.matmul(xc.mT, yc), torch.matmul(yc.mT, yc));
    }

    /// <summary>
    /// RBF CKA: Gaussian kernels exp(−‖xᵢ − xⱼ‖² / (2·<paramref name="bandwidth"/>²·median‖x − x'‖²)) per representation,
    /// centred, then HSIC(K, L)/√(HSIC(K, K)·HSIC(L, L)). Memory and time O(N²): keep N to a few thousand.
    /// </summary>
    public static double Rbf(Tensor a, Tensor b, double bandwidth = 1.0, Device? device = null)
    {
        if (!(bandwidth > 0 && double.IsFinite(bandwidth)))
            throw new ArgumentOutOfRangeException(nameof(bandwidth), bandwidth, "Must be positive and finite.");
        var (x, y) = Prepare(a, b);
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var dev = device ?? torch.CPU;
        var k = CentredRbfKernel(x.to(dev).to(ScalarType.Float64), bandwidth, "a");
        var l = CentredRbfKernel(y.to(dev).to(ScalarType.Float64), bandwidth, "b");
        return Alignment(k, l);
    }

    /// <summary>⟨K, L⟩_F / (‖K‖_F ‖L‖_F) of two centred kernels.</summary>
    internal static double Alignment(Tensor k, Tensor l)
    {
        using var scope = torch.NewDisposeScope();
        double num = (k * l).sum().item<double>();
        double den = Math.Sqrt((k * k).sum().item<double>() * (l * l).sum().item<double>());
        return num / den;
    }

    /// <summary>The doubly centred RBF kernel HKH of x [N, p] (float64).</summary>
    internal static Tensor CentredRbfKernel(Tensor x, double bandwidth, string name)
    {
        using var scope = torch.NewDisposeScope();
        var dot = torch.matmul(x, x.mT);
        var sq = dot.diagonal();
        var d2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * dot).clamp_min(0.0);
        double median = Median(d2.reshape(-1));
        if (!(median > 0))
            throw new InvalidOperationException($"RBF CKA is undefined for '{name}': the median squared distance between datapoints is 0.");
        var k = torch.exp(d2 / (-2.0 * bandwidth * bandwidth * median));
        var kc = k - k.mean([0], keepdim: true) - k.mean([1], keepdim: true) + k.mean();
        if (!((kc * kc).sum().item<double>() > 0))
            throw new InvalidOperationException($"RBF CKA is undefined for '{name}': its centred kernel is zero.");
        return kc.MoveToOuterDisposeScope();
    }

    /// <summary>numpy's median (the mean of the two middle values for an even count).</summary>
    private static double Median(Tensor v)
    {
        long n = v.shape[0];
        var sorted = v.sort().Values;
        double hi = sorted[n / 2].item<double>();
        return n % 2 == 1 ? hi : 0.5 * (hi + sorted[n / 2 - 1].item<double>());
    }

    private static Tensor Centre(Tensor x) => x - x.mean([0], keepdim: true);

    private static (Tensor A, Tensor B) Prepare(Tensor a, Tensor b)
    {
        var (ra, _) = InputChecks.Matrix(a, nameof(a));
        var (rb, _) = InputChecks.Matrix(b, nameof(b));
        if (ra != rb)
            throw new ArgumentException($"'a' has {ra} datapoints (rows) but 'b' has {rb}.", nameof(b));
        if (ra < 2)
            throw new ArgumentException("CKA needs at least two datapoints.", nameof(a));
        InputChecks.Finite(a, "a");
        InputChecks.Finite(b, "b");
        return (a, b);
    }
}
