using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Components.Core.Persistence;

/// <summary>
/// The integrity block that precedes every binary stream the suite writes inside a model zip (format
/// <see cref="FormatVersion"/>): 4 bytes <c>"CKS1"</c>, the CRC-32C of the payload (uint32) and the payload length in
/// bytes (int64), then the payload itself. A load verifies all three and fails with a <see cref="FormatException"/>
/// that names the zip entry. Models written before the block existed are recognised by their header
/// (<see cref="ModelLoadReader.HasIntegrityBlocks"/>) and read as before.
/// </summary>
internal static class StreamIntegrity
{
    /// <summary>Bytes of the block before the payload.</summary>
    public const int HeaderSize = 16;

    /// <summary>The block's format version (the last byte of the magic).</summary>
    public const byte FormatVersion = (byte)'1';

    private static ReadOnlySpan<byte> Magic => "CKS1"u8;

    /// <summary>CRC-32C (Castagnoli) of <paramref name="data"/>, continuing from <paramref name="crc"/> (start with 0).</summary>
    public static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        while (data.Length >= 8)
        {
            c = BitOperations.Crc32C(c, MemoryMarshal.Read<ulong>(data));
            data = data[8..];
        }
        foreach (var b in data)
            c = BitOperations.Crc32C(c, b);
        return ~c;
    }

    /// <summary>Writes the block header for a payload of <paramref name="length"/> bytes with checksum <paramref name="crc"/>.</summary>
    public static void WriteHeader(Span<byte> destination, uint crc, long length)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], crc);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], length);
    }

    /// <summary>
    /// Writes <paramref name="write"/>'s output to <paramref name="stream"/> preceded by the block header. On a
    /// seekable stream the payload streams through and the header is filled in afterwards; otherwise it is buffered.
    /// </summary>
    public static void WriteBlock(Stream stream, Action<BinaryWriter> write)
    {
        if (stream.CanSeek)
        {
            using var sink = new ChecksumWriteStream(stream, rewriteHeaderOnEveryWrite: false);
            using (var w = new BinaryWriter(sink, System.Text.Encoding.UTF8, leaveOpen: true))
                write(w);
            sink.WriteHeader();
            return;
        }
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            write(w);
        var payload = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        Span<byte> header = stackalloc byte[HeaderSize];
        WriteHeader(header, Crc32C(0, payload), payload.Length);
        stream.Write(header);
        stream.Write(payload);
    }

    /// <summary>
    /// Reads a block from <paramref name="stream"/> (positioned at its header), verifies length and checksum, and
    /// returns a reader positioned at the payload. <paramref name="available"/> is the number of bytes the entry has
    /// from the header on (null if unknown). <paramref name="entry"/> names the zip entry in error messages.
    /// </summary>
    public static BinaryReader OpenBlock(Stream stream, long? available, string entry)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        int got = stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false);
        if (got < HeaderSize)
            throw Truncated(entry, $"{got} bytes where the {HeaderSize}-byte integrity header was expected");
        if (!header[..4].SequenceEqual(Magic))
            throw Corrupt(entry, "its integrity header is damaged");
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        long length = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        if (length < 0)
            throw Corrupt(entry, "its integrity header is damaged");
        if (available is { } a)
        {
            long payload = a - HeaderSize;
            if (payload < length)
                throw Truncated(entry, $"{payload} of {length} bytes");
            if (payload > length)
                throw Corrupt(entry, $"it has {payload - length} bytes more than the {length} written");
        }

        long start = stream.CanSeek ? stream.Position : -1;
        Stream payloadStream;
        uint actual = 0;
        if (start >= 0)
        {
            var chunk = new byte[(int)Math.Min(length, 1 << 16)];
            long left = length;
            while (left > 0)
            {
                int n = stream.ReadAtLeast(chunk.AsSpan(0, (int)Math.Min(left, chunk.Length)), 1, throwOnEndOfStream: false);
                if (n == 0)
                    throw Truncated(entry, $"{length - left} of {length} bytes");
                actual = Crc32C(actual, chunk.AsSpan(0, n));
                left -= n;
            }
            stream.Position = start;
            payloadStream = stream;
        }
        else
        {
            if (length > Array.MaxLength)
                throw Corrupt(entry, "its integrity header is damaged");
            var bytes = new byte[length];
            int n = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (n < bytes.Length)
                throw Truncated(entry, $"{n} of {length} bytes");
            actual = Crc32C(0, bytes);
            payloadStream = new MemoryStream(bytes, writable: false);
        }
        if (actual != crc)
            throw Corrupt(entry, $"its checksum does not match (CRC-32C {actual:x8}, written {crc:x8})");
        return new BinaryReader(payloadStream, System.Text.Encoding.UTF8, leaveOpen: true);
    }

    private static FormatException Truncated(string entry, string detail)
        => new($"The model entry '{entry}' is truncated ({detail}); the file is incomplete or damaged.");

    private static FormatException Corrupt(string entry, string detail)
        => new($"The model entry '{entry}' is corrupt: {detail}; the file was modified or damaged.");

    /// <summary>
    /// A write-only pass-through stream that reserves the block header in front of the payload, checksums the bytes
    /// written and fills the header in: after every write (for ML.NET's main model stream, whose end the suite never
    /// sees) or once, in <see cref="WriteHeader()"/>. The inner stream must be seekable.
    /// </summary>
    internal sealed class ChecksumWriteStream : Stream
    {
        private readonly Stream _inner;
        private readonly long _headerAt;
        private readonly bool _rewriteEveryWrite;
        private readonly byte[] _header = new byte[HeaderSize];
        private uint _crc;
        private long _length;

        public ChecksumWriteStream(Stream inner, bool rewriteHeaderOnEveryWrite)
        {
            _inner = inner;
            _rewriteEveryWrite = rewriteHeaderOnEveryWrite;
            _headerAt = inner.Position;
            StreamIntegrity.WriteHeader(_header, 0, 0);
            inner.Write(_header);
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position
        {
            get => _length;
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _inner.Write(buffer);
            _crc = Crc32C(_crc, buffer);
            _length += buffer.Length;
            if (_rewriteEveryWrite)
                WriteHeader();
        }

        public override void WriteByte(byte value) => Write([value]);

        /// <summary>Writes the header for the bytes so far, leaving the inner stream at their end.</summary>
        public void WriteHeader()
        {
            long end = _inner.Position;
            StreamIntegrity.WriteHeader(_header, _crc, _length);
            _inner.Position = _headerAt;
            _inner.Write(_header);
            _inner.Position = end;
        }

        public override void Flush() => _inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
