using System.Globalization;
using Components.Core.Persistence;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// Immutable description of a network built by the neural-network trainers: everything needed to rebuild the
/// <see cref="NeuralNetworkModule"/> before loading its weights. Layers are numbered from 1: the hidden layers first
/// (for a CNN the convolution blocks, then the fully connected hidden layers), and <see cref="LayerCount"/> is the
/// output layer.
/// </summary>
/// <remarks>
/// Initialisation follows the NNGP paper's convention (Lee et al., 2018, arXiv:1711.00165): every weight is drawn
/// from N(0, σ_w² / fan_in) and every bias from N(0, σ_b²), where fan_in is the number of inputs of the unit (the
/// input width for a dense layer, in_channels × 5 × 5 for a convolution), σ_w² = <see cref="WeightVariance"/> and
/// σ_b² = <see cref="BiasVariance"/>. The output layer uses the same rule.
/// </remarks>
public sealed class NeuralNetworkArchitecture
{
    /// <summary>Kernel side of the CNN's convolutions.</summary>
    public const int ConvolutionKernelSize = 5;

    private readonly int[] _hidden;
    private readonly int[] _channels;
    private readonly int[] _layerSizes;

    /// <summary>Creates and validates an architecture.</summary>
    /// <param name="kind">MLP or CNN.</param>
    /// <param name="inputSize">Length of the feature vector (for a CNN, <paramref name="imageHeight"/> × <paramref name="imageWidth"/>).</param>
    /// <param name="outputSize">Number of outputs (classes, or 1 for regression).</param>
    /// <param name="hiddenLayerWidths">Widths of the fully connected hidden layers (may be empty).</param>
    /// <param name="activation">Nonlinearity after each hidden layer.</param>
    /// <param name="weightVariance">σ_w²: weights start as N(0, σ_w²/fan_in).</param>
    /// <param name="biasVariance">σ_b²: biases start as N(0, σ_b²).</param>
    /// <param name="convolutionChannels">CNN only: output channels of each convolution block.</param>
    /// <param name="imageHeight">CNN only: image height in pixels.</param>
    /// <param name="imageWidth">CNN only: image width in pixels.</param>
    /// <param name="retina">CNN only: a <see cref="RetinaLayer"/> in front of the first convolution, or null (none).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size, width or variance is out of range.</exception>
    public NeuralNetworkArchitecture(NeuralNetworkArchitectureKind kind, int inputSize, int outputSize, IReadOnlyList<int> hiddenLayerWidths,
        NeuralNetworkActivation activation, double weightVariance, double biasVariance,
        IReadOnlyList<int>? convolutionChannels = null, int imageHeight = 0, int imageWidth = 0, RetinaSettings? retina = null)
    {
        ArgumentNullException.ThrowIfNull(hiddenLayerWidths);
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown architecture.");
        if (!Enum.IsDefined(activation))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        for (int i = 0; i < hiddenLayerWidths.Count; i++)
        {
            if (hiddenLayerWidths[i] <= 0)
                throw new ArgumentOutOfRangeException(nameof(hiddenLayerWidths), hiddenLayerWidths[i], $"Hidden layer width {i} must be positive.");
        }
        if (!(weightVariance > 0) || !double.IsFinite(weightVariance))
            throw new ArgumentOutOfRangeException(nameof(weightVariance), weightVariance, "σ_w² must be positive and finite.");
        if (!(biasVariance >= 0) || !double.IsFinite(biasVariance))
            throw new ArgumentOutOfRangeException(nameof(biasVariance), biasVariance, "σ_b² must be non-negative and finite.");
        if (retina is not null && kind != NeuralNetworkArchitectureKind.Cnn)
            throw new ArgumentOutOfRangeException(nameof(retina), "A retina layer needs the CNN (it blurs images).");
        Retina = retina;

        Kind = kind;
        InputSize = inputSize;
        OutputSize = outputSize;
        Activation = activation;
        WeightVariance = weightVariance;
        BiasVariance = biasVariance;
        _hidden = [.. hiddenLayerWidths];
        var sizes = new List<int>();
        if (kind == NeuralNetworkArchitectureKind.Cnn)
        {
            _channels = [.. convolutionChannels ?? []];
            if (_channels.Length == 0)
                throw new ArgumentOutOfRangeException(nameof(convolutionChannels), "A CNN needs at least one convolution block.");
            for (int i = 0; i < _channels.Length; i++)
            {
                if (_channels[i] <= 0)
                    throw new ArgumentOutOfRangeException(nameof(convolutionChannels), _channels[i], $"Convolution channel count {i} must be positive.");
            }
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageHeight);
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageWidth);
            if ((long)imageHeight * imageWidth != inputSize)
            {
                throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize,
                    $"A CNN reads single-channel images: the feature vector must have ImageHeight × ImageWidth = {(long)imageHeight * imageWidth} values.");
            }
            int h = imageHeight, w = imageWidth;
            foreach (var c in _channels)
            {
                h /= 2;
                w /= 2;
                if (h == 0 || w == 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(convolutionChannels), _channels.Length,
                        $"A {imageHeight}×{imageWidth} image is too small for {_channels.Length} convolution blocks (each halves the side).");
                }
                sizes.Add(checked(c * h * w));
            }
            ImageHeight = imageHeight;
            ImageWidth = imageWidth;
        }
        else
        {
            _channels = [];
        }
        sizes.AddRange(_hidden);
        sizes.Add(outputSize);
        _layerSizes = [.. sizes];
    }

    /// <summary>MLP or CNN.</summary>
    public NeuralNetworkArchitectureKind Kind { get; }

    /// <summary>Length of the input feature vector.</summary>
    public int InputSize { get; }

    /// <summary>Number of outputs: classes (logits) or 1 (regression).</summary>
    public int OutputSize { get; }

    /// <summary>Widths of the fully connected hidden layers.</summary>
    public IReadOnlyList<int> HiddenLayerWidths => _hidden;

    /// <summary>CNN: output channels of each convolution block (empty for an MLP).</summary>
    public IReadOnlyList<int> ConvolutionChannels => _channels;

    /// <summary>CNN: image height (0 for an MLP).</summary>
    public int ImageHeight { get; }

    /// <summary>CNN: image width (0 for an MLP).</summary>
    public int ImageWidth { get; }

    /// <summary>Nonlinearity after each hidden layer.</summary>
    public NeuralNetworkActivation Activation { get; }

    /// <summary>CNN only: the retina layer (eccentricity-dependent blur) applied to the image before the first convolution, or null.</summary>
    public RetinaSettings? Retina { get; }

    /// <summary>σ_w²: weights are initialised from N(0, σ_w²/fan_in).</summary>
    public double WeightVariance { get; }

    /// <summary>σ_b²: biases are initialised from N(0, σ_b²).</summary>
    public double BiasVariance { get; }

    /// <summary>Number of layers, output layer included (layers are numbered 1..LayerCount).</summary>
    public int LayerCount => _layerSizes.Length;

    /// <summary>Number of hidden layers (convolution blocks plus fully connected hidden layers).</summary>
    public int HiddenLayerCount => _layerSizes.Length - 1;

    /// <summary>
    /// Number of values each layer produces per example, indexed from 0 for layer 1: a convolution block's output is
    /// flattened (channels × height × width after pooling); the last entry is the output layer.
    /// </summary>
    public IReadOnlyList<int> LayerSizes => _layerSizes;

    /// <summary>Human-readable summary, e.g. <c>Mlp 784-128-64-10 Relu σw²=2 σb²=0</c>.</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        var head = Kind == NeuralNetworkArchitectureKind.Cnn
            ? $"Cnn {ImageHeight}x{ImageWidth} conv[{string.Join(",", _channels)}]-{string.Join("-", _hidden.Append(OutputSize))}"
            : $"Mlp {string.Join("-", _hidden.Prepend(InputSize).Append(OutputSize))}";
        var text = string.Create(ci, $"{head} {Activation} σw²={WeightVariance:G4} σb²={BiasVariance:G4}");
        return Retina is null ? text : $"{text} {Retina}";
    }

    // *** Binary format ***
    // int: kind (0 = Mlp, 1 = Cnn), plus RetinaFlag (0x100) when a retina layer follows σ_b² (models saved before the
    //      retina existed never set it and read as before; older builds reject the flag as an unknown kind)
    // int: input size
    // int: output size
    // int[]: hidden layer widths (length-prefixed)
    // int[]: convolution channels (length-prefixed; empty for an MLP)
    // int: image height
    // int: image width
    // int: activation
    // double: σ_w²
    // double: σ_b²
    // retina (only with RetinaFlag): see RetinaSettings.Write
    internal void Write(BinaryWriter writer)
    {
        writer.Write((int)Kind | (Retina is null ? 0 : RetinaFlag));
        writer.Write(InputSize);
        writer.Write(OutputSize);
        writer.WriteInts(_hidden);
        writer.WriteInts(_channels);
        writer.Write(ImageHeight);
        writer.Write(ImageWidth);
        writer.Write((int)Activation);
        writer.Write(WeightVariance);
        writer.Write(BiasVariance);
        Retina?.Write(writer);
    }

    private const int RetinaFlag = 0x100;

    internal static NeuralNetworkArchitecture Read(BinaryReader reader)
    {
        int rawKind = reader.ReadInt32();
        var kind = (NeuralNetworkArchitectureKind)(rawKind & ~RetinaFlag);
        int input = reader.ReadInt32();
        int output = reader.ReadInt32();
        var hidden = reader.ReadInts(maxLength: 1 << 16);
        var channels = reader.ReadInts(maxLength: 1 << 16);
        int h = reader.ReadInt32();
        int w = reader.ReadInt32();
        var activation = (NeuralNetworkActivation)reader.ReadInt32();
        double wv = reader.ReadDouble();
        double bv = reader.ReadDouble();
        try
        {
            var retina = (rawKind & RetinaFlag) != 0 ? RetinaSettings.Read(reader) : null;
            return new NeuralNetworkArchitecture(kind, input, output, hidden, activation, wv, bv, channels, h, w, retina);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException("The saved neural-network architecture is invalid: " + ex.Message, ex);
        }
    }
}
