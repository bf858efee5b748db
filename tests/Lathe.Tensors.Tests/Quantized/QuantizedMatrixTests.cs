using System.Runtime.InteropServices;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Tests.Kernels;

namespace Lathe.Tensors.Tests.Quantized;

public unsafe class QuantizedMatrixTests
{
    [Theory]
    [InlineData(QuantType.Q8_0, 34)]
    [InlineData(QuantType.Q4_0, 18)]
    [InlineData(QuantType.F16, 64)]
    public void Rows_have_ggml_sizes_and_decode_like_the_reference(QuantType type, int bytesPer32)
    {
        var v = TestData.Uniform(3 * 64, 7);
        using var m = QuantizedMatrix.FromFloat(v, 3, 64, type);
        Assert.Equal(2 * bytesPer32, m.RowBytes);
        Assert.Equal(3 * 2 * bytesPer32, m.ByteLength);
        var row = new float[64];
        var expected = new float[64];
        for (int r = 0; r < 3; r++)
        {
            m.DequantizeRow(r, row);
            var src = v.AsSpan(r * 64, 64);
            switch (type)
            {
                case QuantType.Q8_0: { var b = new byte[68]; Q8_0.Quantize(src, b); Q8_0.Dequantize(b, expected); break; }
                case QuantType.Q4_0: { var b = new byte[36]; Q4_0.Quantize(src, b); Q4_0.Dequantize(b, expected); break; }
                default: for (int i = 0; i < 64; i++) expected[i] = (float)(Half)src[i]; break;
            }
            Assert.Equal(expected, row);
        }
    }

    [Fact]
    public void From_bytes_copies_and_borrow_shares_memory()
    {
        using var a = QuantizedMatrix.FromFloat(TestData.Uniform(2 * 32, 3), 2, 32, QuantType.Q4_0);
        var bytes = a.Bytes.ToArray();
        using var copy = QuantizedMatrix.FromBytes(bytes, 2, 32, QuantType.Q4_0);
        Assert.Equal(bytes, copy.Bytes.ToArray());
        var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        try
        {
            using var borrowed = QuantizedMatrix.Borrow((byte*)handle.AddrOfPinnedObject(), bytes.Length, 2, 32, QuantType.Q4_0, bytes);
            Assert.True(borrowed.Data == (byte*)handle.AddrOfPinnedObject());
            Assert.Throws<ArgumentException>(() => QuantizedMatrix.Borrow((byte*)handle.AddrOfPinnedObject(), bytes.Length - 1, 2, 32, QuantType.Q4_0, bytes));
        }
        finally { handle.Free(); }
        var e = Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromBytes(bytes.AsSpan(1), 2, 32, QuantType.Q4_0));
        Assert.Contains("35 bytes", e.Message);
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.FromFloat(new float[40], 1, 40, QuantType.Q8_0));
    }

    [Fact]
    public void Stack_puts_the_rows_of_each_part_one_after_another()
    {
        var a = TestData.Uniform(2 * 64, 11);
        var b = TestData.Uniform(3 * 64, 12);
        using var ma = QuantizedMatrix.FromFloat(a, 2, 64, QuantType.Q4_0);
        using var mb = QuantizedMatrix.FromFloat(b, 3, 64, QuantType.Q4_0);
        using var s = QuantizedMatrix.Stack(ma, mb);
        Assert.Equal(5, s.Rows);
        Assert.Equal(ma.Bytes.ToArray().Concat(mb.Bytes.ToArray()).ToArray(), s.Bytes.ToArray());
        using var other = QuantizedMatrix.FromFloat(new float[64], 1, 64, QuantType.Q8_0);
        Assert.Throws<ArgumentException>(() => QuantizedMatrix.Stack(ma, other));
    }
}
