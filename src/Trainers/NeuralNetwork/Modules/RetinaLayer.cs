using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// A differentiable, parameter-free "retina": an eccentricity-dependent Gaussian blur of images of
/// <c>channels × height × width</c> pixels (each channel blurred alike), to put in front of any TorchSharp image model
/// (<c>nn.Sequential(retina, model)</c>) or, through <see cref="NeuralNetworkOptions.Retina"/>, inside the
/// NeuralNetwork trainer's CNN. Output pixel p is
/// <c>y_p = Σ_q w_pq x_q</c>, <c>w_pq ∝ exp(−‖q − p‖² / (2σ(p)²))</c> over the in-image pixels q with
/// ‖q − p‖ ≤ Truncation·σ(p), normalised to sum 1 per p, with <c>σ(p) = σ₀ + slope·‖p − fixation‖</c> (see
/// <see cref="RetinaSettings"/>); where σ(p) = 0, y_p = x_p. The map is linear (a fixed sparse matrix), so its input
/// gradient is the transpose applied to the output gradient; autograd computes it.
/// </summary>
/// <remarks>
/// Input [B, C·H·W] (rows of CHW pixels, as the suite's image columns) or [B, C, H, W]; the output has the input's
/// shape and dtype. Cost per call: one <c>unfold</c> with a (2R+1)² window, R = ⌈Truncation·max σ⌉, i.e.
/// B·C·H·W·(2R+1)² multiply–adds and as many floats of temporary memory. The weights ([(2R+1)², H·W], built once in
/// float64 on the CPU) are not parameters and not part of the state dictionary: they follow from the settings.
/// </remarks>
public sealed class RetinaLayer : nn.Module<Tensor, Tensor>
{
    private readonly Tensor _weights; // [K², H·W] float64 on the CPU, K = 2R + 1
    private readonly object _cacheLock = new();
    private Tensor? _cached;         // _weights in the dtype and on the device of the last input

    /// <summary>Builds the blur for images of the given shape.</summary>
    /// <param name="settings">σ law, fixation point and truncation.</param>
    /// <param name="channels">Channels C (each blurred alike), positive.</param>
    /// <param name="height">Image height H in pixels, positive.</param>
    /// <param name="width">Image width W in pixels, positive.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public RetinaLayer(RetinaSettings settings, int channels, int height, int width)
        : base("RetinaLayer")
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        Settings = settings;
        Channels = channels;
        Height = height;
        Width = width;
        double fy = settings.FixationRow ?? (height - 1) / 2.0, fx = settings.FixationColumn ?? (width - 1) / 2.0;
        var sigma = new double[height * width];
        double maxSigma = 0;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                double s = settings.SigmaAtFixation + settings.SigmaSlope * Math.Sqrt(((y - fy) * (y - fy)) + ((x - fx) * (x - fx)));
                sigma[(y * width) + x] = s;
                maxSigma = Math.Max(maxSigma, s);
            }
        }
        // Radius R: no pixel reaches further than Truncation·σ, nor further than the image.
        Radius = (int)Math.Min(Math.Ceiling(settings.Truncation * maxSigma), Math.Max(height, width) - 1);
        int k = (2 * Radius) + 1;
        var w = new double[k * k * height * width];
        int hw = height * width;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int p = (y * width) + x;
                double s = sigma[p], reach = settings.Truncation * s, total = 0;
                for (int dy = -Radius; dy <= Radius; dy++)
                {
                    for (int dx = -Radius; dx <= Radius; dx++)
                    {
                        int qy = y + dy, qx = x + dx;
                        double d2 = (dy * dy) + (dx * dx);
                        if (qy < 0 || qy >= height || qx < 0 || qx >= width || d2 > reach * reach)
                            continue;
                        double v = s == 0 ? (d2 == 0 ? 1 : 0) : Math.Exp(-d2 / (2 * s * s));
                        w[((((dy + Radius) * k) + dx + Radius) * hw) + p] = v;
                        total += v;
                    }
                }
                for (int j = 0; j < k * k; j++)
                    w[(j * hw) + p] /= total; // total ≥ 1: the centre offset always contributes exp(0)
            }
        }
        _weights = tensor(w, [k * k, hw], ScalarType.Float64).DetachFromDisposeScope();
        RegisterComponents();
    }

    /// <summary>The settings this layer was built from.</summary>
    public RetinaSettings Settings { get; }

    /// <summary>Channels C.</summary>
    public int Channels { get; }

    /// <summary>Image height H.</summary>
    public int Height { get; }

    /// <summary>Image width W.</summary>
    public int Width { get; }

    /// <summary>Window radius R in pixels (the window is (2R+1)²).</summary>
    public int Radius { get; }

    /// <summary>σ(p) in pixels of every output pixel, row-major [H·W] (for plots and tests).</summary>
    public double[] Sigmas()
    {
        var settings = Settings;
        double fy = settings.FixationRow ?? (Height - 1) / 2.0, fx = settings.FixationColumn ?? (Width - 1) / 2.0;
        var sigma = new double[Height * Width];
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
                sigma[(y * Width) + x] = settings.SigmaAtFixation + settings.SigmaSlope * Math.Sqrt(((y - fy) * (y - fy)) + ((x - fx) * (x - fx)));
        }
        return sigma;
    }

    /// <summary>Blurs [B, C·H·W] or [B, C, H, W] images; returns the input's shape.</summary>
    /// <exception cref="ArgumentException">The input does not hold C·H·W values per row.</exception>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        long per = (long)Channels * Height * Width;
        if (input.dim() < 2 || input.shape.Skip(1).Aggregate(1L, (a, b) => a * b) != per)
        {
            throw new ArgumentException(
                $"The retina layer expects [batch, {per}] or [batch, {Channels}, {Height}, {Width}] images, got [{string.Join(", ", input.shape)}].", nameof(input));
        }
        using var scope = NewDisposeScope();
        if (Radius == 0)
            return input.alias().MoveToOuterDisposeScope(); // every σ is 0: the identity
        long b = input.shape[0];
        int k = (2 * Radius) + 1;
        var images = input.reshape(b * Channels, 1, Height, Width);
        var columns = nn.functional.unfold(images, k, padding: Radius); // [B·C, K², H·W]
        var output = columns.mul(Weights(input)).sum(1);               // [B·C, H·W]
        return output.reshape(input.shape).MoveToOuterDisposeScope();
    }

    private Tensor Weights(Tensor like)
    {
        lock (_cacheLock)
        {
            if (_cached is null || _cached.dtype != like.dtype || _cached.device.ToString() != like.device.ToString())
            {
                _cached?.Dispose();
                _cached = _weights.to(like.dtype, like.device).clone().DetachFromDisposeScope(); // inside forward's scope: a temporary copy is freed with it
            }
            return _cached;
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cached?.Dispose();
            _weights.Dispose();
        }
        base.Dispose(disposing);
    }
}
