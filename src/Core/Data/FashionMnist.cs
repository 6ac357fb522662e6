using Components.Core.Schema;
using Microsoft.ML;

namespace Components.Core.Data;

/// <summary>Train and test splits of Fashion-MNIST and where they came from.</summary>
/// <param name="Train">Training rows: <c>Label</c> (key, 10 classes with names) and <c>Features</c> (Single[784] in [0, 1]).</param>
/// <param name="Test">Test rows, same schema.</param>
/// <param name="Source">The directory read, or <see cref="FashionMnist.EmbeddedSource"/>.</param>
public sealed record FashionMnistData(IDataView Train, IDataView Test, string Source)
{
    /// <summary>True when the data is the embedded class-balanced subset rather than the full dataset.</summary>
    public bool IsEmbeddedSubset => Source == FashionMnist.EmbeddedSource;
}

/// <summary>
/// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017; MIT licence; 60,000 train and 10,000 test 28×28 grey images in 10
/// classes). Nothing is downloaded: the files come from an explicit directory, the <c>FASHION_MNIST_DIR</c> environment
/// variable, or the Debian package <c>dataset-fashion-mnist</c> (/usr/share/datasets/fashion-mnist); otherwise an
/// embedded class-balanced subset (2,000 train / 1,000 test) is used so that samples and tests run anywhere.
/// </summary>
public static class FashionMnist
{
    /// <summary>The Debian package's directory.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The environment variable naming a directory with the four IDX files.</summary>
    public const string EnvironmentVariable = "FASHION_MNIST_DIR";

    /// <summary><see cref="FashionMnistData.Source"/> of the embedded subset.</summary>
    public const string EmbeddedSource = "embedded subset";

    /// <summary>Image side length.</summary>
    public const int Side = 28;

    /// <summary>Class names in label order 0..9.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private const string InstallHint = "Install the Debian package with `apt-get install dataset-fashion-mnist`, or set " +
        EnvironmentVariable + " to a directory holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], " +
        "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz].";

    /// <summary>
    /// Loads Fashion-MNIST. An explicit <paramref name="directory"/> must hold the files; otherwise the environment
    /// variable, then the Debian package directory, then the embedded subset are tried in turn.
    /// </summary>
    /// <param name="mlContext">The context (used for nothing but symmetry with ML.NET loaders; may be shared).</param>
    /// <param name="directory">Directory with the four IDX files (plain or .gz), or null to search.</param>
    /// <param name="trainRows">Keep only the first n training rows (null = all).</param>
    /// <param name="testRows">Keep only the first n test rows (null = all).</param>
    /// <exception cref="FileNotFoundException">An explicit directory or FASHION_MNIST_DIR lacks a file.</exception>
    /// <exception cref="InvalidDataException">A file is corrupt or the files disagree.</exception>
    public static FashionMnistData Load(MLContext mlContext, string? directory = null, int? trainRows = null, int? testRows = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        if (trainRows is <= 0)
            throw new ArgumentOutOfRangeException(nameof(trainRows), trainRows, "Must be positive.");
        if (testRows is <= 0)
            throw new ArgumentOutOfRangeException(nameof(testRows), testRows, "Must be positive.");
        if (directory is not null)
            return LoadDirectory(directory, trainRows, testRows, required: true)!;
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env))
            return LoadDirectory(env, trainRows, testRows, required: true)!;
        return LoadDirectory(DebianDirectory, trainRows, testRows, required: false) ?? LoadEmbeddedSubset(mlContext, trainRows, testRows);
    }

    /// <summary>Loads the embedded class-balanced subset (2,000 train / 1,000 test rows).</summary>
    public static FashionMnistData LoadEmbeddedSubset(MLContext mlContext, int? trainRows = null, int? testRows = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var train = FromStreams(OpenResource("train-images-idx3-ubyte.gz"), OpenResource("train-labels-idx1-ubyte.gz"), "embedded train", trainRows);
        var test = FromStreams(OpenResource("t10k-images-idx3-ubyte.gz"), OpenResource("t10k-labels-idx1-ubyte.gz"), "embedded test", testRows);
        return new FashionMnistData(train, test, EmbeddedSource);
    }

    /// <summary>Reads an images file and a labels file into an IDataView (Label key, Features Single[rows·cols]).</summary>
    public static IDataView LoadIdx(string imagesPath, string labelsPath, int? maxRows = null)
    {
        var (count, rows, cols, pixels) = IdxReader.ReadImages(imagesPath);
        var labels = IdxReader.ReadLabels(labelsPath);
        return Build(count, rows, cols, pixels, labels, imagesPath, maxRows);
    }

    private static FashionMnistData? LoadDirectory(string directory, int? trainRows, int? testRows, bool required)
    {
        string? Find(string stem)
        {
            foreach (var name in new[] { stem + ".gz", stem })
            {
                var p = Path.Combine(directory, name);
                if (File.Exists(p))
                    return p;
            }
            return null;
        }
        var stems = new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
        var paths = stems.Select(Find).ToArray();
        if (paths.All(p => p is null) && !required)
            return null;
        var missing = stems.Where((s, i) => paths[i] is null).ToArray();
        if (missing.Length > 0)
            throw new FileNotFoundException($"Fashion-MNIST directory '{directory}' lacks {string.Join(", ", missing)}. {InstallHint}");
        try
        {
            return new FashionMnistData(LoadIdx(paths[0]!, paths[1]!, trainRows), LoadIdx(paths[2]!, paths[3]!, testRows), directory);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{ex.Message} {InstallHint}", ex);
        }
    }

    private static IDataView FromStreams(Stream images, Stream labels, string name, int? maxRows)
    {
        using (images)
        using (labels)
        {
            var (idims, pixels) = IdxReader.Read(new System.IO.Compression.GZipStream(images, System.IO.Compression.CompressionMode.Decompress), name);
            var (ldims, labelBytes) = IdxReader.Read(new System.IO.Compression.GZipStream(labels, System.IO.Compression.CompressionMode.Decompress), name);
            if (idims.Length != 3 || ldims.Length != 1)
                throw new InvalidDataException($"Embedded Fashion-MNIST subset '{name}' is corrupt.");
            return Build(idims[0], idims[1], idims[2], pixels, labelBytes, name, maxRows);
        }
    }

    private static IDataView Build(int count, int rows, int cols, byte[] pixels, byte[] labels, string name, int? maxRows)
    {
        if (labels.Length != count)
            throw new InvalidDataException($"Fashion-MNIST '{name}': {count} images but {labels.Length} labels.");
        int bad = Array.FindIndex(labels, l => l >= ClassNames.Count);
        if (bad >= 0)
            throw new InvalidDataException($"Fashion-MNIST '{name}': label {labels[bad]} at row {bad} is outside 0..9.");
        int n = Math.Min(count, maxRows ?? count);
        return new ImageDataView(pixels, labels, new ImageShape(1, rows, cols), ClassNames, Enumerable.Range(0, n).ToArray());
    }

    private static Stream OpenResource(string file)
    {
        var asm = typeof(FashionMnist).Assembly;
        var name = $"Components.Core.Data.FashionMnistSubset.{file}";
        return asm.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded Fashion-MNIST subset resource '{name}' is missing from {asm.GetName().Name}.");
    }
}
