using System.Collections.Concurrent;

namespace Lathe.Tensors.Storage;

/// <summary>Reuses native buffers by size class. Sizes round up to a multiple of 16 floats (64 bytes) below
/// 64 Ki floats and to a power of two above, so a buffer freed by one step serves the same request in the
/// next one. The pool keeps at most <see cref="MaxPooledBytes"/>; past that, returned buffers are freed.</summary>
public static class BufferPool
{
    const long MaxPooledBytes = 2L << 30;
    static readonly ConcurrentDictionary<long, ConcurrentBag<NativeBuffer>> s_free = new();
    static long s_pooledBytes;
    static long s_liveBytes;
    static long s_peakLiveBytes;

    /// <summary>Bytes handed out and not yet returned.</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <summary>The high-water mark of <see cref="LiveBytes"/>.</summary>
    public static long PeakLiveBytes => Interlocked.Read(ref s_peakLiveBytes);

    internal static long SizeClass(long floats)
    {
        if (floats <= 16) return 16;
        if (floats <= 1 << 16) return (floats + 15) & ~15L;
        long c = 1L << 16;
        while (c < floats) c <<= 1;
        return c;
    }

    /// <summary>Rents a buffer of at least <paramref name="floats"/> floats. Its contents are undefined.</summary>
    public static NativeBuffer Rent(long floats)
    {
        long size = SizeClass(floats);
        NativeBuffer? buffer = null;
        if (s_free.TryGetValue(size, out var bag) && bag.TryTake(out buffer))
            Interlocked.Add(ref s_pooledBytes, -size * sizeof(float));
        buffer ??= new NativeBuffer(size, floats);
        long live = Interlocked.Add(ref s_liveBytes, size * sizeof(float));
        long peak;
        while (live > (peak = Interlocked.Read(ref s_peakLiveBytes)) &&
               Interlocked.CompareExchange(ref s_peakLiveBytes, live, peak) != peak) { }
        return buffer;
    }

    /// <summary>Takes a buffer back for reuse.</summary>
    public static void Return(NativeBuffer buffer)
    {
        long bytes = buffer.Capacity * sizeof(float);
        Interlocked.Add(ref s_liveBytes, -bytes);
        if (Interlocked.Add(ref s_pooledBytes, bytes) > MaxPooledBytes)
        {
            Interlocked.Add(ref s_pooledBytes, -bytes);
            buffer.Free();
            GC.SuppressFinalize(buffer);
            return;
        }
        s_free.GetOrAdd(buffer.Capacity, _ => new ConcurrentBag<NativeBuffer>()).Add(buffer);
    }

    /// <summary>Starts a new high-water mark of <see cref="PeakLiveBytes"/> at the bytes live now (to measure one phase).</summary>
    public static void ResetPeak() => Interlocked.Exchange(ref s_peakLiveBytes, Interlocked.Read(ref s_liveBytes));

    /// <summary>Frees every pooled buffer (tests and benchmarks use this to measure from a clean state).</summary>
    public static void Trim()
    {
        foreach (var bag in s_free.Values)
            while (bag.TryTake(out var b))
            {
                Interlocked.Add(ref s_pooledBytes, -b.Capacity * sizeof(float));
                b.Free();
                GC.SuppressFinalize(b);
            }
    }
}
