using System.Buffers.Binary;
using System.Text;
using Lathe.Formats;
using Lathe.IO;

namespace Lathe.Tests.Formats;

public sealed class SafetensorsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lathe-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Round_trips_tensors_and_metadata()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        SafetensorsWriter.Write(path,
            [SafetensorsWriter.F32("a.weight", [2, 3], [1, 2, 3, 4, 5, 6]), SafetensorsWriter.I32("ids", [3], [7, -8, 9])],
            new Dictionary<string, string> { ["format"] = "pt" });
        using var f = SafetensorsFile.Open(path);
        Assert.Equal([2L, 3L], f.Get("a.weight").Shape);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, f.ReadFloats("a.weight"));
        Assert.Equal(new[] { 7, -8, 9 }, f.ReadInts("ids"));
        Assert.Equal("pt", f.Metadata["format"]);
        // The header is 8-byte aligned, as the format recommends.
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(path).AsSpan(0, 8));
        Assert.Equal(0, headerLength % 8);
    }

    [Fact]
    public void Reads_F16_and_BF16_as_float()
    {
        // One F16 value 1.5 (0x3E00) and one BF16 value -2.0 (0xC000), written by hand.
        string header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[2,4]}}";
        string path = WriteRaw(header, [0x00, 0x3E, 0x00, 0xC0]);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal([1.5f], f.ReadFloats("h"));
        Assert.Equal([-2f], f.ReadFloats("b"));
    }

    string WriteRaw(string header, byte[] data)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
        var bytes = Encoding.UTF8.GetBytes(header);
        var all = new byte[8 + bytes.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(all, bytes.Length);
        bytes.CopyTo(all, 8);
        data.CopyTo(all, 8 + bytes.Length);
        File.WriteAllBytes(path, all);
        return path;
    }

    [Theory]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "shape [2] of F32 needs 8 bytes")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,400]}}", "outside the data section")]
    [InlineData("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "missing field 'dtype'")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "missing field 'shape'")]
    [InlineData("not json", "not valid JSON")]
    public void Malformed_headers_name_the_file_and_the_field(string header, string message)
    {
        string path = WriteRaw(header, new byte[4]);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Invalid_utf8_in_the_header_is_named_with_its_byte_offset()
    {
        string path = WriteRaw("{\"tX\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
        var bytes = File.ReadAllBytes(path);
        bytes[8 + 3] = 0xC3;   // 'X' of the tensor name becomes a lead byte followed by '"': not UTF-8
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Equal($"{path}: header is not valid UTF-8 (byte offset 11).", e.Message);
    }

    [Fact]
    public void A_lying_header_length_is_rejected_without_allocating_it()
    {
        string path = Path.Combine(_dir, "lie.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, long.MaxValue / 2);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("header length", e.Message);
    }

    [Fact]
    public void Atomic_writes_leave_no_temporary_files_even_when_the_writer_fails()
    {
        string path = Path.Combine(_dir, "x.bin");
        AtomicFile.WriteAllText(path, "first");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s => { s.WriteByte(1); throw new InvalidOperationException("boom"); }));
        Assert.Equal("first", File.ReadAllText(path));
        Assert.Equal(new[] { "x.bin" }, Directory.GetFiles(_dir).Select(f => Path.GetFileName(f)!).ToArray());
    }
}
