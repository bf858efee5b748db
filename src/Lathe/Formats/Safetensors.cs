using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Lathe.Formats;

/// <summary>One tensor entry of a safetensors file: dtype, shape and its byte range in the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ElementCount { get { long n = 1; foreach (long d in Shape) n *= d; return n; } }
}

/// <summary>Reads a safetensors file (8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and data_offsets, then the raw little-endian data). The data is memory-mapped,
/// not read, so opening a large checkpoint costs nothing until a tensor is touched.</summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    const long MaxHeaderBytes = 100L << 20;
    readonly IO.MappedFile _file;
    readonly byte* _base;
    readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafetensorsFile(string path, IO.MappedFile file, long dataStart,
        Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path; _file = file; _base = file.Pointer; _dataStart = dataStart;
        Entries = entries; Metadata = metadata;
    }

    /// <summary>Opens and validates <paramref name="path"/>; a malformed file throws
    /// <see cref="InvalidDataException"/> naming the file and the field.</summary>
    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        long fileLength = new FileInfo(path).Length;
        if (fileLength < 8) throw new InvalidDataException($"{path}: too short for a safetensors header ({fileLength} bytes).");
        var file = IO.MappedFile.Open(path);
        byte* basePtr = file.Pointer;
        try
        {
            long headerLength = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(basePtr, 8));
            if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > fileLength)
                throw new InvalidDataException($"{path}: header length {headerLength} does not fit the file ({fileLength} bytes).");
            long dataStart = 8 + headerLength;
            long dataLength = fileLength - dataStart;
            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var header = new ReadOnlySpan<byte>(basePtr + 8, (int)headerLength);
            // The JSON reader accepts invalid UTF-8 inside strings and fails only when a name is read, with an
            // exception that names neither the file nor the byte; check the whole header first.
            Lathe.IO.Utf8Validation.Require(header, path, "header is ", offsetBase: 8);
            JsonDocument doc;
            try { doc = JsonDocument.Parse(new ReadOnlyMemory<byte>(header.ToArray())); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: header is not valid JSON ({e.Message})."); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{path}: header is not a JSON object.");
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (prop.Name == "__metadata__")
                    {
                        if (prop.Value.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: header field '__metadata__' is not an object.");
                        foreach (var m in prop.Value.EnumerateObject()) metadata[m.Name] = m.Value.ToString();
                        continue;
                    }
                    entries[prop.Name] = ParseEntry(path, prop, dataLength);
                }
            }
            return new SafetensorsFile(path, file, dataStart, entries, metadata);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    static SafetensorsEntry ParseEntry(string path, JsonProperty prop, long dataLength)
    {
        string where = $"{path}: tensor '{prop.Name}'";
        if (prop.Value.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where} is not an object.");
        if (!prop.Value.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: missing field 'dtype'.");
        if (!prop.Value.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: missing field 'shape'.");
        if (!prop.Value.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new InvalidDataException($"{where}: missing field 'data_offsets'.");
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out shape[i]) || shape[i] < 0) throw new InvalidDataException($"{where}: bad 'shape'.");
            i++;
        }
        long begin = off[0].ValueKind == JsonValueKind.Number && off[0].TryGetInt64(out long b) ? b : -1,
            end = off[1].ValueKind == JsonValueKind.Number && off[1].TryGetInt64(out long e) ? e : -1;
        if (begin < 0 || end < begin || end > dataLength)
            throw new InvalidDataException($"{where}: data_offsets [{begin}, {end}] outside the data section ({dataLength} bytes).");
        string dtype = dt.GetString()!;
        var entry = new SafetensorsEntry(prop.Name, dtype, shape, begin, end);
        int size = DTypeSize(dtype);
        if (size > 0 && entry.ElementCount * size != end - begin)
            throw new InvalidDataException($"{where}: shape [{string.Join(",", shape)}] of {dtype} needs {entry.ElementCount * size} bytes, data_offsets give {end - begin}.");
        return entry;
    }

    /// <summary>Bytes per element of a safetensors dtype, or 0 if unknown.</summary>
    public static int DTypeSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => 0,
    };

    /// <summary>The raw bytes of a tensor (a view into the mapped file).</summary>
    public ReadOnlySpan<byte> Bytes(string name)
    {
        var e = Get(name);
        return new ReadOnlySpan<byte>(_base + _dataStart + e.Begin, checked((int)(e.End - e.Begin)));
    }

    public SafetensorsEntry Get(string name) =>
        Entries.TryGetValue(name, out var e) ? e : throw new InvalidDataException($"{Path}: no tensor named '{name}'.");

    /// <summary>Reads a tensor as float32, converting from F32, F16 or BF16.</summary>
    public float[] ReadFloats(string name)
    {
        var e = Get(name);
        var bytes = Bytes(name);
        var result = new float[e.ElementCount];
        switch (e.DType)
        {
            case "F32": MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result); break;
            case "F16":
                var halves = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < result.Length; i++) result[i] = (float)halves[i];
                break;
            case "BF16":
                var raw = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < result.Length; i++) result[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                break;
            default: throw new InvalidDataException($"{Path}: tensor '{name}' has dtype {e.DType}, expected F32, F16 or BF16.");
        }
        return result;
    }

    /// <summary>Reads an integer tensor (I64, I32) as int32.</summary>
    public int[] ReadInts(string name)
    {
        var e = Get(name);
        var bytes = Bytes(name);
        var result = new int[e.ElementCount];
        switch (e.DType)
        {
            case "I32": MemoryMarshal.Cast<byte, int>(bytes).CopyTo(result); break;
            case "I64":
                var longs = MemoryMarshal.Cast<byte, long>(bytes);
                for (int i = 0; i < result.Length; i++) result[i] = checked((int)longs[i]);
                break;
            default: throw new InvalidDataException($"{Path}: tensor '{name}' has dtype {e.DType}, expected I32 or I64.");
        }
        return result;
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>Writes safetensors files atomically. Tensors are written in the order given, 8-byte aligned
/// header (padded with spaces, as the format allows).</summary>
public static class SafetensorsWriter
{
    public readonly record struct Item(string Name, string DType, long[] Shape, ReadOnlyMemory<byte> Data);

    public static Item F32(string name, long[] shape, float[] data) =>
        new(name, "F32", shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    public static Item I32(string name, long[] shape, int[] data) =>
        new(name, "I32", shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    public static void Write(string path, IReadOnlyList<Item> items, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var header = new MemoryStream();
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var item in items)
            {
                w.WriteStartObject(item.Name);
                w.WriteString("dtype", item.DType);
                w.WriteStartArray("shape");
                foreach (long d in item.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + item.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += item.Data.Length;
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - header.Length % 8) % 8);
        for (int i = 0; i < pad; i++) header.WriteByte((byte)' ');
        IO.AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(len, header.Length);
            s.Write(len);
            header.Position = 0;
            header.CopyTo(s);
            foreach (var item in items) s.Write(item.Data.Span);
        });
    }

}
