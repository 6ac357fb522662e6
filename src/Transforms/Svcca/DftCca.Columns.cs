using Components.Core.Schema;
using Components.Core.Tensors;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.Svcca;

public static partial class DftCca
{
    /// <summary>
    /// DFT-CCA of two image-shaped vector columns of <paramref name="data"/>, for example two convolution layers from
    /// <c>ml.Transforms.LayerActivations</c>: each column's <see cref="ImageShape"/> annotation says how its vectors
    /// are laid out (CHW — a CNN layer flattened from NCHW — or HWC), and the rows are reshaped to the
    /// [N, H, W, C] tensors of <see cref="Compute(Tensor, Tensor, SvccaSettings?)"/> accordingly. Both columns are
    /// read in one pass of one cursor.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, not a Single vector, or carries no image shape.</exception>
    public static DftCcaResult Compute(IDataView data, string columnA, string columnB, SvccaSettings? settings = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var shapeA = ImageShape.Require(data.Schema, columnA, "activation");
        var shapeB = ImageShape.Require(data.Schema, columnB, "activation");
        using var scope = torch.NewDisposeScope();
        var ab = DataLoading.LoadVectors(data, [columnA, columnB], "activation", cancellation);
        var a = ToNhwc(ab[0], shapeA);
        var b = ToNhwc(ab[1], shapeB);
        return Compute(a, b, settings);
    }

    /// <summary>
    /// Reshapes rows of flat images [N, C·H·W] laid out as <paramref name="shape"/> says into [N, H, W, C], the layout
    /// DFT-CCA reads: a view for HWC, a permuted copy for CHW.
    /// </summary>
    /// <exception cref="ArgumentException">The rows do not have <see cref="ImageShape.Size"/> values.</exception>
    public static Tensor ToNhwc(Tensor rows, ImageShape shape)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(shape);
        if (rows.dim() != 2 || rows.shape[1] != shape.Size)
            throw new ArgumentException($"Expected rows of {shape.Size} values ({shape}); got shape [{string.Join(", ", rows.shape)}].", nameof(rows));
        long n = rows.shape[0];
        return shape.Layout == ImageLayout.Chw
            ? rows.view(n, shape.Channels, shape.Height, shape.Width).permute(0, 2, 3, 1).contiguous()
            : rows.view(n, shape.Height, shape.Width, shape.Channels);
    }
}
