using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

/// <summary>
/// Compares all layers of one network with all layers of another (or of itself) on the same datapoints and returns
/// the similarity matrix. Each layer's covariance, SVD step and centred data are computed once and reused for every
/// pair. Layers are [N, neurons] tensors (rows = datapoints); flatten conv activations or use <see cref="DftCca"/>.
/// </summary>
public static class RepresentationComparison
{
    /// <summary>Similarity of every layer in <paramref name="network1"/> with every layer in <paramref name="network2"/>.</summary>
    /// <param name="network1">Layer activations of the first network, each [N, pᵢ].</param>
    /// <param name="network2">Layer activations of the second network, each [N, qⱼ].</param>
    /// <param name="measure">Similarity measure.</param>
    /// <param name="settings">SVD-step and CCA settings (for the CCA measures) and device.</param>
    /// <param name="names1">Row names (default <c>layer 0</c>, <c>layer 1</c>, …).</param>
    /// <param name="names2">Column names.</param>
    /// <param name="cancellation">Checked once per layer pair.</param>
    public static SimilarityMatrix Compare(IReadOnlyList<Tensor> network1, IReadOnlyList<Tensor> network2,
        SimilarityMeasure measure = SimilarityMeasure.Svcca, SvccaSettings? settings = null,
        IReadOnlyList<string>? names1 = null, IReadOnlyList<string>? names2 = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(network1);
        ArgumentNullException.ThrowIfNull(network2);
        if (network1.Count == 0 || network2.Count == 0)
            throw new ArgumentException("Each network needs at least one layer.", network1.Count == 0 ? nameof(network1) : nameof(network2));
        settings ??= SvccaSettings.Default;
        settings.Validate();
        var rows = Names(names1, network1.Count, nameof(names1));
        var cols = Names(names2, network2.Count, nameof(names2));
        long n = -1;
        foreach (var (t, name) in network1.Zip(rows).Concat(network2.Zip(cols)))
        {
            var (r, c) = InputChecks.Matrix(t, name);
            if (n >= 0 && r != n)
                throw new ArgumentException($"Layer '{name}' has {r} datapoints but the first layer has {n}: all layers must hold the same datapoints.");
            n = r;
            if (measure is SimilarityMeasure.Svcca or SimilarityMeasure.SvccaThresholdMean or SimilarityMeasure.Pwcca)
                InputChecks.EnoughDatapoints(r, c, name, arg: true);
        }

        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var device = settings.ResolvedDevice;
        var values = new double[rows.Length, cols.Length];
        switch (measure)
        {
            case SimilarityMeasure.LinearCka:
            {
                // ⟨XXᵀ, YYᵀ⟩_F = ‖XᵀY‖²_F: work with the centred data, never with N×N kernels.
                var x1 = network1.Select((t, i) => Centred(t, rows[i], device)).ToArray();
                var x2 = network2.Select((t, i) => Centred(t, cols[i], device)).ToArray();
                var s1 = x1.Select(SelfNorm).ToArray();
                var s2 = x2.Select(SelfNorm).ToArray();
                for (int i = 0; i < rows.Length; i++)
                {
                    for (int j = 0; j < cols.Length; j++)
                    {
                        cancellation.ThrowIfCancellationRequested();
                        using var inner = torch.NewDisposeScope();
                        values[i, j] = torch.matmul(x1[i].mT, x2[j]).square().sum().item<double>() / (s1[i] * s2[j]);
                    }
                }
                break;
            }
            case SimilarityMeasure.RbfCka:
            {
                var k1 = network1.Select((t, i) => Cka.CentredRbfKernel(Centred(t, rows[i], device), 1.0, rows[i])).ToArray();
                var k2 = network2.Select((t, i) => Cka.CentredRbfKernel(Centred(t, cols[i], device), 1.0, cols[i])).ToArray();
                for (int i = 0; i < rows.Length; i++)
                {
                    for (int j = 0; j < cols.Length; j++)
                    {
                        cancellation.ThrowIfCancellationRequested();
                        values[i, j] = Cka.Alignment(k1[i], k2[j]);
                    }
                }
                break;
            }
            default:
            {
                var l1 = network1.Select((t, i) => Layer.Create(t, rows[i], settings, device)).ToArray();
                var l2 = network2.Select((t, i) => Layer.Create(t, cols[i], settings, device)).ToArray();
                try
                {
                    for (int i = 0; i < rows.Length; i++)
                    {
                        for (int j = 0; j < cols.Length; j++)
                        {
                            cancellation.ThrowIfCancellationRequested();
                            values[i, j] = Pair(l1[i], l2[j], measure, settings, n);
                        }
                    }
                }
                finally
                {
                    foreach (var l in l1.Concat(l2))
                        l.Dispose();
                }
                break;
            }
        }
        return new SimilarityMatrix(measure, rows, cols, values);
    }

    private static double Pair(Layer a, Layer b, SimilarityMeasure measure, SvccaSettings settings, long n)
    {
        using var scope = torch.NewDisposeScope();
        var cross = torch.matmul(a.Reduced.mT, b.Reduced) / (n - 1);
        var (rho, coefA, coefB) = CcaCore.Correlate(a.Basis, b.Basis, cross, settings.Epsilon);
        switch (measure)
        {
            case SimilarityMeasure.Svcca:
                return rho.Average();
            case SimilarityMeasure.SvccaThresholdMean:
                int count = SvccaResult.ThresholdIndex(rho, settings.Threshold);
                return count == 0 ? 0 : rho.Take(count).Average();
            default:
                var weights = a.Basis.Kept <= b.Basis.Kept
                    ? CcaCore.PwccaWeights(torch.matmul(a.Basis.Basis, coefA), a.Covariance)
                    : CcaCore.PwccaWeights(torch.matmul(b.Basis.Basis, coefB), b.Covariance);
                return weights.Zip(rho, (w, r) => w * r).Sum();
        }
    }

    private static Tensor Centred(Tensor t, string name, Device device)
    {
        var x = t.to(device).to(ScalarType.Float64);
        InputChecks.Finite(x, name);
        return x - x.mean([0], keepdim: true);
    }

    private static double SelfNorm(Tensor xc)
    {
        using var scope = torch.NewDisposeScope();
        double norm = torch.matmul(xc.mT, xc).square().sum().sqrt().item<double>();
        if (!(norm > 0))
            throw new InvalidOperationException("Linear CKA is undefined: a layer has no variance (every neuron is constant).");
        return norm;
    }

    private static string[] Names(IReadOnlyList<string>? names, int count, string param)
    {
        if (names is null)
            return Enumerable.Range(0, count).Select(i => $"layer {i}").ToArray();
        if (names.Count != count)
            throw new ArgumentException($"Expected {count} names, got {names.Count}.", param);
        return names.ToArray();
    }

    /// <summary>One layer after the SVD step: its basis, covariance and reduced centred data [N, k].</summary>
    private sealed class Layer : IDisposable
    {
        private Layer(SideBasis basis, Tensor covariance, Tensor reduced)
        {
            Basis = basis;
            Covariance = covariance;
            Reduced = reduced;
        }

        public SideBasis Basis { get; }

        public Tensor Covariance { get; }

        public Tensor Reduced { get; }

        public static Layer Create(Tensor t, string name, SvccaSettings settings, Device device)
        {
            var x = t.to(device).to(ScalarType.Float64);
            InputChecks.Finite(x, name);
            var mean = x.mean([0], keepdim: true);
            var xc = x - mean;
            var cov = torch.matmul(xc.mT, xc) / (x.shape[0] - 1);
            var basis = SvdStep.Reduce(cov, mean.squeeze(0), settings, $"'{name}'");
            return new Layer(basis, cov, torch.matmul(xc, basis.Basis));
        }

        public void Dispose() => Basis.Dispose();
    }
}
