using System.Runtime.InteropServices;
using Lathe.Formats;
using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Tests.Quantized;

/// <summary><see cref="KBlocks"/> and <see cref="Q8_K"/> against ggml itself: blocks made by ggml's quantize_row_qX_K_ref
/// (and random bytes) decoded by ggml's dequantize_row_qX_K, and activations quantized by quantize_row_q8_K_ref — from
/// the peer's libggml-base.so (Fixtures/make_kquant_fixtures.py).</summary>
public class KBlocksTests
{
    static readonly SafetensorsFile Fixtures = SafetensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "Fixtures", "kquants.safetensors"));

    static byte[] Bytes(string name) => MemoryMarshal.AsBytes(Fixtures.ReadInts(name).AsSpan()).ToArray();

    [Theory]
    [InlineData(QuantType.Q2_K)]
    [InlineData(QuantType.Q3_K)]
    [InlineData(QuantType.Q4_K)]
    [InlineData(QuantType.Q5_K)]
    [InlineData(QuantType.Q6_K)]
    public void Dequantize_gives_ggmls_floats_bit_for_bit(QuantType type)
    {
        string name = QuantTypes.Name(type);
        var blocks = Bytes($"{name}.blocks");
        var expected = Fixtures.ReadFloats($"{name}.decoded");
        var actual = new float[expected.Length];
        // Through BlockCodec, the one entry point every reader uses.
        BlockCodec.Dequantize(type, blocks, actual);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(expected[i]) == BitConverter.SingleToUInt32Bits(actual[i]),
                $"{name}: value {i} (row {i / 1024}) decoded {actual[i]}, ggml {expected[i]}");
    }

    [Fact]
    public void Q8_K_quantization_gives_ggmls_blocks_byte_for_byte()
    {
        var x = Fixtures.ReadFloats("q8_k.x");
        var expected = Bytes("q8_k.blocks");
        var actual = new byte[expected.Length];
        Q8_K.Quantize(x, actual);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i], $"q8_k: byte {i} (block {i / Q8_K.BlockBytes}, offset {i % Q8_K.BlockBytes}) is {actual[i]}, ggml {expected[i]}");
    }

    [Fact]
    public unsafe void Kernel_layout_of_Q8_K_holds_the_same_quants_scales_and_group_sums()
    {
        var x = Fixtures.ReadFloats("q8_k.x");
        var blocks = Bytes("q8_k.blocks");
        int nb = x.Length / Q8_K.BlockValues;
        var q = new sbyte[x.Length];
        var d = new float[nb];
        var sums = new short[x.Length / 16];
        fixed (float* px = x) fixed (sbyte* pq = q) fixed (float* pd = d) fixed (short* ps = sums)
            Q8_K.QuantizeRow(px, x.Length, pq, pd, ps);
        for (int b = 0; b < nb; b++)
        {
            int o = b * Q8_K.BlockBytes;
            Assert.Equal(BitConverter.ToSingle(blocks, o), d[b]);
            for (int i = 0; i < 256; i++) Assert.Equal((sbyte)blocks[o + 4 + i], q[b * 256 + i]);
            for (int g = 0; g < 16; g++) Assert.Equal(BitConverter.ToInt16(blocks, o + 260 + 2 * g), sums[b * 16 + g]);
        }
    }

    [Fact]
    public void Wrong_sizes_are_rejected_with_the_type_named()
    {
        var e = Assert.Throws<ArgumentException>(() => KBlocks.Dequantize(QuantType.Q4_K, new byte[143], new float[256]));
        Assert.Contains("q4_k", e.Message);
        Assert.Throws<ArgumentException>(() => KBlocks.Dequantize(QuantType.Q6_K, new byte[210], new float[255]));
        Assert.Throws<ArgumentException>(() => KBlocks.Dequantize(QuantType.Q8_0, new byte[34], new float[32]));
        Assert.Throws<ArgumentException>(() => Q8_K.Quantize(new float[256], new byte[291]));
    }
}
