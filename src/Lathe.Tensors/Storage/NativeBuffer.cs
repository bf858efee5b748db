using System.Runtime.InteropServices;

namespace Lathe.Tensors.Storage;

/// <summary>A block of 64-byte aligned native memory holding float32 values. Buffers come from and go
/// back to <see cref="BufferPool"/>, so steady-state training reuses memory instead of allocating it.</summary>
public sealed unsafe class NativeBuffer : IDisposable
{
    public const int Alignment = 64;

    /// <summary>Start of the buffer (64-byte aligned).</summary>
    public float* Pointer { get; private set; }

    /// <summary>Number of floats the buffer holds.</summary>
    public long Capacity { get; }

    /// <summary>A buffer of <paramref name="capacity"/> floats, first rented for <paramref name="used"/> of them (the
    /// part that gets huge pages, <see cref="HugePages"/>).</summary>
    internal NativeBuffer(long capacity, long used)
    {
        if (capacity < 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be non-negative.");
        Capacity = capacity;
        nuint bytes = (nuint)Math.Max(capacity, 1) * sizeof(float);
        Pointer = (float*)HugePages.Allocate(bytes, (nuint)Math.Clamp(used, 0, capacity) * sizeof(float), Alignment);
        GC.AddMemoryPressure((long)bytes);
    }

    /// <summary>Frees the memory (used by the pool when it drops a buffer; callers return buffers to the pool).</summary>
    internal void Free()
    {
        if (Pointer == null) return;
        NativeMemory.AlignedFree(Pointer);
        Pointer = null;
        GC.RemoveMemoryPressure(Math.Max(Capacity, 1) * sizeof(float));
    }

    public Span<float> AsSpan(long offset, int length) => new(Pointer + offset, length);

    /// <summary>Returns the buffer to <see cref="BufferPool"/>.</summary>
    public void Dispose() => BufferPool.Return(this);

    ~NativeBuffer() => Free();
}
