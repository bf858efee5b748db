using Lathe.IO;
using System.Buffers.Binary;

namespace Lathe.Data;

/// <summary>One token shard in llm.c's layout: a header of 256 little-endian int32 — [0] magic 20240520,
/// [1] version (1: uint16 tokens, 2: uint32 tokens), [2] token count — then the tokens, little-endian.
/// Opening validates the header against the file length; the tokens are read through a memory map, so
/// opening a shard costs no memory beyond the pages actually read.</summary>
public sealed unsafe class TokenShard : IDisposable
{
    /// <summary>llm.c's magic number.</summary>
    public const int Magic = 20240520;
    /// <summary>Header size in int32s and bytes.</summary>
    public const int HeaderInts = 256, HeaderBytes = HeaderInts * 4;

    readonly MappedFile? file;
    readonly byte* tokens;

    /// <summary>The shard's path.</summary>
    public string Path { get; }
    /// <summary>Tokens in the shard.</summary>
    public long Count { get; }
    /// <summary>Bytes per token (2 or 4).</summary>
    public int TokenBytes { get; }

    TokenShard(string path, long count, int tokenBytes, MappedFile? file)
    {
        Path = path; Count = count; TokenBytes = tokenBytes; this.file = file; tokens = file is null ? null : file.Pointer + HeaderBytes;
    }

    /// <summary>Opens and validates a shard; a bad header is an <see cref="InvalidDataException"/> naming the
    /// file and the byte offset of the field at fault.</summary>
    public static TokenShard Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data: shard {path} not found", path);
        long length = new FileInfo(path).Length;
        var header = new byte[12];
        using (var f = File.OpenRead(path)) f.ReadAtLeast(header, 12, throwOnEndOfStream: false);
        if (length < HeaderBytes)
            throw new InvalidDataException($"data: {path}: {length} bytes, shorter than the {HeaderBytes}-byte shard header (byte offset 0)");
        int magic = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (magic != Magic) throw new InvalidDataException($"data: {path}: magic {magic} at byte offset 0, expected {Magic} (llm.c token shard)");
        int version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
        if (version is not (1 or 2)) throw new InvalidDataException($"data: {path}: version {version} at byte offset 4, expected 1 (uint16) or 2 (uint32)");
        int width = version == 1 ? 2 : 4;
        long count = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        long expected = HeaderBytes + count * width;
        if (count < 0 || expected != length)
            throw new InvalidDataException(
                $"data: {path}: header at byte offset 8 says {count} tokens ({expected} bytes) but the file has {length} bytes");
        return new TokenShard(path, count, width, count == 0 ? null : MappedFile.Open(path));
    }

    /// <summary>Copies tokens [<paramref name="start"/>, start + destination.Length) into <paramref name="destination"/>.</summary>
    public void Read(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > Count) throw new ArgumentOutOfRangeException(nameof(start));
        if (TokenBytes == 2)
        {
            var source = new ReadOnlySpan<ushort>(tokens + start * 2, destination.Length);
            for (int i = 0; i < destination.Length; i++)
                destination[i] = BitConverter.IsLittleEndian ? source[i] : BinaryPrimitives.ReverseEndianness(source[i]);
        }
        else
        {
            var source = new ReadOnlySpan<uint>(tokens + start * 4, destination.Length);
            for (int i = 0; i < destination.Length; i++)
                destination[i] = (int)(BitConverter.IsLittleEndian ? source[i] : BinaryPrimitives.ReverseEndianness(source[i]));
        }
    }

    /// <summary>All tokens (for small shards and tests).</summary>
    public int[] ReadAll()
    {
        var all = new int[checked((int)Count)];
        Read(0, all);
        return all;
    }

    public void Dispose() => file?.Dispose();

    /// <summary>The shards of one split ("train" or "val") in a folder, in order, by <see cref="ShardFolder"/>'s rule.</summary>
    public static List<string> Find(string dir, string split)
    {
        var (train, val) = ShardFolder.ListShards(dir);
        return split switch
        {
            "train" => train,
            "val" => val,
            _ => throw new ArgumentException($"data: split '{split}' is not train or val", nameof(split)),
        };
    }

    /// <summary>Writes the 1024-byte header for <paramref name="count"/> tokens of <paramref name="tokenBytes"/> bytes.</summary>
    /// <summary>Writes <paramref name="tokens"/> as one shard at <paramref name="path"/>, atomically: uint16 when
    /// every id fits, else uint32.</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens)
    {
        int max = 0;
        foreach (int t in tokens)
        {
            if (t < 0) throw new ArgumentException($"data: {path}: negative token id {t}.");
            max = Math.Max(max, t);
        }
        int width = max < 65536 ? 2 : 4;
        var bytes = new byte[HeaderBytes + (long)tokens.Length * width];
        WriteHeader(bytes, tokens.Length, width);
        var body = bytes.AsSpan(HeaderBytes);
        for (int i = 0; i < tokens.Length; i++)
        {
            if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(body[(2 * i)..], (ushort)tokens[i]);
            else BinaryPrimitives.WriteUInt32LittleEndian(body[(4 * i)..], (uint)tokens[i]);
        }
        AtomicFile.WriteAllBytes(path, bytes);
    }

    internal static void WriteHeader(Span<byte> header, long count, int tokenBytes)
    {
        if (count > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(count), "llm.c shards hold at most 2^31-1 tokens");
        header[..HeaderBytes].Clear();
        BinaryPrimitives.WriteInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], tokenBytes == 2 ? 1 : 2);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], (int)count);
    }
}
