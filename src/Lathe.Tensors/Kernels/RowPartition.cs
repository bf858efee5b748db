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

/// <summary>Per-thread scratch memory for kernels, in two independent slots: <see cref="Get"/> for a kernel body's
/// own working rows, <see cref="GetForCall"/> for what one call shares across its chunks (per-chunk partial weight
/// gradients, owned by the calling thread). Grown on demand, never freed while the thread lives.</summary>
internal static unsafe class Scratch
{
    [ThreadStatic] static float* t_body;
    [ThreadStatic] static long t_bodyLength;
    [ThreadStatic] static float* t_call;
    [ThreadStatic] static long t_callLength;

    /// <summary>At least <paramref name="floats"/> floats of this thread's body scratch, 64-byte aligned. Contents undefined.</summary>
    public static float* Get(long floats) => Grow(ref t_body, ref t_bodyLength, floats);

    /// <summary>At least <paramref name="floats"/> floats of this thread's call scratch (distinct from <see cref="Get"/>).</summary>
    public static float* GetForCall(long floats) => Grow(ref t_call, ref t_callLength, floats);

    static float* Grow(ref float* buffer, ref long length, long floats)
    {
        if (floats > length)
        {
            NativeMemory.AlignedFree(buffer);
            long size = Math.Max(floats, 4096);
            buffer = (float*)NativeMemory.AlignedAlloc((nuint)size * sizeof(float), 64);
            length = size;
        }
        return buffer;
    }
}
