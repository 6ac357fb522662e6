using System.Text;
using Components.Core.Persistence;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Components.Tests.Core.Persistence;

public sealed class NamedTensorsTests
{
    [Fact]
    public void RoundTripKeepsNamesShapesDtypesAndValues()
    {
        using var a = arange(6, ScalarType.Float32).reshape(2, 3);
        using var b = tensor(new[] { Math.PI, -1e300 }, ScalarType.Float64);
        using var c = tensor(2.5f); // rank 0
        var bytes = Write(w => NamedTensors.Write(w, [("a", a), ("b.x", b), ("c", c)]));

        var read = Read(bytes, maxEntries: 3);
        try
        {
            Assert.Equal(["a", "b.x", "c"], read.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(new long[] { 2, 3 }, read["a"].shape);
            Assert.Equal(ScalarType.Float32, read["a"].dtype);
            Assert.Equal(ScalarType.Float64, read["b.x"].dtype);
            Assert.Empty(read["c"].shape);
            Assert.True(read["a"].eq(a).all().item<bool>());
            Assert.True(read["b.x"].eq(b).all().item<bool>());
            Assert.Equal(2.5f, read["c"].item<float>());
        }
        finally
        {
            foreach (var t in read.Values)
                t.Dispose();
        }
    }

    [Fact]
    public void MalformedPayloadsFailWithFormatExceptionsNamingTheProblem()
    {
        using var a = ones(3);
        // More entries than allowed.
        var two = Write(w => NamedTensors.Write(w, [("a", a), ("b", a)]));
        Assert.Contains("entry count", Assert.Throws<FormatException>(() => Read(two, maxEntries: 1)).Message);
        // The same name twice.
        var dup = Write(w => NamedTensors.Write(w, [("a", a), ("a", a)]));
        Assert.Contains("duplicate entry 'a'", Assert.Throws<FormatException>(() => Read(dup, maxEntries: 4)).Message);
        // A shape that does not match the value count.
        var bad = Write(w =>
        {
            w.Write(1);
            w.Write("w");
            w.Write((byte)0);
            w.Write(1);
            w.Write(5L);
            w.WriteSingles(new float[3]);
        });
        Assert.Contains("entry 'w' has 3 values for shape [5]", Assert.Throws<FormatException>(() => Read(bad, maxEntries: 4)).Message);
        // Cut short.
        Assert.Throws<EndOfStreamException>(() => Read(two[..^4], maxEntries: 4));
    }

    private static byte[] Write(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            write(w);
        return stream.ToArray();
    }

    private static Dictionary<string, Tensor> Read(byte[] bytes, int maxEntries)
    {
        using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        return NamedTensors.Read(r, maxEntries);
    }
}
