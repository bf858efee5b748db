using System.Runtime.InteropServices;

namespace Lathe.Tensors.Kernels;

/// <summary>How row kernels split work: into chunks of whole rows whose count depends only on the problem
/// size (about 16k elements each, at most 64), never on the thread count — so partial sums across chunks,
/// reduced in chunk order, give the same bits on any number of threads.</summary>
internal static class RowPartition
{
    const long ElementsPerChunk = 16 * 1024;
    const int MaxChunks = 64;

    public static int Chunks(int rows, int cols) =>
        rows <= 0 ? 0 : (int)Math.Clamp((long)rows * Math.Max(cols, 1) / ElementsPerChunk, 1, Math.Min(rows, MaxChunks));

    public static int Start(int chunk, int chunks, int rows) => (int)((long)rows * chunk / chunks);
}

/// <summary>Per-thread scratch memory for kernels (grown on demand, never freed while the thread lives).</summary>
internal static unsafe class Scratch
{
    [ThreadStatic] static float* t_buffer;
    [ThreadStatic] static long t_length;

    /// <summary>At least <paramref name="floats"/> floats of this thread's scratch, 64-byte aligned. Contents undefined.</summary>
    public static float* Get(long floats)
    {
        if (floats > t_length)
        {
            NativeMemory.AlignedFree(t_buffer);
            long size = Math.Max(floats, 4096);
            t_buffer = (float*)NativeMemory.AlignedAlloc((nuint)size * sizeof(float), 64);
            t_length = size;
        }
        return t_buffer;
    }
}

/// <summary>Scratch shared by one call across its chunks (e.g. per-chunk partial weight gradients), owned by the calling thread.</summary>
internal static unsafe class CallScratch
{
    [ThreadStatic] static float* t_buffer;
    [ThreadStatic] static long t_length;

    public static float* Get(long floats)
    {
        if (floats > t_length)
        {
            NativeMemory.AlignedFree(t_buffer);
            long size = Math.Max(floats, 4096);
            t_buffer = (float*)NativeMemory.AlignedAlloc((nuint)size * sizeof(float), 64);
            t_length = size;
        }
        return t_buffer;
    }
}
