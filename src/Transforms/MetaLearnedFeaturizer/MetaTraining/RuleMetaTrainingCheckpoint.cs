using System.Buffers.Binary;
using Components.Core.Persistence;
using Components.Core.Tensors;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer.MetaTraining;

/// <summary>
/// The meta-trainer's checkpoint file (not the rule file a featurizer loads): the 8 bytes <c>"MLURMTCK"</c>, an int32
/// format version, the rule's options, the step count, the inner-step count, the loss history, then per rule parameter
/// its name, shape and float32 values followed by Adam's first and second moments; last the CRC-32C of every byte
/// before it. A damaged, truncated or foreign file fails with a <see cref="FormatException"/> naming the file and entry.
/// </summary>
internal static class RuleMetaTrainingCheckpoint
{
    public const int Version = 1;
    private static ReadOnlySpan<byte> Magic => "MLURMTCK"u8;

    public sealed record Contents(LocalUpdateRule Rule, Tensor[] M, Tensor[] V, int Steps, long InnerSteps, double[] History);

    public static void Write(string path, LocalUpdateRule rule, Tensor[] m, Tensor[] v, int steps, long innerSteps, IReadOnlyList<double> history)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            var o = rule.Options;
            w.Write(o.DeltaDim); w.Write(o.HiddenDim); w.Write(o.ReadoutChannels);
            w.Write(o.MergeInit); w.Write(o.DecayDivisor); w.Write(o.UseUnitIds);
            w.Write(o.Seed.HasValue); w.Write(o.Seed ?? 0);
            w.Write(steps); w.Write(innerSteps);
            w.WriteDoubles([.. history]);
            var named = rule.named_parameters().ToArray();
            w.Write(named.Length);
            for (int i = 0; i < named.Length; i++)
            {
                w.Write(named[i].name);
                w.WriteInts([.. named[i].parameter.shape.Select(d => (int)d)]);
                foreach (var t in new[] { (Tensor)named[i].parameter, m[i], v[i] })
                {
                    if (t.dtype != ScalarType.Float32)
                        throw new InvalidOperationException($"Checkpoint entry '{named[i].name}' is {t.dtype}; the checkpoint stores Float32.");
                    w.WriteSingles(TensorData.ToSingleArray(t));
                }
            }
        }
        var crc = StreamIntegrity.Crc32C(0, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(tail, crc);
        buffer.Write(tail);
        string temp = path + ".tmp";
        File.WriteAllBytes(temp, buffer.ToArray());
        File.Move(temp, path, overwrite: true);
    }

    public static Contents Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Meta-training checkpoint '{path}' does not exist.", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length + 8 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new FormatException($"'{path}' is not a meta-learned-featurizer meta-training checkpoint (no MLURMTCK header).");
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4));
        if (StreamIntegrity.Crc32C(0, bytes.AsSpan(0, bytes.Length - 4)) != stored)
            throw new FormatException($"Meta-training checkpoint '{path}' is damaged (checksum mismatch).");
        using var r = new BinaryReader(new MemoryStream(bytes, Magic.Length, bytes.Length - Magic.Length - 4));
        LocalUpdateRule? rule = null;
        var m = new List<Tensor>(); var v = new List<Tensor>();
        try
        {
            int version = r.ReadInt32();
            if (version != Version)
                throw new FormatException($"Meta-training checkpoint '{path}' has format version {version}; this build reads {Version}.");
            var options = new LocalUpdateRuleOptions
            {
                DeltaDim = r.ReadInt32(), HiddenDim = r.ReadInt32(), ReadoutChannels = r.ReadInt32(),
                MergeInit = r.ReadDouble(), DecayDivisor = r.ReadDouble(), UseUnitIds = r.ReadBoolean(),
            };
            bool hasSeed = r.ReadBoolean(); int seed = r.ReadInt32();
            options.Seed = hasSeed ? seed : null;
            int steps = r.ReadInt32(); long inner = r.ReadInt64();
            var history = r.ReadDoubles();
            rule = new LocalUpdateRule(options);
            var named = rule.named_parameters().ToArray();
            int count = r.ReadInt32();
            if (count != named.Length)
                throw new FormatException($"Meta-training checkpoint '{path}' holds {count} parameters; the rule has {named.Length}.");
            using (no_grad())
            {
                foreach (var (name, p) in named)
                {
                    string n = r.ReadString();
                    var shape = r.ReadInts();
                    if (n != name || !shape.Select(d => (long)d).SequenceEqual(p.shape))
                        throw new FormatException($"Meta-training checkpoint '{path}': entry '{n}' [{string.Join(", ", shape)}] where '{name}' [{string.Join(", ", p.shape)}] was expected.");
                    long[] s = [.. p.shape];
                    var values = r.ReadSingles();
                    p.copy_(TensorData.FromSpan(values, s));
                    m.Add(TensorData.FromSpan(r.ReadSingles(), s).DetachFromDisposeScope());
                    v.Add(TensorData.FromSpan(r.ReadSingles(), s).DetachFromDisposeScope());
                }
            }
            return new Contents(rule, [.. m], [.. v], steps, inner, history);
        }
        catch (Exception ex) when (ex is EndOfStreamException or ArgumentException or InvalidDataException)
        {
            rule?.Dispose();
            foreach (var t in m.Concat(v)) t.Dispose();
            throw new FormatException($"Meta-training checkpoint '{path}' is corrupt: {ex.Message}", ex);
        }
        catch
        {
            rule?.Dispose();
            foreach (var t in m.Concat(v)) t.Dispose();
            throw;
        }
    }
}
