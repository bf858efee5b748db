using Lathe.Data;

namespace Lathe.Data;

/// <summary>Whole-array helpers over llm.c token shards, for tests and small tools; training itself streams the
/// shards through <see cref="ShardBatchSource"/>, and which shards are validation is decided by <see cref="ShardFolder"/>.</summary>
public static class TokenShards
{
    /// <summary>Reads a whole shard; a bad header or short file is a one-line error naming the file.</summary>
    public static int[] Read(string path)
    {
        using var shard = TokenShard.Open(path);
        return shard.ReadAll();
    }

    /// <summary>Writes one shard atomically, uint16 when every id fits, else uint32.</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens) => TokenShard.Write(path, tokens);

    /// <summary>The training and validation tokens of a data folder as two arrays, split by <see cref="ShardFolder"/>'s
    /// rule (limited to 2^31 tokens each; training uses <see cref="ShardBatchSource"/> instead).</summary>
    public static (int[] Train, int[] Validation) LoadFolder(string dir)
    {
        var folder = ShardFolder.Open(dir);
        return (ReadRanges(folder.Train), ReadRanges(folder.Validation));
    }

    static int[] ReadRanges(IReadOnlyList<ShardRange> ranges)
    {
        long total = 0;
        foreach (var r in ranges) total += r.Count;
        var result = new int[checked((int)total)];
        int o = 0;
        foreach (var r in ranges)
        {
            using var shard = TokenShard.Open(r.Path);
            shard.Read(r.Start, result.AsSpan(o, (int)r.Count));
            o += (int)r.Count;
        }
        return result;
    }
}
