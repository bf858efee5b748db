using System.Runtime.InteropServices;

namespace Lathe.Tensors.Storage;

/// <summary>Transparent huge pages for large tensor buffers. A training step streams activations of tens of megabytes
/// through GEMMs and elementwise passes; in 4 KB pages each megabyte is 256 TLB entries, and the GEMM's strided panel
/// reads walk the page tables again and again. Buffers first used for 2 MB or more are placed on 2 MB boundaries and
/// the whole 2 MB pages of that part marked MADV_HUGEPAGE, so where the kernel's transparent-huge-page mode is
/// <c>madvise</c> (the common default) or <c>always</c>, they are backed by 2 MB pages. Elsewhere (other systems, THP
/// off) the advice is a no-op. docs/ENGINE.md has the measurements.</summary>
internal static unsafe partial class HugePages
{
    public const nuint Size = 2 << 20;
    const int MadvHugePage = 14;   // <sys/mman.h>, Linux
    static readonly bool s_enabled = OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("LATHE_HUGE_PAGES") != "0";

    /// <summary>Whether <paramref name="usedBytes"/> of a buffer are worth huge pages: at least one whole one.</summary>
    public static bool Worth(nuint usedBytes) => s_enabled && usedBytes >= Size;

    /// <summary>NativeMemory.AlignedAlloc of <paramref name="bytes"/> at <paramref name="alignment"/>, or, when the first
    /// <paramref name="usedBytes"/> are <see cref="Worth"/> it, on a 2 MB boundary with the whole 2 MB pages inside
    /// those bytes advised. The page that holds the end of the used part is left to 4 KB pages: a huge page there would
    /// be faulted in whole for the few KB used (each such buffer cost up to 2 MB of RSS — +190 MB for a ViT step's
    /// activations when all of it was advised). Free with NativeMemory.AlignedFree.</summary>
    public static void* Allocate(nuint bytes, nuint usedBytes, nuint alignment)
    {
        if (!Worth(usedBytes)) return NativeMemory.AlignedAlloc(bytes, alignment);
        void* p = NativeMemory.AlignedAlloc(bytes, Size);
        Advise(p, usedBytes & ~(Size - 1));
        return p;
    }

    /// <summary>Advises huge pages for [p, p + bytes) (both 2 MB multiples); failure is ignored — the memory works either way.</summary>
    public static void Advise(void* p, nuint bytes)
    {
        try { _ = madvise(p, bytes, MadvHugePage); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    [LibraryImport("libc", SetLastError = false)]
    private static partial int madvise(void* addr, nuint length, int advice);
}
