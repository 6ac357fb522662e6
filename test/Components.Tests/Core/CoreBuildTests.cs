using System.Text;
using Components.Tests.Harness;
using TorchSharp;

namespace Components.Tests.Core;

/// <summary>
/// Checks that the libLibTorchSharp.so patch of src/Core/build/Components.Core.targets did its job on this machine:
/// the library the process really loaded asks for GLIBCXX_3.4.32 only weakly, or the libstdc++ the process really
/// loaded defines that version; and torch computes.
/// </summary>
public sealed class CoreBuildTests
{
    private const string PatchedVersion = "GLIBCXX_3.4.32";
    private const int VerFlgWeak = 0x2;

    [Fact]
    public void TorchComputesAfterTheBuild()
    {
        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var at = a.t();
        using var g = a.matmul(at); // [[0,1,2],[3,4,5]] · its transpose
        Assert.Equal(new float[] { 5, 14, 14, 50 }, g.data<float>().ToArray());
    }

    [LinuxFact]
    public void LoadedLibTorchSharpNeedsGlibcxx3432OnlyWeaklyOrTheSystemHasIt()
    {
        using (var t = torch.ones(2)) // loads libLibTorchSharp.so (and libstdc++) into the process
        using (var s = t.sum())
            Assert.Equal(2f, s.item<float>());

        var mapped = File.ReadLines("/proc/self/maps")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && f[5].StartsWith('/'))
            .Select(f => f[5])
            .Distinct()
            .ToArray();
        var torchSharp = Assert.Single(mapped, p => Path.GetFileName(p) == "libLibTorchSharp.so");
        var libstdcxx = Assert.Single(mapped, p => Path.GetFileName(p).StartsWith("libstdc++.so", StringComparison.Ordinal));
        Assert.StartsWith(AppContext.BaseDirectory, torchSharp); // the build output's copy, not the NuGet cache's

        var needs = Elf.VersionNeeds(File.ReadAllBytes(torchSharp));
        var defined = Elf.VersionDefinitions(File.ReadAllBytes(libstdcxx));
        Assert.Contains(needs, n => n.Name == "GLIBCXX_3.4"); // the parsers see real data
        Assert.Contains("GLIBCXX_3.4", defined);

        bool systemHasIt = defined.Contains(PatchedVersion);
        foreach (var need in needs.Where(n => n.Name == PatchedVersion))
        {
            Assert.True(systemHasIt || (need.Flags & VerFlgWeak) != 0,
                $"{torchSharp} needs {PatchedVersion} (flags 0x{need.Flags:x}) but {libstdcxx} does not define it: the " +
                "Components.Core.targets patch did not run on this build output.");
        }
        // Every other version the library needs strongly must be defined by the loaded libstdc++.
        foreach (var need in needs.Where(n => n.Name.StartsWith("GLIBCXX_", StringComparison.Ordinal) && (n.Flags & VerFlgWeak) == 0))
            Assert.Contains(need.Name, defined);
    }

    /// <summary>Just enough of the ELF64 little-endian format to read symbol version needs and definitions.</summary>
    private static class Elf
    {
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>The Vernaux entries (version name, flags) of the .gnu.version_r section.</summary>
        public static List<(string Name, int Flags)> VersionNeeds(byte[] b)
        {
            var result = new List<(string, int)>();
            foreach (var (off, strtab, count) in Sections(b, ShtGnuVerneed))
            {
                long vn = off;
                for (int n = 0; n < count; n++)
                {
                    long va = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                    for (int a = 0; a < BitConverter.ToUInt16(b, (int)vn + 2); a++)
                    {
                        result.Add((Str(b, strtab + BitConverter.ToUInt32(b, (int)va + 8)), BitConverter.ToUInt16(b, (int)va + 4)));
                        va += BitConverter.ToUInt32(b, (int)va + 12);
                    }
                    vn += BitConverter.ToUInt32(b, (int)vn + 12);
                }
            }
            return result;
        }

        /// <summary>The version names defined in the .gnu.version_d section.</summary>
        public static HashSet<string> VersionDefinitions(byte[] b)
        {
            var result = new HashSet<string>();
            foreach (var (off, strtab, count) in Sections(b, ShtGnuVerdef))
            {
                long vd = off;
                for (int n = 0; n < count; n++)
                {
                    long vda = vd + BitConverter.ToUInt32(b, (int)vd + 12); // first Verdaux names the version
                    result.Add(Str(b, strtab + BitConverter.ToUInt32(b, (int)vda)));
                    vd += BitConverter.ToUInt32(b, (int)vd + 16);
                }
            }
            return result;
        }

        /// <summary>(file offset, linked string table's file offset, sh_info) of each section of the given type.</summary>
        private static IEnumerable<(long Offset, long StrTab, int Info)> Sections(byte[] b, uint type)
        {
            Assert.True(b.Length > 64 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F' && b[4] == 2 && b[5] == 1,
                "not a 64-bit little-endian ELF file");
            long shoff = BitConverter.ToInt64(b, 0x28);
            int size = BitConverter.ToUInt16(b, 0x3A), count = BitConverter.ToUInt16(b, 0x3C);
            for (int s = 0; s < count; s++)
            {
                int sh = (int)(shoff + (long)s * size);
                if (BitConverter.ToUInt32(b, sh + 4) != type)
                    continue;
                int link = (int)(shoff + (long)BitConverter.ToUInt32(b, sh + 40) * size);
                yield return (BitConverter.ToInt64(b, sh + 24), BitConverter.ToInt64(b, link + 24), BitConverter.ToInt32(b, sh + 44));
            }
        }

        private static string Str(byte[] b, long offset)
        {
            int end = Array.IndexOf(b, (byte)0, (int)offset);
            return Encoding.ASCII.GetString(b, (int)offset, end - (int)offset);
        }
    }
}
