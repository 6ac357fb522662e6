using static TorchSharp.torch;

namespace Components.Core.Persistence;

/// <summary>
/// A list of named float32/float64 tensors in a binary payload, as the suite's weight files store them:
/// <code>
/// int32 count, then per entry: string name, byte dtype (0 float32, 1 float64), int32 rank (0–4),
///       int64 × rank shape, then the values (length-prefixed, see <see cref="BinaryFormat"/>)
/// </code>
/// Other dtypes are written as float32.
/// </summary>
public static class NamedTensors
{
    /// <summary>Writes <paramref name="entries"/> (count first) to <paramref name="w"/>.</summary>
    public static void Write(BinaryWriter w, IReadOnlyCollection<(string Name, Tensor Value)> entries)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(entries);
        w.Write(entries.Count);
        foreach (var (name, value) in entries)
        {
            w.Write(name);
            using var v = value.detach().cpu().contiguous();
            bool isDouble = v.dtype == ScalarType.Float64;
            w.Write((byte)(isDouble ? 1 : 0));
            w.Write((int)v.dim());
            foreach (var d in v.shape)
                w.Write(d);
            if (isDouble)
                w.WriteDoubles(v.data<double>().ToArray());
            else
                using (var f = v.to(ScalarType.Float32))
                    w.WriteSingles(f.data<float>().ToArray());
        }
    }

    /// <summary>
    /// Reads entries written by <see cref="Write"/>: new CPU tensors, detached from any dispose scope, that the caller
    /// disposes. Malformed input throws <see cref="FormatException"/> (through <see cref="BinaryFormat.CheckDecode"/>) or
    /// <see cref="EndOfStreamException"/>; nothing is left allocated then.
    /// </summary>
    /// <param name="r">The reader, positioned at the count.</param>
    /// <param name="maxEntries">The most entries a valid payload holds.</param>
    public static Dictionary<string, Tensor> Read(BinaryReader r, int maxEntries)
    {
        ArgumentNullException.ThrowIfNull(r);
        int count = r.ReadInt32();
        BinaryFormat.CheckDecode(count >= 0 && count <= maxEntries, $"entry count {count}");
        var entries = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            for (int e = 0; e < count; e++)
            {
                var name = r.ReadString();
                BinaryFormat.CheckDecode(!entries.ContainsKey(name), $"duplicate entry '{name}'");
                byte dtype = r.ReadByte();
                BinaryFormat.CheckDecode(dtype <= 1, $"entry '{name}' has an unknown dtype {dtype}");
                int rank = r.ReadInt32();
                BinaryFormat.CheckDecode(rank >= 0 && rank <= 4, $"entry '{name}' has rank {rank}");
                var shape = new long[rank];
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = r.ReadInt64();
                    BinaryFormat.CheckDecode(shape[d] >= 0, $"entry '{name}' has a negative dimension");
                }
                long n = shape.Aggregate(1L, (a, b) => checked(a * b));
                Tensor t;
                if (dtype == 1)
                {
                    var values = r.ReadDoubles();
                    BinaryFormat.CheckDecode(values.Length == n, $"entry '{name}' has {values.Length} values for shape [{string.Join(", ", shape)}]");
                    t = tensor(values, shape);
                }
                else
                {
                    var values = r.ReadSingles();
                    BinaryFormat.CheckDecode(values.Length == n, $"entry '{name}' has {values.Length} values for shape [{string.Join(", ", shape)}]");
                    t = tensor(values, shape);
                }
                entries[name] = t.DetachFromDisposeScope();
            }
            return entries;
        }
        catch
        {
            foreach (var t in entries.Values)
                t.Dispose();
            throw;
        }
    }
}
