using Lathe.Data;

namespace Lathe.Training;

/// <summary>The trainer's view of a data folder: llm.c token shards (read and written by the data stage's
/// <see cref="TokenShard"/> and <see cref="ShardWriter"/>) loaded as whole token streams.</summary>
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
