using System.Buffers.Binary;
using Lathe.IO;

namespace Lathe.Training;

/// <summary>Token shards in llm.c's layout: a header of 256 little-endian int32 (magic 20240520, version
/// 1 = uint16 tokens or 2 = uint32 tokens, token count), then the tokens.</summary>
/// <remarks>Interim reader/writer owned by the trainer until the data pipeline's loader (src/Lathe/Data)
/// lands in main; then this file goes.</remarks>
public static class TokenShards
{
    public const int Magic = 20240520, HeaderInts = 256;

    /// <summary>Reads a whole shard; a bad header or short file is a one-line error naming the file.</summary>
    public static int[] Read(string path)
    {
        using var f = File.OpenRead(path);
        var header = new byte[HeaderInts * 4];
        if (f.Read(header) != header.Length) throw new InvalidDataException($"data: {path}: shorter than the 1024-byte shard header");
        int magic = BinaryPrimitives.ReadInt32LittleEndian(header), version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
        long count = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        if (magic != Magic) throw new InvalidDataException($"data: {path}: magic {magic}, expected {Magic} (llm.c token shard)");
        if (version is not (1 or 2)) throw new InvalidDataException($"data: {path}: version {version}, expected 1 (uint16) or 2 (uint32)");
        int width = version == 1 ? 2 : 4;
        if (count < 0 || f.Length - header.Length != count * width)
            throw new InvalidDataException($"data: {path}: header says {count} tokens but the file holds {(f.Length - header.Length) / width}");
        var bytes = new byte[count * width];
        f.ReadExactly(bytes);
        var tokens = new int[count];
        if (width == 2) for (int i = 0; i < count; i++) tokens[i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i));
        else for (int i = 0; i < count; i++) tokens[i] = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4 * i)));
        return tokens;
    }

    /// <summary>Writes a shard atomically (uint16 when every id fits, else uint32).</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens)
    {
        int max = 0;
        foreach (int t in tokens) max = Math.Max(max, t);
        int width = max < 65536 ? 2 : 4;
        var bytes = new byte[HeaderInts * 4 + (long)tokens.Length * width];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), width == 2 ? 1 : 2);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), tokens.Length);
        int o = HeaderInts * 4;
        for (int i = 0; i < tokens.Length; i++)
        {
            if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(o + 2 * i), (ushort)tokens[i]);
            else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(o + 4 * i), (uint)tokens[i]);
        }
        AtomicFile.WriteAllBytes(path, bytes);
    }

    /// <summary>The training and validation token streams of a data folder: shards named *train*.bin and
    /// *val*.bin (llm.c's naming); with no val shard, the last 5% of the training tokens are held out.</summary>
    public static (int[] Train, int[] Validation) LoadFolder(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"data: folder {dir} not found");
        var all = Directory.GetFiles(dir, "*.bin");
        Array.Sort(all, StringComparer.Ordinal);
        var train = new List<string>();
        var val = new List<string>();
        foreach (var f in all) (Path.GetFileName(f).Contains("val", StringComparison.OrdinalIgnoreCase) ? val : train).Add(f);
        if (train.Count == 0) throw new InvalidDataException($"data: {dir} holds no token shards (*.bin)");
        int[] trainTokens = Concat(train), valTokens;
        if (val.Count > 0) valTokens = Concat(val);
        else
        {
            int held = Math.Max(1, trainTokens.Length / 20);
            valTokens = trainTokens[^held..];
            trainTokens = trainTokens[..^held];
        }
        return (trainTokens, valTokens);
    }

    static int[] Concat(List<string> files)
    {
        var parts = new List<int[]>();
        long total = 0;
        foreach (var f in files) { var t = Read(f); parts.Add(t); total += t.Length; }
        var result = new int[checked((int)total)];
        int o = 0;
        foreach (var p in parts) { p.CopyTo(result, o); o += p.Length; }
        return result;
    }
}
