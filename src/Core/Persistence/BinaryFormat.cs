using System.Runtime.InteropServices;

namespace Components.Core.Persistence;

/// <summary>
/// Helpers for the suite's binary formats: length-prefixed arrays with decode checks. Arrays are written and read
/// as one block of little-endian bytes (the same bytes as one <c>Write</c> per value, with one stream call).
/// </summary>
public static class BinaryFormat
{
    /// <summary>Writes an int32 length then the values.</summary>
    public static void WriteSingles(this BinaryWriter w, ReadOnlySpan<float> values)
    {
        w.Write(values.Length);
        if (BitConverter.IsLittleEndian)
        {
            w.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        foreach (var v in values)
            w.Write(v);
    }

    /// <summary>Writes an int32 length then the values.</summary>
    public static void WriteDoubles(this BinaryWriter w, ReadOnlySpan<double> values)
    {
        w.Write(values.Length);
        if (BitConverter.IsLittleEndian)
        {
            w.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        foreach (var v in values)
            w.Write(v);
    }

    /// <summary>Writes an int32 length then the values.</summary>
    public static void WriteInts(this BinaryWriter w, ReadOnlySpan<int> values)
    {
        w.Write(values.Length);
        if (BitConverter.IsLittleEndian)
        {
            w.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        foreach (var v in values)
            w.Write(v);
    }

    /// <summary>Writes an int32 count then each string.</summary>
    public static void WriteStrings(this BinaryWriter w, IReadOnlyList<string> values)
    {
        w.Write(values.Count);
        foreach (var v in values)
            w.Write(v);
    }

    /// <summary>Reads an array written by <see cref="WriteSingles"/>.</summary>
    public static float[] ReadSingles(this BinaryReader r, int maxLength = int.MaxValue)
    {
        var n = CheckLength(r.ReadInt32(), maxLength);
        var a = new float[n];
        if (BitConverter.IsLittleEndian)
        {
            ReadExactly(r, MemoryMarshal.AsBytes(a.AsSpan()));
            return a;
        }
        for (int i = 0; i < n; i++)
            a[i] = r.ReadSingle();
        return a;
    }

    /// <summary>Reads an array written by <see cref="WriteDoubles"/>.</summary>
    public static double[] ReadDoubles(this BinaryReader r, int maxLength = int.MaxValue)
    {
        var n = CheckLength(r.ReadInt32(), maxLength);
        var a = new double[n];
        if (BitConverter.IsLittleEndian)
        {
            ReadExactly(r, MemoryMarshal.AsBytes(a.AsSpan()));
            return a;
        }
        for (int i = 0; i < n; i++)
            a[i] = r.ReadDouble();
        return a;
    }

    /// <summary>Reads an array written by <see cref="WriteInts"/>.</summary>
    public static int[] ReadInts(this BinaryReader r, int maxLength = int.MaxValue)
    {
        var n = CheckLength(r.ReadInt32(), maxLength);
        var a = new int[n];
        if (BitConverter.IsLittleEndian)
        {
            ReadExactly(r, MemoryMarshal.AsBytes(a.AsSpan()));
            return a;
        }
        for (int i = 0; i < n; i++)
            a[i] = r.ReadInt32();
        return a;
    }

    /// <summary>Reads strings written by <see cref="WriteStrings"/>.</summary>
    public static string[] ReadStrings(this BinaryReader r, int maxLength = int.MaxValue)
    {
        var n = CheckLength(r.ReadInt32(), maxLength);
        var a = new string[n];
        for (int i = 0; i < n; i++)
            a[i] = r.ReadString();
        return a;
    }

    /// <summary>Throws <see cref="FormatException"/> when a decoded value is invalid (a corrupt model).</summary>
    public static void CheckDecode(bool condition, string? what = null)
    {
        if (!condition)
            throw new FormatException(what is null ? "Corrupt model file." : $"Corrupt model file: {what}.");
    }

    private static void ReadExactly(BinaryReader r, Span<byte> destination)
    {
        while (destination.Length > 0)
        {
            int n = r.Read(destination);
            if (n == 0)
                throw new EndOfStreamException("Unable to read beyond the end of the stream.");
            destination = destination[n..];
        }
    }

    private static int CheckLength(int n, int max)
    {
        CheckDecode(n >= 0 && n <= max, $"array length {n}");
        return n;
    }
}
