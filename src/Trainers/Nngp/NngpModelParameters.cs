using System.Runtime.InteropServices;
using Components.Core.Persistence;
using Components.Core.Runtime;
using Components.Core.Tensors;
using Components.Kernels.Nngp;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.Nngp;

/// <summary>
/// The trained state of an NNGP Gaussian process, shared by the classifier and the regressor (the <c>Model</c> of
/// their prediction transformers): the training features (raw, as loaded), the kernel and its hyperparameters, the
/// prepared training input, the posterior weights α = C⁻¹Y, the factorisation of C = K + λI (kept for variances) and
/// the fitted output scale σ̂². Immutable and thread-safe (nothing is mutated after construction); owned and
/// disposed by the transformer.
/// </summary>
public sealed class NngpModelParameters : IDisposable
{
    private readonly Tensor _features;          // [n, d] float32, CPU: what is saved
    private readonly NngpKernel _kernel;
    private readonly NngpPreparedInput _train;
    private readonly NngpPosterior _posterior;

    internal NngpModelParameters(Tensor features, NngpArchitecture architecture, NngpKernelOptions kernelOptions, NngpKernelKind kind,
        double regularizer, NngpPosterior posterior, double outputScale, NngpKernel? kernel = null, NngpPreparedInput? train = null)
    {
        OutputScale = outputScale;
        _features = features;
        Architecture = architecture;
        KernelKind = kind;
        Regularizer = regularizer;
        _posterior = posterior;
        _kernel = kernel ?? new NngpKernel(architecture, kernelOptions);
        _train = train ?? _kernel.Prepare(features);
        TrainingRows = (int)features.shape[0];
        Features = (int)features.shape[1];
        Outputs = (int)posterior.Alpha.shape[1];
    }

    /// <summary>The architecture whose kernel the GP uses (the selected one after a search).</summary>
    public NngpArchitecture Architecture { get; }

    /// <summary>NNGP kernel or NTK.</summary>
    public NngpKernelKind KernelKind { get; }

    /// <summary>Trace-scaled regulariser ε used (the selected one after a search).</summary>
    public double Regularizer { get; }

    /// <summary>Number of training rows the GP conditions on.</summary>
    public int TrainingRows { get; }

    /// <summary>Length of the feature vector.</summary>
    public int Features { get; }

    /// <summary>Target columns: the number of classes, or 1 for regression.</summary>
    public int Outputs { get; }

    /// <summary>How the training kernel was factorised.</summary>
    public NngpFactorKind FactorKind => _posterior.Kind;

    /// <summary>Relative jitter of the successful Cholesky factorisation (times tr(K)/n); NaN for the eigendecomposition fallback.</summary>
    public double Jitter => _posterior.Jitter;

    /// <summary>True when the factor was kept, so that variances can be predicted.</summary>
    public bool HasVariance => _posterior.HasVariance;

    /// <summary>
    /// Maximum-likelihood output scale σ̂² = tr(YᵀC⁻¹Y)/(nk) of the (centred or one-hot − 1/K) targets, the factor that
    /// puts the variances on the targets' scale (in the units of the kernel as computed, i.e. after any rescaling);
    /// NaN for models saved in format 1, whose variances stay on the kernel's scale.
    /// </summary>
    public double OutputScale { get; }

    /// <summary>The observation-noise variance the posterior assumed, in kernel units: λ = (ε + jitter)·tr(K)/n (times <see cref="OutputScale"/> on the targets' scale).</summary>
    public double NoiseVariance => (Regularizer + (double.IsFinite(_posterior.Jitter) ? _posterior.Jitter : 0)) * _posterior.MeanDiagonal;

    /// <summary>False for models saved before the output scale existed (format 1): their outputs keep the old meaning.</summary>
    internal bool IsCalibrated => !double.IsNaN(OutputScale);

    internal NngpPosterior Posterior => _posterior;

    internal NngpKernel Kernel => _kernel;

    /// <summary>
    /// Fills <paramref name="mean"/> (rows × outputs) and, if not empty, <paramref name="variance"/> (rows):
    /// σ̂²·(k** − k*ᵀC⁻¹k*), plus σ̂²·noise when <paramref name="includeNoise"/> (the predictive variance of a new
    /// observation). Models of format 1 give the latent variance on the kernel's scale, as they did.
    /// </summary>
    internal void Predict(ReadOnlySpan<float> x, int rows, Span<float> mean, Span<float> variance, bool includeNoise)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var xt = TensorData.FromSpan(x, [rows, Features]);
        using var p = _kernel.Prepare(xt);
        var outputs = KernelKind == NngpKernelKind.Ntk ? NngpOutputs.Both : NngpOutputs.Nngp;
        using var r = _kernel.Compute(p, _train, outputs);
        var kStar = KernelKind == NngpKernelKind.Ntk ? r.Ntk! : r.Nngp;
        TensorData.CopyTo(_posterior.Mean(kStar), mean);
        if (!variance.IsEmpty)
        {
            var prior = KernelKind == NngpKernelKind.Ntk ? p.NtkDiagTensor : p.LayerDiagTensor[Architecture.Depth];
            var v = _posterior.Variance(kStar, prior);
            if (!IsCalibrated)
            {
                if (r.LogScale != 0)
                    v = v * Math.Exp(r.LogScale);
            }
            else
            {
                // σ̂² was fitted with the kernel as computed, so any rescaling of the kernel cancels out here.
                v = (includeNoise ? v + NoiseVariance : v) * OutputScale;
            }
            TensorData.CopyTo(v, variance);
        }
    }

    // *** Binary format (after the model's own header fields) ***
    // int    version of this block (2; 1 = without the output scale)
    // int    rows n, int features d, int outputs k
    // int    depth; int nonlinearity kind; double[] nonlinearity parameters; double σ_w²; double σ_b²; bool layer norm
    // int    kernel kind; int integration; int Gauss–Hermite degree; bool rescale; double regulariser
    // int    factor kind; bool has factor; double jitter; double mean diagonal
    // double output scale σ̂² (version 2 only; a model loaded from version 1 is saved as version 1)
    // streams: Features.bin (float32 n×d), Alpha.bin (float64 n×k), Factor.bin (Cholesky: lower rows, row i holds i+1
    //          values; Eigen: float64 n×n eigenvectors then n eigenvalues; Lanczos (matrix-free solver): int k, int r,
    //          double noise s, then float64 tensors U n×k, scale k, Q n×r, T⁻¹ − I r×r)
    internal void Save(ModelSaveWriter w)
    {
        if (!Architecture.Nonlinearity.CanSave)
            throw new InvalidOperationException($"The nonlinearity '{Architecture.Nonlinearity.Name}' is a user delegate and cannot be saved; use a built-in one (ReLU, leaky ReLU, ABReLU, Abs, Erf, Tanh).");
        var bw = w.Writer;
        bw.Write(IsCalibrated ? 2 : 1);
        bw.Write(TrainingRows);
        bw.Write(Features);
        bw.Write(Outputs);
        bw.Write(Architecture.Depth);
        bw.Write((int)Architecture.Nonlinearity.Kind);
        bw.WriteDoubles(Architecture.Nonlinearity.Parameters.ToArray());
        bw.Write(Architecture.WeightVariance);
        bw.Write(Architecture.BiasVariance);
        bw.Write(Architecture.InputLayerNorm);
        bw.Write((int)KernelKind);
        bw.Write((int)_kernel.Options.Integration);
        bw.Write(_kernel.Options.GaussHermiteDegree);
        bw.Write(_kernel.Options.Rescale);
        bw.Write(Regularizer);
        bw.Write((int)_posterior.Kind);
        bw.Write(HasVariance);
        bw.Write(_posterior.Jitter);
        bw.Write(_posterior.MeanDiagonal);
        if (IsCalibrated)
            bw.Write(OutputScale);
        w.SaveBinaryStream("Features.bin", s => WriteTensor(s, _features));
        w.SaveBinaryStream("Alpha.bin", s => WriteTensor(s, _posterior.Alpha));
        if (HasVariance)
        {
            w.SaveBinaryStream("Factor.bin", s =>
            {
                if (_posterior.Kind == NngpFactorKind.Lanczos)
                {
                    WriteLanczos(s, _posterior.Lanczos!);
                }
                else if (_posterior.Kind == NngpFactorKind.Cholesky)
                {
                    WriteLower(s, _posterior.Factor!);
                }
                else
                {
                    WriteTensor(s, _posterior.Factor!);
                    WriteTensor(s, _posterior.EigenValues!);
                }
            });
        }
    }

    internal static NngpModelParameters Load(ModelLoadReader reader, BinaryReader r, IHostEnvironment env, string componentName)
    {
        int blockVersion = r.ReadInt32();
        BinaryFormat.CheckDecode(blockVersion is 1 or 2, "NNGP block version");
        int n = r.ReadInt32(), d = r.ReadInt32(), k = r.ReadInt32();
        BinaryFormat.CheckDecode(n > 0 && d > 0 && k > 0, "sizes");
        int depth = r.ReadInt32();
        var kind = (NngpNonlinearityKind)r.ReadInt32();
        var parameters = r.ReadDoubles(16);
        double sw = r.ReadDouble(), sb = r.ReadDouble();
        bool layerNorm = r.ReadBoolean();
        var kernelKind = (NngpKernelKind)r.ReadInt32();
        var integration = (NngpIntegration)r.ReadInt32();
        int degree = r.ReadInt32();
        bool rescale = r.ReadBoolean();
        double reg = r.ReadDouble();
        var factorKind = (NngpFactorKind)r.ReadInt32();
        bool hasFactor = r.ReadBoolean();
        double jitter = r.ReadDouble(), meanDiag = r.ReadDouble();
        double outputScale = blockVersion >= 2 ? r.ReadDouble() : double.NaN;
        BinaryFormat.CheckDecode(blockVersion == 1 || (double.IsFinite(outputScale) && outputScale >= 0), "output scale");
        BinaryFormat.CheckDecode(Enum.IsDefined(kernelKind) && Enum.IsDefined(integration) && Enum.IsDefined(factorKind) && Enum.IsDefined(kind), "enumerations");
        NngpArchitecture arch;
        try
        {
            arch = new NngpArchitecture(depth, NngpNonlinearity.FromSaved(kind, parameters), sw, sb, layerNorm);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new FormatException("Corrupt model file: " + e.Message, e);
        }
        using var ctx = ComponentContext.Create(env, componentName, null, null, CancellationToken.None);
        var device = ctx.Device;
        Tensor? features = null, alpha = null, factor = null, eigen = null;
        NngpLanczosVariance? lanczos = null;
        BinaryFormat.CheckDecode(reader.TryLoadBinaryStream("Features.bin", s => features = ReadTensor(s, [n, d], ScalarType.Float32, torch.CPU)), "missing Features.bin");
        BinaryFormat.CheckDecode(reader.TryLoadBinaryStream("Alpha.bin", s => alpha = ReadTensor(s, [n, k], ScalarType.Float64, device)), "missing Alpha.bin");
        if (hasFactor)
        {
            BinaryFormat.CheckDecode(reader.TryLoadBinaryStream("Factor.bin", s =>
            {
                if (factorKind == NngpFactorKind.Lanczos)
                {
                    lanczos = ReadLanczos(s, n, device);
                }
                else if (factorKind == NngpFactorKind.Cholesky)
                {
                    factor = ReadLower(s, n, device);
                }
                else
                {
                    factor = ReadTensor(s, [n, n], ScalarType.Float64, device);
                    eigen = ReadTensor(s, [n], ScalarType.Float64, device);
                }
            }), "missing Factor.bin");
        }
        var posterior = new NngpPosterior(alpha!, factor, eigen, factorKind, jitter, meanDiag, lanczos);
        var options = new NngpKernelOptions { Integration = integration, GaussHermiteDegree = degree, Rescale = rescale, Device = device };
        return new NngpModelParameters(features!, arch, options, kernelKind, reg, posterior, outputScale);
    }

    private static void WriteTensor(BinaryWriter w, Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        var c = t.detach().cpu().contiguous();
        w.Write(c.numel());
        long rows = c.shape[0];
        long perRow = Math.Max(1, c.numel() / Math.Max(1, rows));
        long chunk = Math.Max(1, (1L << 26) / perRow);
        for (long r0 = 0; r0 < rows; r0 += chunk)
        {
            using var part = c.narrow(0, r0, Math.Min(chunk, rows - r0)).contiguous();
            w.Write(part.bytes);
        }
    }

    private static Tensor ReadTensor(BinaryReader r, long[] shape, ScalarType dtype, Device device)
    {
        long count = r.ReadInt64();
        long expected = shape.Aggregate(1L, (a, b) => a * b);
        BinaryFormat.CheckDecode(count == expected, $"tensor of {count} values, expected {expected}");
        using var scope = torch.NewDisposeScope();
        var t = torch.empty(shape, dtype);
        long rows = shape[0];
        long perRow = expected / rows;
        long chunk = Math.Max(1, (1L << 26) / perRow);
        for (long r0 = 0; r0 < rows; r0 += chunk)
        {
            using var part = torch.empty(shape.Length == 1 ? [Math.Min(chunk, rows - r0)] : [Math.Min(chunk, rows - r0), shape[1]], dtype);
            r.BaseStream.ReadExactly(part.bytes);
            t.narrow(0, r0, part.shape[0]).copy_(part);
        }
        if (dtype == ScalarType.Float64 || dtype == ScalarType.Float32)
            BinaryFormat.CheckDecode(torch.isfinite(t).all().item<bool>(), "non-finite values");
        return t.to(device).DetachFromDisposeScope();
    }

    private static void WriteLanczos(BinaryWriter w, NngpLanczosVariance v)
    {
        w.Write((int)v.U.shape[1]);
        w.Write((int)v.Q.shape[1]);
        w.Write(v.Noise);
        if (v.U.shape[1] > 0)
        {
            WriteTensor(w, v.U);
            WriteTensor(w, v.Scale);
        }
        WriteTensor(w, v.Q);
        WriteTensor(w, v.Correction);
    }

    private static NngpLanczosVariance ReadLanczos(BinaryReader r, int n, Device device)
    {
        int k = r.ReadInt32(), steps = r.ReadInt32();
        double noise = r.ReadDouble();
        BinaryFormat.CheckDecode(k >= 0 && k <= n && steps >= 1 && steps <= n && double.IsFinite(noise) && noise > 0, "Lanczos sizes");
        var u = k > 0 ? ReadTensor(r, [n, k], ScalarType.Float64, device) : torch.zeros([n, 0], ScalarType.Float64, device);
        var scale = k > 0 ? ReadTensor(r, [k], ScalarType.Float64, device) : torch.zeros([0], ScalarType.Float64, device);
        var q = ReadTensor(r, [n, steps], ScalarType.Float64, device);
        var correction = ReadTensor(r, [steps, steps], ScalarType.Float64, device);
        return new NngpLanczosVariance(u, scale, noise, q, correction);
    }

    private static void WriteLower(BinaryWriter w, Tensor l)
    {
        using var scope = torch.NewDisposeScope();
        var c = l.detach().cpu().contiguous();
        long n = c.shape[0];
        w.Write(n);
        var row = new double[n];
        for (long i = 0; i < n; i++)
        {
            using var ri = c[i];
            MemoryMarshal.Cast<byte, double>(ri.bytes).Slice(0, (int)i + 1).CopyTo(row);
            w.Write(MemoryMarshal.AsBytes(row.AsSpan(0, (int)i + 1)));
        }
    }

    private static Tensor ReadLower(BinaryReader r, int n, Device device)
    {
        BinaryFormat.CheckDecode(r.ReadInt64() == n, "factor size");
        using var scope = torch.NewDisposeScope();
        var t = torch.zeros([n, n], ScalarType.Float64);
        var row = new double[n];
        for (int i = 0; i < n; i++)
        {
            r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(row.AsSpan(0, i + 1)));
            using var ri = t[i];
            row.AsSpan(0, i + 1).CopyTo(MemoryMarshal.Cast<byte, double>(ri.bytes));
        }
        BinaryFormat.CheckDecode(torch.isfinite(t).all().item<bool>(), "non-finite factor");
        return t.to(device).DetachFromDisposeScope();
    }

    /// <summary>Releases the tensors (done by the transformer that owns these parameters).</summary>
    public void Dispose()
    {
        _train.Dispose();
        _kernel.Dispose();
        _posterior.Dispose();
        _features.Dispose();
    }
}
