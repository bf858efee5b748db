using System.Buffers.Binary;
using System.IO.Compression;

namespace Lathe.Vision.Data;

/// <summary>An IDX file (the MNIST / Fashion-MNIST format): a big-endian header — two zero bytes, a type code, the
/// number of dimensions — then each dimension as a big-endian int32, then the values row-major. Gzip-compressed files
/// (as Debian ships them) are read transparently. Only unsigned bytes (type 0x08) hold image and label data; other
/// types are refused by name.</summary>
public sealed class IdxFile
{
    public const byte UnsignedByte = 0x08;

    /// <summary>The dimensions from the header (images: count, rows, columns; labels: count).</summary>
    public int[] Dimensions { get; }
    /// <summary>The values, row-major.</summary>
    public byte[] Data { get; }

    IdxFile(int[] dims, byte[] data) { Dimensions = dims; Data = data; }

    /// <summary>Reads <paramref name="path"/>; a wrong magic, an unsupported type, an impossible header or a body shorter
    /// than the header promises is an <see cref="InvalidDataException"/> naming the file.</summary>
    public static IdxFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: IDX file not found");
        byte[] raw = File.ReadAllBytes(path);
        if (raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b)
        {
            try
            {
                using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                gz.CopyTo(plain);
                raw = plain.ToArray();
            }
            catch (InvalidDataException e) { throw new InvalidDataException($"{path}: gzip stream is corrupt ({e.Message})"); }
        }
        return Parse(raw, path);
    }

    /// <summary>Parses IDX bytes; <paramref name="name"/> names the source in errors.</summary>
    public static IdxFile Parse(ReadOnlySpan<byte> raw, string name)
    {
        if (raw.Length < 4 || raw[0] != 0 || raw[1] != 0)
            throw new InvalidDataException($"{name}: not an IDX file (magic must start with two zero bytes)");
        if (raw[2] != UnsignedByte)
            throw new InvalidDataException($"{name}: IDX type 0x{raw[2]:x2} is not supported (only unsigned bytes, 0x08)");
        int rank = raw[3];
        if (rank is < 1 or > 4) throw new InvalidDataException($"{name}: IDX header gives {rank} dimensions (1–4 expected)");
        if (raw.Length < 4 + 4 * rank) throw new InvalidDataException($"{name}: IDX header truncated ({raw.Length} bytes)");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            int d = BinaryPrimitives.ReadInt32BigEndian(raw.Slice(4 + 4 * i));
            if (d <= 0) throw new InvalidDataException($"{name}: IDX dimension {i} is {d}");
            dims[i] = d;
            count *= d;
        }
        int header = 4 + 4 * rank;
        if (count > int.MaxValue) throw new InvalidDataException($"{name}: IDX body of {count} values is too large");
        if (raw.Length - header < count)
            throw new InvalidDataException($"{name}: IDX body truncated: {raw.Length - header} bytes, header promises {count}");
        if (raw.Length - header > count)
            throw new InvalidDataException($"{name}: IDX body has {raw.Length - header - count} bytes beyond the {count} the header promises");
        return new IdxFile(dims, raw.Slice(header, (int)count).ToArray());
    }

    /// <summary>Writes an unsigned-byte IDX file (uncompressed) — test data and exported subsets.</summary>
    public static void Write(string path, ReadOnlySpan<int> dims, ReadOnlySpan<byte> data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = UnsignedByte;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes.AsSpan(4 + 4 * dims.Length));
        IO.AtomicFile.WriteAllBytes(path, bytes);
    }
}
