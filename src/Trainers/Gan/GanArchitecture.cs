using System.Globalization;
using Components.Core.Persistence;

namespace Components.Trainers.Gan;

/// <summary>The generator/discriminator pair of a GAN.</summary>
public enum GanNetworkKind
{
    /// <summary>Multilayer perceptrons for vectors: G = latent → hidden (ReLU)… → data, D = data → hidden (leaky ReLU 0.2)… → r.</summary>
    Mlp,

    /// <summary>
    /// A small DCGAN-style pair for 28×28 single-channel images in [0, 1] (784-value rows): G = latent → 2c·7·7 (ReLU) →
    /// transposed convolution 4×4/2 to c·14·14 (ReLU) → transposed convolution 4×4/2 to 1·28·28 → sigmoid; D =
    /// convolution 4×4/2 to c·14·14 (leaky ReLU 0.2) → 4×4/2 to 2c·7·7 (leaky ReLU 0.2) → linear → r, with c the base
    /// channel count. libtorch's native conv2d and conv_transpose2d; no batch normalisation, so every row is generated
    /// independently of the others.
    /// </summary>
    Dcgan,
}

/// <summary>The shapes of a GAN's two networks.</summary>
/// <param name="Kind">MLP or DCGAN.</param>
/// <param name="DataSize">Values per data row.</param>
/// <param name="LatentSize">Values per noise row.</param>
/// <param name="HiddenUnits">MLP hidden widths (both networks); unused by DCGAN.</param>
/// <param name="Channels">DCGAN base channel count c; unused by MLP.</param>
public sealed record GanArchitecture(GanNetworkKind Kind, int DataSize, int LatentSize, IReadOnlyList<int> HiddenUnits, int Channels)
{
    /// <summary>Image side of the DCGAN pair.</summary>
    public const int ImageSide = 28;

    /// <inheritdoc/>
    public override string ToString() => Kind == GanNetworkKind.Mlp
        ? string.Create(CultureInfo.InvariantCulture, $"MLP {LatentSize} → [{string.Join(", ", HiddenUnits)}] → {DataSize}")
        : string.Create(CultureInfo.InvariantCulture, $"DCGAN {LatentSize} → 1×28×28, {Channels} base channels");

    internal void Write(BinaryWriter w)
    {
        w.Write((int)Kind);
        w.Write(DataSize);
        w.Write(LatentSize);
        w.WriteInts(HiddenUnits.ToArray());
        w.Write(Channels);
    }

    internal static GanArchitecture Read(BinaryReader r)
    {
        int kind = r.ReadInt32(), data = r.ReadInt32(), latent = r.ReadInt32();
        var hidden = r.ReadInts(maxLength: 64);
        int channels = r.ReadInt32();
        BinaryFormat.CheckDecode(Enum.IsDefined((GanNetworkKind)kind), "GAN network kind");
        BinaryFormat.CheckDecode(data >= 1 && data <= 1 << 24 && latent >= 1 && latent <= 1 << 16, "GAN sizes");
        BinaryFormat.CheckDecode(hidden.All(h => h >= 1 && h <= 1 << 16) && channels >= 1 && channels <= 4096, "GAN widths");
        BinaryFormat.CheckDecode((GanNetworkKind)kind != GanNetworkKind.Dcgan || data == ImageSide * ImageSide, "DCGAN data size");
        return new GanArchitecture((GanNetworkKind)kind, data, latent, hidden, channels);
    }
}
