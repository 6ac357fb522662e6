using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Components.Core.Tensors;

/// <summary>
/// Asks Linux to back a fresh, not yet touched native buffer with transparent huge pages (madvise MADV_HUGEPAGE), so
/// that its first touch takes one page fault per 2 MiB instead of one per 4 KiB: for a 188 MB tensor that is most of
/// the cost of filling it (docs/benchmarks.md, loading). A hint only: elsewhere, or where the kernel refuses, nothing
/// happens.
/// </summary>
internal static partial class HugePages
{
    private const int MadviseHugePage = 14; // MADV_HUGEPAGE
    private const long PageSize = 4096;
    private const long HugePageSize = 2 << 20;
    private static bool s_unavailable = !OperatingSystem.IsLinux();

    public static unsafe void Advise(Span<byte> buffer)
    {
        if (s_unavailable || buffer.Length < 2 * HugePageSize)
            return;
        long start = (long)Unsafe.AsPointer(ref MemoryMarshal.GetReference(buffer));
        long end = start + buffer.Length;
        long alignedStart = (start + PageSize - 1) & ~(PageSize - 1);
        try
        {
            _ = madvise((nint)alignedStart, (nuint)(end - alignedStart), MadviseHugePage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
        }
    }

    [LibraryImport("libc.so.6", SetLastError = false)]
    private static partial int madvise(nint address, nuint length, int advice);
}
