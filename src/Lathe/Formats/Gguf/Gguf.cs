using System.Buffers.Binary;
using System.Text;
using Lathe.Tensors.Quantized;

namespace Lathe.Formats;

/// <summary>ggml tensor types Lathe reads and writes (the numbers are ggml's).</summary>
public enum GgmlType : uint { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, BF16 = 30 }

/// <summary>Sizes of the <see cref="GgmlType"/>s and their in-memory <see cref="QuantType"/> (every type but F32).</summary>
public static class GgmlTypes
{
    /// <summary>The types Lathe reads, for error messages.</summary>
    public static string Supported => string.Join(", ", Enum.GetNames<GgmlType>());

    /// <summary>The <see cref="QuantType"/> a stored type stays in (null for F32).</summary>
    public static QuantType? ToQuantType(GgmlType type) => type switch
    {
        GgmlType.F32 => null,
        GgmlType.F16 => QuantType.F16,
        GgmlType.BF16 => QuantType.BF16,
        GgmlType.Q8_0 => QuantType.Q8_0,
        GgmlType.Q4_0 => QuantType.Q4_0,
        GgmlType.Q2_K => QuantType.Q2_K,
        GgmlType.Q3_K => QuantType.Q3_K,
        GgmlType.Q4_K => QuantType.Q4_K,
        GgmlType.Q5_K => QuantType.Q5_K,
        GgmlType.Q6_K => QuantType.Q6_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown ggml type"),
    };

    /// <summary>The stored type of a <see cref="QuantType"/>.</summary>
    public static GgmlType FromQuantType(QuantType type) => type switch
    {
        QuantType.F16 => GgmlType.F16,
        QuantType.BF16 => GgmlType.BF16,
        QuantType.Q8_0 => GgmlType.Q8_0,
        QuantType.Q4_0 => GgmlType.Q4_0,
        QuantType.Q2_K => GgmlType.Q2_K,
        QuantType.Q3_K => GgmlType.Q3_K,
        QuantType.Q4_K => GgmlType.Q4_K,
        QuantType.Q5_K => GgmlType.Q5_K,
        QuantType.Q6_K => GgmlType.Q6_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown quant type"),
    };

    /// <summary>Values per block along the first (innermost) dimension.</summary>
    public static int BlockValues(GgmlType type) => ToQuantType(type) is { } q ? QuantTypes.BlockValues(q) : 1;

    /// <summary>Bytes of <paramref name="count"/> values (a whole number of blocks).</summary>
    public static long Bytes(GgmlType type, long count)
        => ToQuantType(type) is { } q ? count / QuantTypes.BlockValues(q) * QuantTypes.BlockBytes(q) : count * 4;

    /// <summary>Decodes stored bytes to floats.</summary>
    public static void Decode(GgmlType type, ReadOnlySpan<byte> bytes, Span<float> values)
    {
        if (ToQuantType(type) is { } q) BlockCodec.Dequantize(q, bytes, values);
        else System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
    }

    /// <summary>Encodes floats (a whole number of blocks) with ggml's reference quantizer of the type.</summary>
    public static void Encode(GgmlType type, ReadOnlySpan<float> values, Span<byte> bytes, ReadOnlySpan<float> importance = default)
    {
        if (ToQuantType(type) is { } q) BlockCodec.Quantize(q, values, bytes, importance);
        else System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(bytes);
    }
}

/// <summary>One tensor of a GGUF file. Dimensions are in ggml's order: <c>Dims[0]</c> varies fastest, so a row-major
/// (out, in) weight has Dims = [in, out].</summary>
public sealed record GgufTensorInfo(string Name, long[] Dims, GgmlType Type, long Offset, long ByteLength)
{
    public long ElementCount { get { long n = 1; foreach (long d in Dims) n *= d; return n; } }
}

/// <summary>Reads GGUF v2/v3 files (header, typed metadata of every value type, tensor infos, aligned data) with every
/// count and offset checked against the file before anything is allocated; the data is memory-mapped.</summary>
public sealed unsafe class GgufFile : IDisposable
{
    const uint Magic = 0x46554747;   // "GGUF" little-endian
    readonly Lathe.IO.MappedFile _file;
    readonly byte* _base;

    public string Path { get; }
    public uint Version { get; }
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public long DataOffset { get; }
    public int Alignment { get; }

    GgufFile(string path, Lathe.IO.MappedFile file, uint version,
        Dictionary<string, object> metadata, List<GgufTensorInfo> tensors, long dataOffset, int alignment)
    {
        Path = path; _file = file; _base = file.Pointer; Version = version;
        Metadata = metadata; Tensors = tensors; DataOffset = dataOffset; Alignment = alignment;
    }

    public static GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        long length = new FileInfo(path).Length;
        if (length < 24) throw new InvalidDataException($"{path}: {length} bytes is too short for a GGUF header.");
        var file = Lathe.IO.MappedFile.Open(path);
        byte* p = file.Pointer;
        try
        {
            var r = new Reader(path, p, length);
            uint magic = r.U32("magic");
            if (magic != Magic) throw new InvalidDataException($"{path}: bad magic 0x{magic:X8} (expected 'GGUF').");
            uint version = r.U32("version");
            if (version is not (2 or 3)) throw new InvalidDataException($"{path}: GGUF version {version} is not supported (2 or 3).");
            long tensorCount = r.Count("tensor_count", 8 + 4 + 8 + 4 + 8);      // each tensor info takes ≥ 32 bytes
            long kvCount = r.Count("metadata_kv_count", 8 + 4 + 1);            // each pair takes ≥ 13 bytes
            var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
            for (long i = 0; i < kvCount; i++)
            {
                string key = r.Name($"metadata key {i}");
                uint type = r.U32($"type of '{key}'");
                metadata[key] = r.Value(type, key, depth: 0);
            }
            int alignment = 32;
            if (metadata.TryGetValue("general.alignment", out var a))
            {
                alignment = a is uint u ? (int)Math.Min(u, 1u << 20) : -1;
                if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
                    throw new InvalidDataException($"{path}: general.alignment {a} is not a power of two.");
            }
            var infos = new List<(string Name, long[] Dims, uint Type, ulong Offset)>();
            for (long i = 0; i < tensorCount; i++)
            {
                string name = r.Name($"tensor {i} name");
                uint dims = r.U32($"tensor '{name}' n_dims");
                if (dims is 0 or > 4) throw new InvalidDataException($"{path}: tensor '{name}' has {dims} dimensions (1 to 4 expected).");
                var shape = new long[dims];
                for (int d = 0; d < dims; d++)
                {
                    shape[d] = (long)r.U64($"tensor '{name}' dimension {d}");
                    if (shape[d] <= 0 || shape[d] > (1L << 40)) throw new InvalidDataException($"{path}: tensor '{name}' dimension {d} is {shape[d]}.");
                }
                uint type = r.U32($"tensor '{name}' type");
                ulong offset = r.U64($"tensor '{name}' offset");
                infos.Add((name, shape, type, offset));
            }
            long dataOffset = (r.Position + alignment - 1) / alignment * alignment;
            var tensors = new List<GgufTensorInfo>(infos.Count);
            foreach (var (name, dims, type, offset) in infos)
            {
                if (!Enum.IsDefined(typeof(GgmlType), type))
                    throw new InvalidDataException($"{path}: tensor '{name}' has ggml type {type}, not supported ({GgmlTypes.Supported}).");
                var t = (GgmlType)type;
                long count = 1;
                foreach (long d in dims) count = checked(count * d);
                int blockValues = GgmlTypes.BlockValues(t);
                if (dims[0] % blockValues != 0)
                    throw new InvalidDataException($"{path}: tensor '{name}' of type {t} has a first dimension {dims[0]} that is not a multiple of {blockValues}.");
                long bytes = GgmlTypes.Bytes(t, count);
                if (offset % (ulong)alignment != 0 || offset > (ulong)length || dataOffset + (long)offset + bytes > length)
                    throw new InvalidDataException($"{path}: tensor '{name}' data [{offset}, +{bytes}) lies outside the file or is misaligned (data section at {dataOffset}, file {length} bytes).");
                tensors.Add(new GgufTensorInfo(name, dims, t, (long)offset, bytes));
            }
            return new GgufFile(path, file, version, metadata, tensors, dataOffset, alignment);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public GgufTensorInfo Get(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name) ?? throw new InvalidDataException($"{Path}: no tensor named '{name}'.");

    /// <summary>The stored bytes of a tensor (a view of the mapped file).</summary>
    public ReadOnlySpan<byte> Bytes(GgufTensorInfo t) => new(_base + DataOffset + t.Offset, checked((int)t.ByteLength));

    /// <summary>A tensor as float32 (F16/BF16 converted, quantized types decoded), in ggml order (Dims[0] fastest).</summary>
    public float[] ReadFloats(string name)
    {
        var t = Get(name);
        var result = new float[t.ElementCount];
        var bytes = Bytes(t);
        GgmlTypes.Decode(t.Type, bytes, result);
        return result;
    }

    public T Meta<T>(string key) => Metadata.TryGetValue(key, out var v) && v is T t ? t
        : throw new InvalidDataException($"{Path}: metadata '{key}' is missing or not a {typeof(T).Name}.");

    public void Dispose() => _file.Dispose();

    /// <summary>A bounds-checked little-endian cursor over the mapped file.</summary>
    sealed class Reader(string path, byte* p, long length)
    {
        public long Position;

        byte* Take(long n, string field)
        {
            if (n < 0 || Position + n > length)
                throw new InvalidDataException($"{path}: {field} at byte {Position} runs past the end of the file ({length} bytes).");
            byte* at = p + Position;
            Position += n;
            return at;
        }

        public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Take(4, field), 4));
        public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(Take(8, field), 8));

        /// <summary>A count whose items take at least <paramref name="minBytes"/> each: more than the file can hold is a lie.</summary>
        public long Count(string field, long minBytes)
        {
            ulong n = U64(field);
            if (n > (ulong)((length - Position) / minBytes))
                throw new InvalidDataException($"{path}: {field} = {n} cannot fit in the remaining {length - Position} bytes.");
            return (long)n;
        }

        public string String(string field)
        {
            ulong n = U64(field + " length");
            if (n > (ulong)(length - Position)) throw new InvalidDataException($"{path}: {field} claims {n} bytes at byte {Position}, past the end of the file.");
            return Encoding.UTF8.GetString(Take((long)n, field), (int)n);
        }

        /// <summary>A key or tensor name: later errors quote it, so one holding control characters (line breaks,
        /// a lying length's swallowed binary) is refused here, by its byte offset.</summary>
        public string Name(string field)
        {
            long at = Position;
            string name = String(field);
            foreach (char c in name)
                if (char.IsControl(c)) throw new InvalidDataException($"{path}: {field} at byte {at} holds control characters, not a name.");
            return name;
        }

        public object Value(uint type, string key, int depth) => type switch
        {
            0 => *Take(1, key),
            1 => (sbyte)*Take(1, key),
            2 => BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(Take(2, key), 2)),
            3 => BinaryPrimitives.ReadInt16LittleEndian(new ReadOnlySpan<byte>(Take(2, key), 2)),
            4 => U32(key),
            5 => (int)U32(key),
            6 => BitConverter.Int32BitsToSingle((int)U32(key)),
            7 => *Take(1, key) != 0,
            8 => String(key),
            9 => Array(key, depth),
            10 => U64(key),
            11 => (long)U64(key),
            12 => BitConverter.Int64BitsToDouble((long)U64(key)),
            _ => throw new InvalidDataException($"{path}: metadata '{key}' has unknown value type {type}."),
        };

        object[] Array(string key, int depth)
        {
            if (depth > 8) throw new InvalidDataException($"{path}: metadata '{key}' nests arrays too deeply.");
            uint elementType = U32(key + " element type");
            long count = Count(key + " element count", elementType is 0 or 1 or 7 ? 1 : elementType is 2 or 3 ? 2 : elementType is 10 or 11 or 12 or 8 ? 8 : 4);
            var items = new object[count];
            for (long i = 0; i < count; i++) items[i] = Value(elementType, key, depth + 1);
            return items;
        }
    }
}
