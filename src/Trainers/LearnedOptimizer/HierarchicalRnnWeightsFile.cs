using System.Buffers.Binary;
using System.Text;
using Components.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer;

/// <summary>
/// The learned-optimizer weights file. Layout (little-endian):
/// <code>
/// // *** Binary format ***
/// byte[8]  magic "HRNNOPTW" (meta-parameters) or "HRNNOPTS" (optimizer state)
/// int32    format version (FormatVersion)
/// uint32   CRC-32C of the payload
/// int64    payload length in bytes
/// payload:
///   int32  gradient scales K, parameter-, tensor-, global-GRU sizes
///   int32  entry count
///   entries: string name (BinaryWriter), byte dtype (0 float32, 1 float64), int32 rank, int64[rank] shape,
///            int32 count n, values[n] (row-major)
/// </code>
/// A load checks magic, version, length and checksum before reading a value, so a truncated or altered file fails
/// with a <see cref="FormatException"/> naming the file.
/// </summary>
internal static class HierarchicalRnnWeightsFile
{
    /// <summary>Current format version; files of a newer version are refused.</summary>
    public const int FormatVersion = 1;

    private const int HeaderSize = 8 + 4 + 4 + 8;
    private const int MaxEntries = 1024;

    /// <summary>Magic of a meta-parameters (weights) file.</summary>
    public static ReadOnlySpan<byte> WeightsMagic => "HRNNOPTW"u8;

    /// <summary>Magic of an optimizer-state file.</summary>
    public static ReadOnlySpan<byte> StateMagic => "HRNNOPTS"u8;

    /// <summary>Magic of a meta-training checkpoint (meta-parameters, meta-optimizer moments, step).</summary>
    public static ReadOnlySpan<byte> CheckpointMagic => "HRNNOPTC"u8;

    /// <summary>Writes <paramref name="entries"/> (float32 or float64 tensors) after the header.</summary>
    public static void Write(Stream stream, ReadOnlySpan<byte> magic, HierarchicalRnnArchitecture architecture, IEnumerable<(string Name, Tensor Value)> entries)
    {
        var list = entries.ToList();
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(architecture.GradientScales);
            w.Write(architecture.ParameterCellSize);
            w.Write(architecture.TensorCellSize);
            w.Write(architecture.GlobalCellSize);
            NamedTensors.Write(w, list);
        }
        var bytes = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        Span<byte> header = stackalloc byte[HeaderSize];
        magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], StreamIntegrity.Crc32C(0, bytes));
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], bytes.Length);
        stream.Write(header);
        stream.Write(bytes);
    }

    /// <summary>Reads a file written by <see cref="Write"/>; the entries are new CPU tensors the caller disposes.</summary>
    public static (HierarchicalRnnArchitecture Architecture, Dictionary<string, Tensor> Entries) Read(Stream stream, ReadOnlySpan<byte> magic, string source)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        int got = stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false);
        if (got < HeaderSize || !header[..8].SequenceEqual(magic))
            throw new FormatException($"'{source}' is not a learned-optimizer {What(magic)} file (missing the '{Encoding.ASCII.GetString(magic)}' header).");
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version < 1 || version > FormatVersion)
            throw new FormatException($"Learned-optimizer {What(magic)} '{source}' have format version {version}; this build reads versions 1 to {FormatVersion}.");
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        long length = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        if (length < 0 || length > int.MaxValue)
            throw new FormatException($"Learned-optimizer {What(magic)} '{source}' are corrupt: payload length {length}.");
        var bytes = new byte[length];
        int read = stream.ReadAtLeast(bytes, (int)length, throwOnEndOfStream: false);
        if (read < length)
            throw new FormatException($"Learned-optimizer {What(magic)} '{source}' are truncated: {read} of {length} payload bytes.");
        if (StreamIntegrity.Crc32C(0, bytes) != crc)
            throw new FormatException($"Learned-optimizer {What(magic)} '{source}' are corrupt: the checksum does not match.");
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
            var architecture = new HierarchicalRnnArchitecture(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
            architecture.Validate();
            return (architecture, NamedTensors.Read(r, MaxEntries));
        }
        catch (Exception ex) when (ex is EndOfStreamException or FormatException or ArgumentOutOfRangeException or IOException or OverflowException)
        {
            throw new FormatException($"Learned-optimizer {What(magic)} '{source}' are malformed: {ex.Message}", ex);
        }
    }

    private static string What(ReadOnlySpan<byte> magic) =>
        magic.SequenceEqual(StateMagic) ? "state" : magic.SequenceEqual(CheckpointMagic) ? "meta-training checkpoint" : "weights";
}
