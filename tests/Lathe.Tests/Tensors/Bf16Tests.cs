using System.Text.Json;
using Lathe.Formats;
using Lathe.Tensors.Quantized;

namespace Lathe.Tests.Tensors;

/// <summary><see cref="Bf16"/> against ggml's ggml_fp32_to_bf16_row_ref (fixtures/kquant/bf16.json, written by
/// scripts/fixtures/make_kquant_fixtures.py): ±0, subnormals, ±inf, quiet and signalling NaNs of both signs, the
/// largest finite floats, exact rounding midpoints with even and odd kept bits, and random bit patterns.</summary>
public sealed class Bf16Tests
{
    static (uint[] F32, ushort[] Bf16) Fixture()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(KQuantizerTests.Fixture("bf16.json")));
        var f = doc.RootElement.GetProperty("f32_bits").EnumerateArray().Select(e => e.GetUInt32()).ToArray();
        var b = doc.RootElement.GetProperty("bf16_bits").EnumerateArray().Select(e => (ushort)e.GetUInt32()).ToArray();
        return (f, b);
    }

    [Fact]
    public void Encoding_is_ggmls_bits()
    {
        var (f32, expected) = Fixture();
        var x = f32.Select(BitConverter.UInt32BitsToSingle).ToArray();
        var bits = new ushort[x.Length];
        Bf16.FromSingle(x, bits);
        for (int i = 0; i < x.Length; i++)
            Assert.True(expected[i] == bits[i], $"0x{f32[i]:X8}: ggml 0x{expected[i]:X4}, Lathe 0x{bits[i]:X4}");
        // Through the codec the GGUF writer uses, as bytes.
        var bytes = new byte[2 * x.Length];
        BlockCodec.Quantize(QuantType.BF16, x, bytes);
        Assert.Equal(System.Runtime.InteropServices.MemoryMarshal.AsBytes(expected.AsSpan()).ToArray(), bytes);
    }

    [Fact]
    public void Rounding_cases_by_hand()
    {
        Assert.Equal(0x3F80, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(0x3F808000)));   // tie, kept bits even: down
        Assert.Equal(0x3F82, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(0x3F818000)));   // tie, kept bits odd: up
        Assert.Equal(0x3F81, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(0x3F808001)));   // above the tie: up
        Assert.Equal(0x7F80, Bf16.FromSingle(float.MaxValue));                                 // overflows to +inf
        Assert.Equal(0x0001, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(0x00010000)));   // subnormal kept
        Assert.Equal(0x8000, Bf16.FromSingle(-0f));
        Assert.Equal(0x7FC0, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(0x7F800001)));   // signalling NaN → quiet
        Assert.Equal(0xFFC0, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(0xFFC00000)));
    }

    [Fact]
    public void Decoding_is_exact_and_inverts_encoding_of_every_bf16()
    {
        // Every one of the 65536 bf16 patterns: decode puts the bits on top of a zero half, and encoding that float
        // gives the bits back (NaNs come back quiet).
        var all = new ushort[65536];
        for (int i = 0; i < all.Length; i++) all[i] = (ushort)i;
        var x = new float[all.Length];
        Bf16.ToSingle(all, x);   // 65536 values: the 32-wide vector loop throughout
        var bytes = new byte[2 * all.Length];
        Buffer.BlockCopy(all, 0, bytes, 0, bytes.Length);
        var viaCodec = new float[all.Length];
        BlockCodec.Dequantize(QuantType.BF16, bytes, viaCodec);
        for (int i = 0; i < all.Length; i++)
        {
            Assert.Equal((uint)i << 16, BitConverter.SingleToUInt32Bits(x[i]));
            Assert.Equal((uint)i << 16, BitConverter.SingleToUInt32Bits(viaCodec[i]));
            bool nan = (i & 0x7FFF) > 0x7F80;
            Assert.Equal(nan ? (ushort)(i | 0x40) : (ushort)i, Bf16.FromSingle(x[i]));
        }
        var encoded = new ushort[x.Length];
        Bf16.FromSingle(x, encoded);   // the 32-wide vector encoder against the scalar rule
        for (int i = 0; i < x.Length; i++) Assert.Equal(Bf16.FromSingle(x[i]), encoded[i]);
        // Lengths that leave a scalar tail after the 32-wide vector loop.
        foreach (int n in new[] { 0, 1, 31, 33, 70 })
        {
            var y = new float[n];
            Bf16.ToSingle(all.AsSpan(0x3F00, n), y);
            for (int i = 0; i < n; i++) Assert.Equal((uint)(0x3F00 + i) << 16, BitConverter.SingleToUInt32Bits(y[i]));
        }
    }

    [Fact]
    public void A_gguf_with_bf16_and_k_quant_tensors_round_trips()
    {
        // BF16 and Q4_K tensors written through GgmlTypes.Encode (the GGUF writer's codec) and read back: the BF16
        // floats are the encoded values exactly, the Q4_K bytes are what KQuantizer wrote, and sizes follow ggml.
        string dir = Directory.CreateTempSubdirectory("lathe-bf16-").FullName;
        try
        {
            var values = Enumerable.Range(0, 512).Select(i => MathF.Sin(i * 0.37f) * (1 + i % 7)).ToArray();
            var bf16 = new byte[GgmlTypes.Bytes(GgmlType.BF16, values.Length)];
            var q4k = new byte[GgmlTypes.Bytes(GgmlType.Q4_K, values.Length)];
            GgmlTypes.Encode(GgmlType.BF16, values, bf16);
            GgmlTypes.Encode(GgmlType.Q4_K, values, q4k);
            Assert.Equal(1024, bf16.Length);
            Assert.Equal(2 * 144, q4k.Length);
            string path = Path.Combine(dir, "w.gguf");
            new GgufWriter().Add("general.architecture", "llama")
                .AddTensor("b", [256, 2], GgmlType.BF16, bf16).AddTensor("k", [256, 2], GgmlType.Q4_K, q4k).Save(path);
            using var f = GgufFile.Open(path);
            var back = f.ReadFloats("b");
            for (int i = 0; i < values.Length; i++) Assert.Equal(Bf16.ToSingle(Bf16.FromSingle(values[i])), back[i]);
            Assert.Equal(q4k, f.Bytes(f.Get("k")).ToArray());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Mismatched_lengths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Bf16.FromSingle(new float[3], new ushort[2]));
        var e = Assert.Throws<ArgumentException>(() => BlockCodec.Quantize(QuantType.BF16, new float[3], new byte[5]));
        Assert.Contains("bf16", e.Message);
    }
}
