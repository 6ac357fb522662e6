using System.Buffers.Binary;
using System.Text;
using Components.Core.Persistence;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>
/// Save and load of a <see cref="LocalUpdateRule"/>: its sizes (<see cref="LocalUpdateRuleOptions"/>) and its weights.
/// Layout (little-endian):
/// <code>
/// // *** Binary format ***
/// byte[8]  magic "MLURULE" + 0x00
/// int32    format version (FormatVersion)
/// Core integrity block (StreamIntegrity): "CKS1", uint32 CRC-32C of the payload, int64 payload length, then the payload:
///   int32  DeltaDim, HiddenDim, ReadoutChannels
///   double MergeInit, DecayDivisor
///   bool   UseUnitIds
///   int32  entry count
///   entries: string name (BinaryWriter), byte dtype (0 float32, 1 float64), int32 rank, int64[rank] shape,
///            int32 count n, values[n] (row-major)
/// </code>
/// A load checks magic, version, length and checksum before reading a value, then that every parameter of a rule of the
/// stored sizes is present once with its shape and only finite values; each failure is a <see cref="FormatException"/>
/// naming the file.
/// </summary>
public static class LocalUpdateRuleFile
{
    /// <summary>Current format version; files of a newer version are refused.</summary>
    public const int FormatVersion = 1;

    /// <summary>Name of the embedded resource that holds the shipped rule (src/Transforms/MetaLearnedFeaturizer/Weights/rule-shipped.bin).</summary>
    public const string ShippedResourceName = "Components.Transforms.MetaLearnedFeaturizer.rule-shipped.bin";

    private const int PrefixSize = 8 + 4;
    private const int MaxEntries = 256;

    private static ReadOnlySpan<byte> Magic => "MLURULE\0"u8;

    /// <summary>Writes <paramref name="rule"/> to <paramref name="path"/> (created or overwritten).</summary>
    public static void Save(LocalUpdateRule rule, string path)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = File.Create(path);
        Save(rule, stream);
    }

    /// <summary>Writes <paramref name="rule"/> to <paramref name="stream"/>.</summary>
    public static void Save(LocalUpdateRule rule, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> prefix = stackalloc byte[PrefixSize];
        Magic.CopyTo(prefix);
        BinaryPrimitives.WriteInt32LittleEndian(prefix[8..], FormatVersion);
        stream.Write(prefix);
        var o = rule.Options;
        var parameters = rule.named_parameters().ToList();
        StreamIntegrity.WriteBlock(stream, w =>
        {
            w.Write(o.DeltaDim);
            w.Write(o.HiddenDim);
            w.Write(o.ReadoutChannels);
            w.Write(o.MergeInit);
            w.Write(o.DecayDivisor);
            w.Write(o.UseUnitIds);
            NamedTensors.Write(w, [.. parameters.Select(p => (p.name, (Tensor)p.parameter))]);
        });
    }

    /// <summary>Loads a rule from a file written by <see cref="Save(LocalUpdateRule, string)"/>; the caller owns (disposes) it.</summary>
    /// <param name="path">The file.</param>
    /// <param name="expected">When given, the sizes the caller needs; a file of other sizes is refused.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">Not a rule file, a newer format, truncated, corrupt, inconsistent or non-finite weights.</exception>
    /// <exception cref="InvalidOperationException">The file holds a rule of other sizes than <paramref name="expected"/>.</exception>
    public static LocalUpdateRule Load(string path, LocalUpdateRuleOptions? expected = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Update-rule file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        return Load(stream, path, expected);
    }

    /// <summary>The rule shipped with the library (see docs/transforms/meta-learned-featurizer.md, "Shipped rule"); each call returns a new rule the caller owns.</summary>
    public static LocalUpdateRule LoadShipped()
    {
        var assembly = typeof(LocalUpdateRuleFile).Assembly;
        using var stream = assembly.GetManifestResourceStream(ShippedResourceName)
            ?? throw new InvalidOperationException($"The shipped update rule (resource '{ShippedResourceName}') is missing from {assembly.GetName().Name}; the build is incomplete.");
        return Load(stream, "shipped update rule");
    }

    /// <summary>Loads a rule from <paramref name="stream"/>; <paramref name="source"/> names it in error messages.</summary>
    public static LocalUpdateRule Load(Stream stream, string source = "stream", LocalUpdateRuleOptions? expected = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> prefix = stackalloc byte[PrefixSize];
        int got = stream.ReadAtLeast(prefix, PrefixSize, throwOnEndOfStream: false);
        if (got < 8 || !prefix[..8].SequenceEqual(Magic))
            throw new FormatException($"'{source}' is an unknown rule file: it does not start with the update-rule header 'MLURULE'.");
        if (got < PrefixSize)
            throw new FormatException($"Update-rule file '{source}' is truncated: {got} bytes, the header alone has {PrefixSize}.");
        int version = BinaryPrimitives.ReadInt32LittleEndian(prefix[8..]);
        if (version < 1 || version > FormatVersion)
            throw new FormatException($"Update-rule file '{source}' has format version {version}, an unknown rule file version; this build reads versions 1 to {FormatVersion}.");

        BinaryReader r;
        try
        {
            long? available = stream.CanSeek ? stream.Length - stream.Position : null;
            r = StreamIntegrity.OpenBlock(stream, available, source);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"Update-rule file '{source}' is damaged. {ex.Message}", ex);
        }

        using (r)
        {
            LocalUpdateRuleOptions options;
            Dictionary<string, Tensor> entries;
            try
            {
                options = new LocalUpdateRuleOptions
                {
                    DeltaDim = r.ReadInt32(),
                    HiddenDim = r.ReadInt32(),
                    ReadoutChannels = r.ReadInt32(),
                    MergeInit = r.ReadDouble(),
                    DecayDivisor = r.ReadDouble(),
                    UseUnitIds = r.ReadBoolean(),
                };
                options.Validate();
                entries = NamedTensors.Read(r, MaxEntries);
            }
            catch (Exception ex) when (ex is EndOfStreamException or FormatException or ArgumentOutOfRangeException or IOException or OverflowException)
            {
                throw new FormatException($"Update-rule file '{source}' is malformed: {ex.Message}", ex);
            }

            try
            {
                if (expected is not null && !SameShape(options, expected))
                    throw new InvalidOperationException($"Update-rule file '{source}' holds a rule of sizes ({Describe(options)}), but ({Describe(expected)}) was expected.");
                return Build(options, entries, source);
            }
            finally
            {
                foreach (var t in entries.Values)
                    t.Dispose();
            }
        }
    }

    private static LocalUpdateRule Build(LocalUpdateRuleOptions options, Dictionary<string, Tensor> entries, string source)
    {
        var rule = new LocalUpdateRule(options);
        try
        {
            var parameters = rule.named_parameters().ToList();
            foreach (var name in entries.Keys)
                if (!parameters.Any(p => p.name == name))
                    throw new FormatException($"Update-rule file '{source}' has an entry '{name}' that a rule of sizes ({Describe(options)}) does not have.");
            using var _ = no_grad();
            foreach (var (name, p) in parameters)
            {
                if (!entries.TryGetValue(name, out var value))
                    throw new FormatException($"Update-rule file '{source}' lacks the weights '{name}'.");
                if (!value.shape.SequenceEqual(p.shape))
                    throw new FormatException($"Update-rule file '{source}': weights '{name}' have shape [{string.Join(", ", value.shape)}], but a rule of sizes ({Describe(options)}) needs [{string.Join(", ", p.shape)}].");
                if (!value.isfinite().all().item<bool>())
                    throw new FormatException($"Update-rule file '{source}': weights '{name}' contain NaN or infinite values.");
                p.copy_(value);
            }
            return rule;
        }
        catch
        {
            rule.Dispose();
            throw;
        }
    }

    private static bool SameShape(LocalUpdateRuleOptions a, LocalUpdateRuleOptions b) =>
        a.DeltaDim == b.DeltaDim && a.HiddenDim == b.HiddenDim && a.ReadoutChannels == b.ReadoutChannels
        && a.DecayDivisor.Equals(b.DecayDivisor) && a.UseUnitIds == b.UseUnitIds;

    private static string Describe(LocalUpdateRuleOptions o) =>
        $"DeltaDim {o.DeltaDim}, HiddenDim {o.HiddenDim}, ReadoutChannels {o.ReadoutChannels}, DecayDivisor {o.DecayDivisor}, UseUnitIds {o.UseUnitIds}";
}
