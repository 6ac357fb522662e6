using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Persistence;
using Components.Core.Randomness;
using Components.Core.Tensors;
using Components.Trainers.Rebar.Modules;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.Rebar;

/// <summary>
/// A fitted sigmoid belief network: appends q(b₁ = 1 | x) (the first latent layer's posterior probabilities) and the
/// row's ELBO, log p(x, b) − log q(b | x) averaged over <see cref="ElboSamples"/> samples whose uniforms come from
/// <see cref="CounterNoise"/> keyed by (model seed, row position, sample): batched Transform, PredictionEngine and a
/// reloaded model give a row the same value. Saved and loaded with <c>ml.Model.Save/Load</c> (after <c>ml.RegisterComponents()</c>).
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class SigmoidBeliefNetworkTransformer : AppendColumnsTransformer
{
    internal const string LoaderSignature = "SigmoidBeliefNetwork";
    private static readonly ModelVersion s_version = new("SBNREBAR", 1, 1, LoaderSignature);
    private readonly TorchModuleOwner<SigmoidBeliefNetworkModule> _owner;
    private readonly float? _threshold;
    private readonly int _batchSize;
    private readonly CounterNoise _noise;

    internal SigmoidBeliefNetworkTransformer(IHostEnvironment env, TorchModuleOwner<SigmoidBeliefNetworkModule> owner, string input, string latent, string elbo,
        float? threshold, int elboSamples, int batchSize, int seed, GradientEstimatorKind estimator)
        : base(env, LoaderSignature)
    {
        _owner = owner;
        InputColumnName = input;
        LatentColumnName = latent;
        ElboColumnName = elbo;
        _threshold = threshold;
        ElboSamples = elboSamples;
        _batchSize = batchSize;
        Seed = seed;
        GradientEstimator = estimator;
        _noise = new CounterNoise(seed);
        var m = owner.Module;
        Inputs = [new InputColumn(input, m.InputWidth, SigmoidBeliefNetworkEstimator.Role)];
        Outputs = [OutputColumn.Vector(latent, m.LatentWidth), OutputColumn.Scalar(elbo)];
    }

    /// <summary>The input column.</summary>
    public string InputColumnName { get; }

    /// <summary>The appended posterior-probability column.</summary>
    public string LatentColumnName { get; }

    /// <summary>The appended ELBO column.</summary>
    public string ElboColumnName { get; }

    /// <summary>Samples per row of the ELBO.</summary>
    public int ElboSamples { get; }

    /// <summary>The seed of the ELBO samples.</summary>
    public int Seed { get; }

    /// <summary>The estimator the network was trained with.</summary>
    public GradientEstimatorKind GradientEstimator { get; }

    /// <summary>Bernoulli variables per latent layer.</summary>
    public int LatentWidth => _owner.Module.LatentWidth;

    /// <summary>Stochastic layers.</summary>
    public int LatentLayers => _owner.Module.Layers;

    /// <summary>A copy of the trained network (the caller disposes it), e.g. for <see cref="SigmoidBeliefNetworkBounds.Compute"/>.</summary>
    public SigmoidBeliefNetworkModule CloneNetwork() => _owner.CloneModule();

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<OutputColumn> Outputs { get; }

    /// <inheritdoc/>
    protected override int BatchSize => _batchSize;

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int width = _owner.Module.InputWidth, latent = _owner.Module.LatentWidth, layers = _owner.Module.Layers;
        var raw = TensorData.FromSpan(batch.Input(0), [batch.Rows, width]);
        Tensor x;
        if (_threshold is { } t)
            x = raw.gt(t).to(ScalarType.Float32);
        else
        {
            var bad = raw.ne(0).logical_and(raw.ne(1));
            if (bad.any().item<bool>())
            {
                var first = bad.nonzero()[0];
                int r = (int)first[0].item<long>(), c = (int)first[1].item<long>();
                throw new ArgumentException($"Column '{InputColumnName}', {batch.DescribeRow(r)}: slot {c} holds {batch.Input(0)[r * width + c]}; the network needs binary (0/1) values (or a model trained with a BinarizationThreshold).");
            }
            x = raw;
        }
        // Uniforms of every row: sample s, layer l → latent values, from the row's counter stream.
        int n = batch.Rows, k = ElboSamples;
        var u = new float[k * layers * n * latent];
        for (int r = 0; r < n; r++)
        {
            var stream = _noise.Stream(batch.FirstRowPosition + r, 0);
            for (int s = 0; s < k; s++)
                for (int l = 0; l < layers; l++)
                {
                    int offset = ((l * k + s) * n + r) * latent;
                    for (int j = 0; j < latent; j++)
                        u[offset + j] = (float)stream.NextUniform();
                }
        }
        var uniforms = tensor(u, [layers, k * n, latent]);
        var (probabilities, elbo) = _owner.Run(m =>
        {
            var p = m.forward(x);
            var logw = m.LogWeight(x.repeat(k, 1), [.. Enumerable.Range(0, layers).Select(l => uniforms[l])]);
            return (p, logw.reshape(k, n).mean([0]));
        });
        TensorData.CopyTo(probabilities, batch.Output(0));
        TensorData.CopyTo(elbo, batch.Output(1));
    }

    // *** Binary format ***
    // string   input column, latent column, ELBO column
    // int      input width, latent width, layers, nonlinear (0/1), ELBO samples, transform batch size, seed, estimator
    // byte     has threshold; float threshold (when present)
    // stream "TSModel": the network's state dict
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(SigmoidBeliefNetworkTransformer));
        var m = _owner.Module;
        w.Writer.Write(InputColumnName);
        w.Writer.Write(LatentColumnName);
        w.Writer.Write(ElboColumnName);
        foreach (int v in new[] { m.InputWidth, m.LatentWidth, m.Layers, m.Nonlinear ? 1 : 0, ElboSamples, _batchSize, Seed, (int)GradientEstimator })
            w.Writer.Write(v);
        w.Writer.Write(_threshold.HasValue);
        w.Writer.Write(_threshold ?? 0f);
        _owner.Save(w);
    }

    /// <summary>Loads a transformer saved by <see cref="SaveModel"/>; called by <c>ml.Model.Load</c>.</summary>
    public static SigmoidBeliefNetworkTransformer Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        string input = r.ReadString(), latent = r.ReadString(), elbo = r.ReadString();
        int width = r.ReadInt32(), latentWidth = r.ReadInt32(), layers = r.ReadInt32(), nonlinear = r.ReadInt32();
        int samples = r.ReadInt32(), batchSize = r.ReadInt32(), seed = r.ReadInt32(), estimator = r.ReadInt32();
        bool hasThreshold = r.ReadBoolean();
        float threshold = r.ReadSingle();
        BinaryFormat.CheckDecode(!string.IsNullOrWhiteSpace(input) && !string.IsNullOrWhiteSpace(latent) && !string.IsNullOrWhiteSpace(elbo), "column names");
        BinaryFormat.CheckDecode(width is >= 1 and <= 1 << 24 && latentWidth is >= 1 and <= 1 << 20 && layers is 1 or 2 && nonlinear is 0 or 1, "network shape");
        BinaryFormat.CheckDecode(samples >= 1 && batchSize >= 1 && Enum.IsDefined((GradientEstimatorKind)estimator), "settings");
        BinaryFormat.CheckDecode(!hasThreshold || (threshold > 0 && threshold < 1), "binarization threshold");
        SigmoidBeliefNetworkModule Create() => new(width, latentWidth, layers, nonlinear == 1);
        var owner = TorchModuleOwner<SigmoidBeliefNetworkModule>.Load(reader, Create, CPU);
        return new SigmoidBeliefNetworkTransformer(env, owner, input, latent, elbo, hasThreshold ? threshold : null, samples, batchSize, seed, (GradientEstimatorKind)estimator);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _owner.Dispose();
        base.Dispose(disposing);
    }
}
