using System.Globalization;
using Components.Core.Randomness;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Core.Tensors;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.SignalPropagation;

/// <summary>
/// Monte-Carlo simulator of wide random fully connected networks z^{l+1} = W^l φ(z^l) + b^l (W_ij ~ N(0, σ_w²/N),
/// b_i ~ N(0, σ_b²)) fed two inputs: many independent networks in batches on the resolved device, float32, with the
/// seeded stream <c>signal-propagation.simulation</c>. Per network and layer it records ‖z_a^l‖²/N, ‖z_b^l‖²/N and the
/// cosine of z_a^l and z_b^l, and reports their means, standard errors and the covariance across layers of ‖z_a^l‖²/N.
/// </summary>
/// <remarks>
/// Layer 0 is drawn as the pre-activations of a random input layer applied to two inputs: per neuron
/// (z_a, z_b) ~ N(0, q⁰[[1, c⁰], [c⁰, 1]]). With <see cref="RandomNetworkSimulationMethod.ConditionalGaussian"/> every
/// later layer is drawn from its exact conditional law given the previous one (no weight matrix is formed), with
/// <see cref="RandomNetworkSimulationMethod.ExplicitWeights"/> from explicit weight matrices; both give the same joint
/// distribution of the pre-activations (tested).
/// </remarks>
public sealed partial class RandomNetworkSimulator
{
    private const string Purpose = "signal-propagation.simulation";
    private readonly Options _options;

    /// <summary>Validates the options (a private copy is kept).</summary>
    /// <param name="options">The options.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it.</exception>
    public RandomNetworkSimulator(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        _options = options.Copy();
    }

    /// <summary>Runs the simulation. With an environment (an MLContext), the seed defaults to its seed and progress is logged.</summary>
    /// <param name="environment">Optional host environment for the seed, the device (<c>GpuDeviceId</c>) and the log.</param>
    /// <exception cref="OperationCanceledException">The options' token was cancelled.</exception>
    public RandomNetworkSimulation Run(IHostEnvironment? environment = null)
    {
        var o = _options;
        ComponentContext? ctx = environment is null ? null : ComponentContext.Create(environment, nameof(RandomNetworkSimulator), o.Seed, o.Device, o.CancellationToken);
        try
        {
            var device = ctx?.Device ?? DeviceResolver.Resolve(o.Device, null, false);
            int seed = ctx?.Seed ?? o.Seed ?? Defaults.Seed;
            using var generator = RandomStreams.CreateGenerator(seed, Purpose, device);
            int layers = o.Depth + 1, n = o.Width;
            int batch = o.BatchSize > 0 ? o.BatchSize : AutoBatch(o);
            var qa = new double[o.Samples * layers];
            var qb = new double[o.Samples * layers];
            var cos = new double[o.Samples * layers];
            ctx?.Info(string.Create(CultureInfo.InvariantCulture,
                $"Simulating {o.Samples} random {o.Nonlinearity} networks, width {n}, depth {o.Depth}, σ_w² {o.WeightVariance:G4}, σ_b² {o.BiasVariance:G4}, {o.Method}, batch {batch}, {device}."));
            for (int start = 0; start < o.Samples; start += batch)
            {
                o.CancellationToken.ThrowIfCancellationRequested();
                ctx?.CheckCancelled();
                int b = Math.Min(batch, o.Samples - start);
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                var (sa, sb, sc) = SimulateBatch(o, b, device, generator);
                TensorData.CopyTo(sa, qa.AsSpan(start * layers, b * layers));
                TensorData.CopyTo(sb, qb.AsSpan(start * layers, b * layers));
                TensorData.CopyTo(sc, cos.AsSpan(start * layers, b * layers));
            }
            return new RandomNetworkSimulation(o.Nonlinearity, o.Width, o.Depth, o.WeightVariance, o.BiasVariance, o.InputVariance, o.InputCorrelation,
                o.Samples, qa, qb, cos);
        }
        finally
        {
            ctx?.Dispose();
        }
    }

    /// <summary>One batch: per network and layer ‖z_a‖²/N, ‖z_b‖²/N and cos(z_a, z_b), each [b, L + 1] float64 on the CPU.</summary>
    private static (Tensor Qa, Tensor Qb, Tensor Cos) SimulateBatch(Options o, int b, Device device, Generator generator)
    {
        int n = o.Width;
        double sw = Math.Sqrt(o.WeightVariance), sbias = Math.Sqrt(o.BiasVariance);
        var qa = new List<Tensor>();
        var qb = new List<Tensor>();
        var cs = new List<Tensor>();
        // Layer 0: per neuron (z_a, z_b) ~ N(0, q⁰[[1, c⁰], [c⁰, 1]]).
        var g = torch.randn([b, 2, n], ScalarType.Float32, device, generator: generator);
        double r0 = Math.Sqrt(o.InputVariance), c0 = o.InputCorrelation;
        var za = g[.., 0] * r0;
        var zb = (g[.., 0] * c0 + g[.., 1] * Math.Sqrt(Math.Max(0, 1 - c0 * c0))) * r0;
        Record(za, zb, qa, qb, cs);
        for (int l = 0; l < o.Depth; l++)
        {
            // Per layer: the explicit method's [b, n, n] weights and the intermediates die with the layer, not the batch.
            using var layerScope = torch.NewDisposeScope();
            var ha = o.Nonlinearity.Apply(za);
            var hb = o.Nonlinearity.Apply(zb);
            if (o.Method == RandomNetworkSimulationMethod.ExplicitWeights)
            {
                var w = torch.randn([b, n, n], ScalarType.Float32, device, generator: generator).mul_(sw / Math.Sqrt(n));
                var bias = torch.randn([b, 1, n], ScalarType.Float32, device, generator: generator).mul_(sbias);
                var h = torch.stack([ha, hb], 1);                       // [b, 2, n]
                var z = torch.bmm(h, w.transpose(1, 2)) + bias;         // z_i = Σ_j W_ij h_j + b_i
                za = z[.., 0];
                zb = z[.., 1];
            }
            else
            {
                var s11 = ha.square().mean([1], keepdim: true) * o.WeightVariance + o.BiasVariance;
                var s22 = hb.square().mean([1], keepdim: true) * o.WeightVariance + o.BiasVariance;
                var s12 = (ha * hb).mean([1], keepdim: true) * o.WeightVariance + o.BiasVariance;
                var l11 = s11.sqrt();
                var l21 = s12 / l11.clamp_min(1e-30f);
                var l22 = (s22 - l21.square()).clamp_min(0).sqrt();
                var e = torch.randn([b, 2, n], ScalarType.Float32, device, generator: generator);
                za = e[.., 0] * l11;
                zb = e[.., 0] * l21 + e[.., 1] * l22;
            }
            Record(za, zb, qa, qb, cs);
            za = za.MoveToOuterDisposeScope();
            zb = zb.MoveToOuterDisposeScope();
            foreach (var recorded in new[] { qa, qb, cs })
                recorded[^1] = recorded[^1].MoveToOuterDisposeScope();
        }
        return (torch.stack(qa, 1).to(ScalarType.Float64).cpu(), torch.stack(qb, 1).to(ScalarType.Float64).cpu(), torch.stack(cs, 1).to(ScalarType.Float64).cpu());
    }

    private static void Record(Tensor za, Tensor zb, List<Tensor> qa, List<Tensor> qb, List<Tensor> cs)
    {
        var a = za.to(ScalarType.Float64);
        var b = zb.to(ScalarType.Float64);
        var na = a.square().mean([1]);
        var nb = b.square().mean([1]);
        var k = (a * b).mean([1]);
        qa.Add(na);
        qb.Add(nb);
        cs.Add(k / (na * nb).sqrt().clamp_min(1e-300));
    }

    private static int AutoBatch(Options o)
    {
        long perSample = o.Method == RandomNetworkSimulationMethod.ExplicitWeights ? (long)o.Width * o.Width : 2L * o.Width;
        return (int)Math.Clamp((4L << 20) / Math.Max(1, perSample), 1, o.Samples);
    }

    private static void Validate(Options o)
    {
        Guard.CheckUserArg(o.Nonlinearity is not null, nameof(o.Nonlinearity), "Must not be null: give an NngpNonlinearity (Relu, Tanh, Erf, ABRelu(1, 1) for linear, …).");
        Guard.CheckUserArg(o.Width > 0, nameof(o.Width), $"Must be positive, got {o.Width}.");
        Guard.CheckUserArg(o.Depth > 0, nameof(o.Depth), $"Must be positive, got {o.Depth}.");
        Guard.CheckUserArg(o.WeightVariance > 0 && double.IsFinite(o.WeightVariance), nameof(o.WeightVariance), $"Must be positive and finite, got {F(o.WeightVariance)}.");
        Guard.CheckUserArg(o.BiasVariance >= 0 && double.IsFinite(o.BiasVariance), nameof(o.BiasVariance), $"Must be non-negative and finite, got {F(o.BiasVariance)}.");
        Guard.CheckUserArg(o.Samples >= 2, nameof(o.Samples), $"Must be at least 2, got {o.Samples}.");
        Guard.CheckUserArg(o.BatchSize >= 0, nameof(o.BatchSize), $"Must be non-negative, got {o.BatchSize}.");
        Guard.CheckUserArg(o.InputVariance > 0 && double.IsFinite(o.InputVariance), nameof(o.InputVariance), $"Must be positive and finite, got {F(o.InputVariance)}.");
        Guard.CheckUserArg(o.InputCorrelation >= -1 && o.InputCorrelation <= 1, nameof(o.InputCorrelation), $"Must be in [-1, 1], got {F(o.InputCorrelation)}.");
        Guard.CheckUserArg(Enum.IsDefined(o.Method), nameof(o.Method), $"Unknown simulation method {o.Method}.");
        if (o.Device is not null)
            DeviceResolver.Parse(o.Device, nameof(o.Device));
    }

    private static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
