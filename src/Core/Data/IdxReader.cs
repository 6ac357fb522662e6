using System.Buffers.Binary;
using System.IO.Compression;

namespace Components.Core.Data;

/// <summary>
/// Reader for the IDX format of MNIST and Fashion-MNIST (plain or gzip): a big-endian header (magic 0x00000801 for
/// unsigned-byte vectors, 0x00000803 for unsigned-byte 3-d arrays), the dimension sizes, then the bytes.
/// </summary>
public static class IdxReader
{
    /// <summary>Reads a label file (1 dimension) and returns the labels.</summary>
    public static byte[] ReadLabels(string path)
    {
        var (dims, data) = Read(path);
        if (dims.Length != 1)
            throw new InvalidDataException($"IDX file '{path}' has {dims.Length} dimensions; a label file has 1.");
        return data;
    }

    /// <summary>Reads an image file (3 dimensions) and returns (count, rows, columns, pixels row-major).</summary>
    public static (int Count, int Rows, int Columns, byte[] Pixels) ReadImages(string path)
    {
        var (dims, data) = Read(path);
        if (dims.Length != 3)
            throw new InvalidDataException($"IDX file '{path}' has {dims.Length} dimensions; an image file has 3.");
        return (dims[0], dims[1], dims[2], data);
    }

    /// <summary>Reads any unsigned-byte IDX file: its dimensions and data.</summary>
    public static (int[] Dimensions, byte[] Data) Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"IDX file '{path}' not found.", path);
        using var file = File.OpenRead(path);
        using Stream stream = IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(stream, path);
        }
        catch (InvalidDataException ex) when (ex.Message.Contains("gzip", StringComparison.OrdinalIgnoreCase) || ex.InnerException is not null)
        {
            throw new InvalidDataException($"IDX file '{path}' is corrupt: {ex.Message}", ex);
        }
    }

    /// <summary>Reads an unsigned-byte IDX stream.</summary>
    public static (int[] Dimensions, byte[] Data) Read(Stream stream, string name = "stream")
    {
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, name, "header");
        if (header[0] != 0 || header[1] != 0)
            throw new InvalidDataException($"IDX file '{name}' has a bad magic number (first two bytes must be 0).");
        if (header[2] != 0x08)
            throw new InvalidDataException($"IDX file '{name}' has element type 0x{header[2]:x2}; only unsigned bytes (0x08) are supported.");
        int nd = header[3];
        if (nd is < 1 or > 4)
            throw new InvalidDataException($"IDX file '{name}' declares {nd} dimensions.");
        var dims = new int[nd];
        long total = 1;
        Span<byte> four = stackalloc byte[4];
        for (int i = 0; i < nd; i++)
        {
            ReadExactly(stream, four, name, "dimensions");
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(four);
            if (dims[i] < 0)
                throw new InvalidDataException($"IDX file '{name}' has a negative dimension.");
            total *= dims[i];
        }
        if (total > Array.MaxLength)
            throw new InvalidDataException($"IDX file '{name}' declares {total} elements, too many.");
        var data = new byte[total];
        ReadExactly(stream, data, name, "data");
        return (dims, data);
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int n = file.Read(magic);
        file.Position = 0;
        return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string name, string part)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"IDX file '{name}' is truncated (in its {part}).");
        }
    }
}
