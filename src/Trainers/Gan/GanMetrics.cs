using static TorchSharp.torch;

namespace Components.Trainers.Gan;

/// <summary>Quality of samples of a Gaussian mixture with equal weights and isotropic components.</summary>
/// <param name="ModesCovered">Components that received at least the coverage share of the samples as high-quality samples.</param>
/// <param name="Modes">Components of the mixture.</param>
/// <param name="HighQualityFraction">Fraction of samples within 3σ of their nearest component mean.</param>
/// <param name="ForwardKl">KDE estimate of KL(p‖q) (mass covering: large when modes are missed).</param>
/// <param name="ReverseKl">KDE estimate of KL(q‖p) (mode seeking: large when samples fall between modes).</param>
public sealed record MixtureQuality(int ModesCovered, int Modes, double HighQualityFraction, double ForwardKl, double ReverseKl);

/// <summary>Classifier-based quality of generated images.</summary>
/// <param name="ClassesCovered">Classes predicted for at least <c>coverageShare</c> / K of the samples.</param>
/// <param name="Classes">Classes K.</param>
/// <param name="MeanConfidence">Mean of the classifier's largest probability per sample.</param>
/// <param name="InceptionScore">exp(E_x KL(p(y|x) ‖ p(y))): high when samples are confidently classified and classes are balanced (1 to K).</param>
public sealed record ClassifierQuality(int ClassesCovered, int Classes, double MeanConfidence, double InceptionScore);

/// <summary>Metrics of generated samples (low-dimensional mixtures, classifier scores, Fréchet distance).</summary>
public static class GanMetrics
{
    /// <summary>
    /// Modes covered, the high-quality fraction and KDE estimates of both KL divergences for samples
    /// <paramref name="generated"/> [n, d] of a mixture of equal-weight N(c_k, σ²I) components.
    /// A sample is high quality when within 3σ of its nearest mean; a mode is covered when at least
    /// <paramref name="coverageShare"/> × n/K samples (a tenth of its fair share by default) are high quality and nearest to it. The KDE q̂ (Gaussian kernel) is fit on
    /// the first half of the samples, its bandwidth chosen to maximise the likelihood of the second half (see
    /// <see cref="KdeLogDensity"/>); KL(p‖q) averages log p − log q̂ over
    /// <paramref name="reference"/> (draws from p), KL(q‖p) averages log q̂ − log p over the second half.
    /// </summary>
    public static MixtureQuality EvaluateMixture(Tensor generated, Tensor centers, double sigma, Tensor reference, double coverageShare = 0.1)
    {
        ArgumentNullException.ThrowIfNull(generated);
        ArgumentNullException.ThrowIfNull(centers);
        ArgumentNullException.ThrowIfNull(reference);
        if (generated.dim() != 2 || centers.dim() != 2 || generated.shape[1] != centers.shape[1] || reference.dim() != 2 || reference.shape[1] != centers.shape[1])
            throw new ArgumentException("Samples, centers and reference must be [n, d] with the same d.");
        if (generated.shape[0] < 4)
            throw new ArgumentException("At least 4 samples are needed.", nameof(generated));
        if (!(sigma > 0))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "Must be positive.");
        using var scope = NewDisposeScope();
        var x = generated.to(ScalarType.Float64).cpu();
        var c = centers.to(ScalarType.Float64).cpu();
        var p = reference.to(ScalarType.Float64).cpu();
        long n = x.shape[0], k = c.shape[0];
        var dist = cdist(x, c);
        var (minDist, nearest) = dist.min(1);
        var good = minDist.le(3 * sigma);
        double hq = good.to(ScalarType.Float64).mean().item<double>();
        var counts = bincount(nearest.masked_select(good), minlength: k).to(ScalarType.Float64);
        double nGood = counts.sum().item<double>();
        int covered = (int)counts.ge(Math.Max(1, coverageShare * n / k)).sum().item<long>();

        long half = n / 2;
        var fitRows = x.narrow(0, 0, half);
        var heldOut = x.narrow(0, half, n - half);
        double h = SelectBandwidth(heldOut, fitRows);
        double forward = (MixtureLogDensity(p, c, sigma) - KdeLogDensityAt(p, fitRows, h)).mean().item<double>();
        double reverse = (KdeLogDensityAt(heldOut, fitRows, h) - MixtureLogDensity(heldOut, c, sigma)).mean().item<double>();
        return new MixtureQuality(covered, (int)k, hq, forward, reverse);
    }

    /// <summary>log of the equal-weight mixture of N(c_k, σ²I) at rows <paramref name="x"/> (float64).</summary>
    public static Tensor MixtureLogDensity(Tensor x, Tensor centers, double sigma)
    {
        using var scope = NewDisposeScope();
        long d = x.shape[1], k = centers.shape[0];
        var sq = cdist(x, centers).square();
        var result = (-sq / (2 * sigma * sigma)).logsumexp(1) - Math.Log(k) - 0.5 * d * Math.Log(2 * Math.PI * sigma * sigma);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Gaussian KDE of <paramref name="fit"/> [m, d] at rows <paramref name="x"/>, with bandwidth <paramref name="bandwidth"/>,
    /// or (null) the bandwidth of a 16-point geometric grid from 10⁻³ to 1 × the mean per-dimension std that maximises
    /// the mean log density of the first 500 rows of <paramref name="x"/> (Scott's rule oversmooths multimodal data).
    /// </summary>
    public static Tensor KdeLogDensity(Tensor x, Tensor fit, double? bandwidth = null)
    {
        using var scope = NewDisposeScope();
        double h = bandwidth ?? SelectBandwidth(x, fit);
        return KdeLogDensityAt(x, fit, h).MoveToOuterDisposeScope();
    }

    private static double SelectBandwidth(Tensor x, Tensor fit)
    {
        x = x.narrow(0, 0, Math.Min(500, x.shape[0])); // the first 500 rows suffice to choose
        double std = Math.Max(1e-6, fit.std(0).mean().item<double>());
        double best = double.NegativeInfinity, bestH = std;
        for (int j = 0; j < 16; j++)
        {
            double h = std * Math.Pow(10, -3 + 3.0 * j / 15);
            using var scope = NewDisposeScope();
            double score = KdeLogDensityAt(x, fit, h).mean().item<double>();
            if (score > best)
            {
                best = score;
                bestH = h;
            }
        }
        return bestH;
    }

    private static Tensor KdeLogDensityAt(Tensor x, Tensor fit, double h)
    {
        long m = fit.shape[0], d = fit.shape[1];
        var parts = new List<Tensor>();
        for (long i = 0; i < x.shape[0]; i += 1024)
        {
            var rows = x.narrow(0, i, Math.Min(1024, x.shape[0] - i));
            var sq = cdist(rows, fit).square();
            parts.Add((-sq / (2 * h * h)).logsumexp(1));
        }
        return cat(parts, 0) - Math.Log(m) - 0.5 * d * Math.Log(2 * Math.PI * h * h);
    }

    /// <summary>
    /// Fréchet distance between Gaussians fit to feature rows <paramref name="a"/> and <paramref name="b"/> [n, k]:
    /// ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^½ Σ_b Σ_a^½)^½), in float64 with symmetric eigendecompositions.
    /// </summary>
    public static double FrechetDistance(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.dim() != 2 || b.dim() != 2 || a.shape[1] != b.shape[1] || a.shape[0] < 2 || b.shape[0] < 2)
            throw new ArgumentException("Features must be [n, k] with the same k and at least 2 rows each.");
        using var scope = NewDisposeScope();
        var x = a.to(ScalarType.Float64).cpu();
        var y = b.to(ScalarType.Float64).cpu();
        var mx = x.mean([0]);
        var my = y.mean([0]);
        var cx = Covariance(x, mx);
        var cy = Covariance(y, my);
        var sx = SqrtPsd(cx);
        var inner = sx.matmul(cy).matmul(sx);
        inner = 0.5 * (inner + inner.t());
        var eig = linalg.eigvalsh(inner).clamp_min(0).sqrt().sum();
        var value = (mx - my).square().sum() + cx.trace() + cy.trace() - 2 * eig;
        return Math.Max(0, value.item<double>());
    }

    private static Tensor Covariance(Tensor x, Tensor mean)
    {
        var centred = x - mean;
        return centred.t().matmul(centred) / (x.shape[0] - 1);
    }

    private static Tensor SqrtPsd(Tensor c)
    {
        var (values, vectors) = linalg.eigh(0.5 * (c + c.t()));
        return vectors.matmul(diag(values.clamp_min(0).sqrt())).matmul(vectors.t());
    }

    /// <summary>
    /// Class coverage, mean confidence and inception score of a classifier's probabilities <paramref name="probabilities"/>
    /// [n, K] on generated samples. A class is covered when predicted (arg max) for at least
    /// <paramref name="coverageShare"/> × n/K samples.
    /// </summary>
    public static ClassifierQuality ClassifierScore(Tensor probabilities, double coverageShare = 0.1)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        if (probabilities.dim() != 2 || probabilities.shape[0] < 1)
            throw new ArgumentException("Probabilities must be [n, K].", nameof(probabilities));
        using var scope = NewDisposeScope();
        var pr = probabilities.to(ScalarType.Float64).cpu().clamp_min(1e-12);
        long n = pr.shape[0], k = pr.shape[1];
        var (maxP, arg) = pr.max(1);
        var counts = bincount(arg, minlength: k).to(ScalarType.Float64);
        int covered = (int)counts.ge(coverageShare * n / k).sum().item<long>();
        var marginal = pr.mean([0], keepdim: true);
        double kl = (pr * (pr.log() - marginal.log())).sum(1).mean().item<double>();
        return new ClassifierQuality(covered, (int)k, maxP.mean().item<double>(), Math.Exp(kl));
    }
}
