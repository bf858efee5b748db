using System.Buffers.Binary;
using Lathe.Formats;
using Lathe.Tensors.Quantized;

namespace Lathe.Tests.Formats;

/// <summary>GGUF against a file written from the specification by fixtures/make_gguf_fixture.py (its own writer and
/// its own Q8_0/Q4_0 quantizers), and Lathe's writer against Lathe's reader.</summary>
public sealed class GgufTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lathe-gguf-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static string Fixture => Path.Combine(AppContext.BaseDirectory, "Formats", "fixtures", "tiny.gguf");

    [Fact]
    public void Reads_metadata_of_every_value_type()
    {
        using var f = GgufFile.Open(Fixture);
        Assert.Equal(3u, f.Version);
        Assert.Equal("llama", f.Meta<string>("general.architecture"));
        Assert.Equal("tiny test ✓", f.Meta<string>("general.name"));
        Assert.Equal((byte)200, f.Meta<byte>("test.u8"));
        Assert.Equal((sbyte)-100, f.Meta<sbyte>("test.i8"));
        Assert.Equal((ushort)60000, f.Meta<ushort>("test.u16"));
        Assert.Equal((short)-30000, f.Meta<short>("test.i16"));
        Assert.Equal(4000000000u, f.Meta<uint>("test.u32"));
        Assert.Equal(-2000000000, f.Meta<int>("test.i32"));
        Assert.Equal(0.25f, f.Meta<float>("test.f32"));
        Assert.True(f.Meta<bool>("test.bool"));
        Assert.Equal(1UL << 40, f.Meta<ulong>("test.u64"));
        Assert.Equal(-(1L << 40), f.Meta<long>("test.i64"));
        Assert.Equal(1e-300, f.Meta<double>("test.f64"));
        Assert.Equal(new object[] { "a", "", "ünï" }, f.Meta<object[]>("test.strings"));
        Assert.Equal(new object[] { 1, -2, 3, -4 }, f.Meta<object[]>("test.ints"));
        Assert.Equal(["source", "half", "q8", "q4"], f.Tensors.Select(t => t.Name).ToArray());
        Assert.Equal([64L, 4L], f.Get("q4").Dims);
    }

    [Fact]
    public void Quantized_blocks_match_the_reference_quantizer_byte_for_byte()
    {
        using var f = GgufFile.Open(Fixture);
        float[] source = f.ReadFloats("source");
        var q8 = new byte[Q8_0.Bytes(source.Length)];
        var q4 = new byte[Q4_0.Bytes(source.Length)];
        Q8_0.Quantize(source, q8);
        Q4_0.Quantize(source, q4);
        Assert.Equal(f.Bytes(f.Get("q8")).ToArray(), q8);
        Assert.Equal(f.Bytes(f.Get("q4")).ToArray(), q4);
        // Dequantized Q8_0 values stay within half a step (max|x|/127) of the source, plus the fp16 rounding of the
        // scale (relative 2⁻¹¹) times the largest code, 127. Q4_0's steps are max|x|/8 and its codes span −8..+7 steps
        // around the signed extreme, so the far end is clipped by up to one whole step (plus 8 codes of fp16 error).
        float[] d8 = f.ReadFloats("q8"), d4 = f.ReadFloats("q4"), h = f.ReadFloats("half");
        for (int b = 0; b < source.Length / 32; b++)
        {
            float amax = source.Skip(b * 32).Take(32).Max(Math.Abs);
            for (int i = b * 32; i < b * 32 + 32; i++)
            {
                Assert.True(Math.Abs(d8[i] - source[i]) <= amax / 127f * (0.5f + 127f / 2048f) + 1e-6f, $"q8[{i}]");
                Assert.True(Math.Abs(d4[i] - source[i]) <= amax / 8f * (1f + 8f / 2048f) + 1e-6f, $"q4[{i}]");
                Assert.Equal((float)(Half)source[i], h[i]);
            }
        }
    }

    [Fact]
    public void Lathe_writes_what_it_reads()
    {
        var values = Enumerable.Range(0, 96).Select(i => MathF.Sin(i) * 3).ToArray();
        var q8 = new byte[Q8_0.Bytes(96)];
        Q8_0.Quantize(values, q8);
        var f32 = new byte[96 * 4];
        Buffer.BlockCopy(values, 0, f32, 0, f32.Length);
        string path = Path.Combine(_dir, "w.gguf");
        new GgufWriter().Add("general.architecture", "llama").Add("llama.block_count", 2u).Add("tokens", new[] { "<s>", "a" })
            .AddTensor("w", [32, 3], GgmlType.F32, f32).AddTensor("q", [32, 3], GgmlType.Q8_0, q8).Save(path);
        using var f = GgufFile.Open(path);
        Assert.Equal(2u, f.Meta<uint>("llama.block_count"));
        Assert.Equal(new object[] { "<s>", "a" }, f.Meta<object[]>("tokens"));
        Assert.Equal(values, f.ReadFloats("w"));
        Assert.Equal(q8, f.Bytes(f.Get("q")).ToArray());
        Assert.All(f.Tensors, t => Assert.Equal(0, (f.DataOffset + t.Offset) % 32));
    }

    [Fact]
    public void Corrupt_files_give_one_line_errors_without_allocating_what_they_claim()
    {
        byte[] good = File.ReadAllBytes(Fixture);
        string Write(byte[] b) { string p = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".gguf"); File.WriteAllBytes(p, b); return p; }
        void Expect(byte[] bytes, string message)
        {
            string p = Write(bytes);
            var e = Assert.Throws<InvalidDataException>(() => GgufFile.Open(p));
            Assert.Contains(p, e.Message);
            Assert.Contains(message, e.Message);
        }
        var badMagic = (byte[])good.Clone(); badMagic[0] = (byte)'X';
        Expect(badMagic, "bad magic");
        var badVersion = (byte[])good.Clone(); BinaryPrimitives.WriteUInt32LittleEndian(badVersion.AsSpan(4), 9);
        Expect(badVersion, "version 9");
        var lyingTensors = (byte[])good.Clone(); BinaryPrimitives.WriteUInt64LittleEndian(lyingTensors.AsSpan(8), ulong.MaxValue / 2);
        Expect(lyingTensors, "tensor_count");
        var lyingKv = (byte[])good.Clone(); BinaryPrimitives.WriteUInt64LittleEndian(lyingKv.AsSpan(16), 1UL << 40);
        Expect(lyingKv, "metadata_kv_count");
        Expect(good[..(good.Length - 100)], "outside the file");       // truncated: the last tensor's data is gone
        Expect(good[..40], "cannot fit");                                // truncated inside the metadata
        var lyingString = (byte[])good.Clone(); BinaryPrimitives.WriteUInt64LittleEndian(lyingString.AsSpan(24), 1UL << 50);
        Expect(lyingString, "claims");
    }
}
