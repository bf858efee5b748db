using Lathe.Tensors.Storage;

namespace Lathe.Tensors.Tests.Storage;

/// <summary>Large tensor buffers sit on 2 MB boundaries (so transparent huge pages can back them) and hold their values;
/// small ones keep the ordinary 64-byte alignment. (Whether the kernel backs them with huge pages depends on its mode;
/// docs/ENGINE.md gives the measurement.)</summary>
public unsafe class HugePagesTests
{
    [Fact]
    public void Large_buffers_are_2_MB_aligned_and_hold_their_values()
    {
        using var big = BufferPool.Rent(3L << 20);   // 12 MB (a 16 MB size class)
        using var small = BufferPool.Rent(1000);
        Assert.Equal(0, (long)small.Pointer % NativeBuffer.Alignment);
        if (HugePages.Worth(12u << 20))   // every buffer of the 16 MB class is first rented for more than 8 MB
            Assert.Equal(0, (long)big.Pointer % (long)HugePages.Size);
        else Assert.Equal(0, (long)big.Pointer % NativeBuffer.Alignment);
        for (long i = 0; i < big.Capacity; i += 4099) big.Pointer[i] = i;
        for (long i = 0; i < big.Capacity; i += 4099) Assert.Equal((float)i, big.Pointer[i]);
        Assert.False(HugePages.Worth(1 << 20));
        Assert.Equal(HugePages.Worth(8 << 20), HugePages.Worth(2 << 20));
        Assert.Equal(OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("LATHE_HUGE_PAGES") != "0", HugePages.Worth(8 << 20));
    }
}
