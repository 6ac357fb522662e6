using Components.Core.Differentiation;
using Components.Core.Randomness;
using Components.Core.Schema;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Adversarial;

/// <summary>The outcome of <see cref="EnsembleAttack.Run"/> for a batch.</summary>
/// <param name="Adversarial">x + δ, [B, D], in [0, 1], with ‖δ‖∞ ≤ ε per row (up to float rounding).</param>
/// <param name="InitialLoss">Per row, the ensemble loss of the class at x (mean over members of −log p(class)), [B].</param>
/// <param name="FinalLoss">The same loss at x + δ, [B] (without the random transformations).</param>
public sealed record EnsembleAttackResult(Tensor Adversarial, Tensor InitialLoss, Tensor FinalLoss) : IDisposable
{
    /// <summary>Frees the three tensors.</summary>
    public void Dispose()
    {
        Adversarial.Dispose();
        InitialLoss.Dispose();
        FinalLoss.Dispose();
    }
}

/// <summary>
/// A targeted (or untargeted) iterative sign-gradient L∞ attack on an ensemble of classifiers, with an expectation
/// over random transformations (Elsayed et al., 2018, arXiv:1802.08195, §3; no code was published, so every detail
/// here is this suite's choice, documented in docs/transforms/adversarial.md). Works on tensors, without ML.NET.
/// </summary>
/// <remarks>
/// <para>Ensemble: the loss of a class c is the mean over the m members of −log softmax(f_m(x))_c, i.e. the members'
/// <b>log-probabilities are averaged</b> (not their logits): every member counts alike whatever the scale of its
/// logits, and the ensemble's prediction is argmax_c of the mean log-probability (<see cref="LogProbabilities"/>).</para>
/// <para>Step t (t = 0 … T−1): g = ∇_δ (1/S) Σ_s L(τ_s(x + δ)), with τ_s a random integer shift (edges replicated)
/// plus Gaussian pixel noise; δ ← δ − α·sign(g) (targeted) or δ + α·sign(g) (untargeted); then δ is clipped to
/// [−ε, ε] and x + δ to [0, 1]. δ starts at 0. The transformations of row i at step t and sample s come from
/// <c>CounterNoise(seed).Stream(rowKey_i, t·S + s)</c> (two uniforms for the shift, then the normals), so a row's
/// result does not depend on the batch it is in, up to the float rounding of batched convolutions.</para>
/// </remarks>
public static class EnsembleAttack
{
    /// <summary>Runs the attack on a batch.</summary>
    /// <param name="members">The ensemble: functions [n, D] → logits [n, K] (e.g. <c>module.forward</c> of networks in eval mode). At least one.</param>
    /// <param name="images">x, [B, D] with D = shape.Size, pixels in [0, 1]. Not modified.</param>
    /// <param name="classes">Per row the target class (targeted) or the class to move away from (untargeted), in 0..K−1; −1 leaves the row unchanged.</param>
    /// <param name="shape">How a row of D values is an image (for the shifts).</param>
    /// <param name="settings">ε, steps, transformations, seed.</param>
    /// <param name="rowKeys">Per row the key of its random transformations; empty = the row index.</param>
    /// <param name="cancellation">Checked before every step.</param>
    /// <exception cref="ArgumentException">The ensemble is empty, or a shape or class does not fit.</exception>
    public static EnsembleAttackResult Run(IReadOnlyList<Func<Tensor, Tensor>> members, Tensor images, ReadOnlySpan<long> classes, ImageShape shape,
        EnsembleAttackSettings settings, ReadOnlySpan<long> rowKeys = default, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(settings);
        if (members.Count == 0)
            throw new ArgumentException("The ensemble is empty: give at least one model.", nameof(members));
        if (images.dim() != 2 || images.shape[1] != shape.Size)
            throw new ArgumentException($"Expected images of [batch, {shape.Size}] ({shape}), got [{string.Join(", ", images.shape)}].", nameof(images));
        int b = (int)images.shape[0];
        if (classes.Length != b)
            throw new ArgumentException($"Expected {b} classes (one per row), got {classes.Length}.", nameof(classes));
        if (rowKeys.Length != 0 && rowKeys.Length != b)
            throw new ArgumentException($"Expected {b} row keys (one per row) or none, got {rowKeys.Length}.", nameof(rowKeys));

        using var scope = NewDisposeScope();
        var device = images.device;
        var x = images.detach().to(ScalarType.Float32);
        int k;
        using (no_grad())
            k = (int)members[0](x[..1]).shape[1];
        var cls = new long[b];
        var mask = new float[b];
        for (int i = 0; i < b; i++)
        {
            if (classes[i] < -1 || classes[i] >= k)
                throw new ArgumentException($"Row {i}: class {classes[i]} is outside 0..{k - 1} (or −1 for no attack).", nameof(classes));
            cls[i] = Math.Max(classes[i], 0);
            mask[i] = classes[i] < 0 ? 0 : 1;
        }
        var classTensor = tensor(cls, device: device);
        var rowMask = tensor(mask, device: device).unsqueeze(1);
        var keys = new long[b];
        for (int i = 0; i < b; i++)
            keys[i] = rowKeys.Length == 0 ? i : rowKeys[i];

        float eps = (float)settings.Epsilon, alpha = (float)settings.StepSize;
        float direction = settings.Untargeted ? 1f : -1f;
        var lower = x.sub(eps).clamp_min(0);
        var upper = x.add(eps).clamp_max(1);
        var initialLoss = Loss(members, x, classTensor);
        var adv = x.clone();
        var noise = new CounterNoise(settings.Seed);
        for (int t = 0; t < settings.Iterations; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();
            var transforms = DrawTransformations(noise, keys, t, settings, shape, device);
            Tensor ExpectedLoss(Tensor z) => Loss(members, transforms.Apply(z), classTensor.repeat(settings.TransformationSamples))
                .view(settings.TransformationSamples, b).mean([0]);
            var g = Jacobians.InputGradient(ExpectedLoss, adv);
            var next = adv.add(g.sign().mul(rowMask).mul(direction * alpha));
            next = torch.minimum(torch.maximum(next, lower), upper);
            adv.copy_(next);
        }
        var finalLoss = Loss(members, adv, classTensor);
        return new EnsembleAttackResult(adv.MoveToOuterDisposeScope(), initialLoss.MoveToOuterDisposeScope(), finalLoss.MoveToOuterDisposeScope());
    }

    /// <summary>The ensemble's mean log-probabilities, [n, K]: (1/m) Σ_m log softmax(f_m(x)).</summary>
    /// <param name="members">The ensemble (at least one).</param>
    /// <param name="x">Inputs [n, D].</param>
    public static Tensor LogProbabilities(IReadOnlyList<Func<Tensor, Tensor>> members, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(x);
        if (members.Count == 0)
            throw new ArgumentException("The ensemble is empty: give at least one model.", nameof(members));
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        foreach (var f in members)
        {
            var lp = nn.functional.log_softmax(f(x), 1);
            sum = sum is null ? lp : sum.add(lp);
        }
        return sum!.div(members.Count).MoveToOuterDisposeScope();
    }

    /// <summary>Per row −(1/m) Σ_m log p_m(c_i | x_i), [n].</summary>
    internal static Tensor Loss(IReadOnlyList<Func<Tensor, Tensor>> members, Tensor x, Tensor classes)
        => LogProbabilities(members, x).gather(1, classes.unsqueeze(1)).squeeze(1).neg();

    private static Transformations DrawTransformations(CounterNoise noise, long[] keys, int t, EnsembleAttackSettings s, ImageShape shape, Device device)
    {
        int b = keys.Length, samples = s.TransformationSamples, d = shape.Size, shift = s.MaxShift;
        bool withNoise = s.NoiseStandardDeviation > 0;
        var dy = new long[samples * b];
        var dx = new long[samples * b];
        var normals = withNoise ? new float[samples * b * d] : [];
        for (int sample = 0; sample < samples; sample++)
        {
            for (int i = 0; i < b; i++)
            {
                var stream = noise.Stream(keys[i], (t * samples) + sample);
                int j = (sample * b) + i;
                dy[j] = Math.Min((long)(stream.NextUniform() * ((2 * shift) + 1)), 2 * shift);
                dx[j] = Math.Min((long)(stream.NextUniform() * ((2 * shift) + 1)), 2 * shift);
                if (withNoise)
                    stream.NextNormals(normals.AsSpan(j * d, d));
            }
        }
        Tensor? noiseTensor = withNoise ? tensor(normals, [samples * b, d], device: device).mul_((float)s.NoiseStandardDeviation) : null;
        return new Transformations(shape, shift, samples, tensor(dy, device: device), tensor(dx, device: device), noiseTensor);
    }

    // τ(z) for every (sample, row): rows of the result are sample-major ([S·B, D]).
    private sealed record Transformations(ImageShape Shape, int Shift, int Samples, Tensor Dy, Tensor Dx, Tensor? Noise)
    {
        public Tensor Apply(Tensor z)
        {
            int c = Shape.Channels, h = Shape.Height, w = Shape.Width;
            var rep = z.repeat(Samples, 1); // [S·B, D]
            Tensor result = rep;
            if (Shift > 0)
            {
                long n = rep.shape[0];
                var img = Shape.Layout == ImageLayout.Chw ? rep.view(n, c, h, w) : rep.view(n, h, w, c).permute(0, 3, 1, 2);
                var padded = nn.functional.pad(img, [Shift, Shift, Shift, Shift], PaddingModes.Replicate); // [n, c, h+2S, w+2S]
                var rows = arange(h, device: z.device).view(1, 1, h, 1).add(Dy.view(n, 1, 1, 1)).expand(n, c, h, w + (2 * Shift));
                var cropped = padded.gather(2, rows);                                                      // [n, c, h, w+2S]
                var cols = arange(w, device: z.device).view(1, 1, 1, w).add(Dx.view(n, 1, 1, 1)).expand(n, c, h, w);
                var shifted = cropped.gather(3, cols);                                                     // [n, c, h, w]
                result = (Shape.Layout == ImageLayout.Chw ? shifted : shifted.permute(0, 2, 3, 1)).reshape(n, (long)c * h * w);
            }
            if (Noise is not null)
                result = result.add(Noise);
            return result;
        }
    }
}
