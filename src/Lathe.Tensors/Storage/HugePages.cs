using System.Runtime.InteropServices;

namespace Lathe.Tensors.Storage;

/// <summary>Transparent huge pages for large tensor buffers. A training step streams activations of tens of megabytes
/// through GEMMs and elementwise passes; in 4 KB pages each megabyte is 256 TLB entries, and the GEMM's strided panel
/// reads walk the page tables again and again. Buffers of 4 MB and more are placed on 2 MB boundaries and marked
/// MADV_HUGEPAGE, so where the kernel's transparent-huge-page mode is <c>madvise</c> (the common default) or
/// <c>always</c>, they are backed by 2 MB pages. Elsewhere (other systems, THP off) the advice is a no-op.</summary>
internal static unsafe partial class HugePages
{
    public const nuint Size = 2 << 20;
    const int MadvHugePage = 14;   // <sys/mman.h>, Linux
    static readonly bool s_enabled = OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("LATHE_HUGE_PAGES") != "0";

    /// <summary>Whether a buffer of <paramref name="bytes"/> gets 2 MB alignment and the advice.</summary>
    public static bool Worth(nuint bytes) => s_enabled && bytes >= 2 * Size;

    /// <summary>NativeMemory.AlignedAlloc of at least <paramref name="bytes"/> at <paramref name="alignment"/>, or, for a
    /// buffer that is <see cref="Worth"/> it, of whole 2 MB pages on a 2 MB boundary with the advice given. Free it with
    /// NativeMemory.AlignedFree.</summary>
    public static void* Allocate(nuint bytes, nuint alignment)
    {
        if (!Worth(bytes)) return NativeMemory.AlignedAlloc(bytes, alignment);
        nuint whole = (bytes + Size - 1) & ~(Size - 1);
        void* p = NativeMemory.AlignedAlloc(whole, Size);
        Advise(p, whole);
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
