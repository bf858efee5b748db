namespace Lathe.Data;

/// <summary>A token range of one shard file: tokens [<paramref name="Start"/>, Start + <paramref name="Count"/>).</summary>
public sealed record ShardRange(string Path, long Start, long Count);

/// <summary>A data folder as the trainer sees it: its train and validation shards, decided by ONE rule, and the
/// tokenizer.json and manifest.json that <see cref="CorpusPipeline.Prepare"/> writes beside them.</summary>
/// <remarks>The rule: every <c>*.bin</c> file in the folder is a shard, taken in ordinal name order. A shard is
/// validation when one part of its name, cut at '_', '-' and '.', is "val", "valid" or "validation" (ours:
/// <c>corpus_val_000000.bin</c>; llm.c's: <c>tiny_shakespeare_val.bin</c>); every other shard is training. A folder with no validation shard
/// holds out the last 5% (at least one token) of its LAST training shard: those tokens are the validation range
/// and training never reads them. No other code decides which tokens are validation.</remarks>
public sealed class ShardFolder
{
    /// <summary>Name of the tokenizer written beside the shards.</summary>
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>The folder.</summary>
    public string Directory { get; }
    /// <summary>Training token ranges, in order.</summary>
    public IReadOnlyList<ShardRange> Train { get; }
    /// <summary>Validation token ranges, in order (a held-out tail of the last train shard when the folder has no val shard).</summary>
    public IReadOnlyList<ShardRange> Validation { get; }
    /// <summary>Whether <see cref="Validation"/> is a held-out tail rather than val shards.</summary>
    public bool HeldOut { get; }
    /// <summary>The folder's tokenizer.json, or null when there is none.</summary>
    public string? TokenizerPath { get; }
    /// <summary>The folder's manifest.json, or null when there is none (shards made by hand or by an older Lathe).</summary>
    public ShardManifest? Manifest { get; }

    /// <summary>Training tokens.</summary>
    public long TrainTokens => Sum(Train);
    /// <summary>Validation tokens.</summary>
    public long ValidationTokens => Sum(Validation);

    ShardFolder(string dir, List<ShardRange> train, List<ShardRange> validation, bool heldOut, string? tokenizer, ShardManifest? manifest)
    {
        Directory = dir; Train = train; Validation = validation; HeldOut = heldOut; TokenizerPath = tokenizer; Manifest = manifest;
    }

    /// <summary>Whether a shard file name is a validation shard under the folder rule (see the remarks).</summary>
    public static bool IsValidationName(string fileName)
    {
        string stem = fileName.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? fileName[..^4] : fileName;
        foreach (var part in stem.Split(['_', '-', '.']))
            if (part.Equals("val", StringComparison.OrdinalIgnoreCase) || part.Equals("valid", StringComparison.OrdinalIgnoreCase)
                || part.Equals("validation", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>The shard files of a folder split by the rule: (train, validation), each in ordinal name order.</summary>
    public static (List<string> Train, List<string> Validation) ListShards(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"data: folder {dir} not found");
        var all = System.IO.Directory.GetFiles(dir, "*.bin");
        Array.Sort(all, StringComparer.Ordinal);
        var train = new List<string>();
        var val = new List<string>();
        foreach (var f in all) (IsValidationName(Path.GetFileName(f)) ? val : train).Add(f);
        return (train, val);
    }

    /// <summary>Opens a data folder: validates every shard header, the manifest (when present) against the shards
    /// and the tokenizer.json beside them (same fingerprint); a mismatch is one line naming the file.</summary>
    public static ShardFolder Open(string dir)
    {
        var (trainFiles, valFiles) = ListShards(dir);
        if (trainFiles.Count == 0) throw new InvalidDataException($"data: {dir} holds no token shards (*.bin)");
        var train = new List<ShardRange>(trainFiles.Count);
        var val = new List<ShardRange>(valFiles.Count);
        foreach (var f in trainFiles) train.Add(new ShardRange(f, 0, CountOf(f)));
        foreach (var f in valFiles) val.Add(new ShardRange(f, 0, CountOf(f)));
        bool heldOut = val.Count == 0;
        if (heldOut)
        {
            var last = train[^1];
            long held = Math.Max(1, last.Count / 20);
            if (held >= last.Count) throw new InvalidDataException($"data: {last.Path}: {last.Count} tokens is too few to hold out validation tokens (add a *_val_*.bin shard)");
            train[^1] = last with { Count = last.Count - held };
            val.Add(new ShardRange(last.Path, last.Count - held, held));
        }
        string tokenizerPath = Path.Combine(dir, TokenizerFile);
        string? tokenizer = File.Exists(tokenizerPath) ? tokenizerPath : null;
        string manifestPath = Path.Combine(dir, ShardManifest.FileName);
        ShardManifest? manifest = null;
        if (File.Exists(manifestPath))
        {
            manifest = ShardManifest.Load(manifestPath);
            manifest.Check(manifestPath, tokenizer, trainFiles.Concat(valFiles));
        }
        return new ShardFolder(dir, train, val, heldOut, tokenizer, manifest);
    }

    /// <summary>The first tokens of the validation ranges, at most <paramref name="maxTokens"/> of them (evaluation
    /// reads only a few batches, so the whole validation set never has to fit in one array).</summary>
    public int[] ReadValidation(long maxTokens)
    {
        long n = Math.Min(ValidationTokens, Math.Min(maxTokens, Array.MaxLength));
        var result = new int[n];
        long o = 0;
        foreach (var r in Validation)
        {
            if (o == n) break;
            int take = (int)Math.Min(r.Count, n - o);
            using var shard = TokenShard.Open(r.Path);
            shard.Read(r.Start, result.AsSpan((int)o, take));
            o += take;
        }
        return result;
    }

    /// <summary>The largest token id in any shard (train and validation) and the file holding it; -1 for empty shards.
    /// Reads every token once through the memory map, in bounded chunks.</summary>
    public (int MaxId, string? File) MaxTokenId()
    {
        int max = -1;
        string? where = null;
        var buffer = new int[1 << 16];
        var (trainFiles, valFiles) = ListShards(Directory);
        foreach (var f in trainFiles.Concat(valFiles))
        {
            using var shard = TokenShard.Open(f);
            for (long s = 0; s < shard.Count; s += buffer.Length)
            {
                var span = buffer.AsSpan(0, (int)Math.Min(buffer.Length, shard.Count - s));
                shard.Read(s, span);
                int m = -1;
                foreach (int t in span) m = Math.Max(m, t);
                if (m > max) { max = m; where = f; }
            }
        }
        return (max, where);
    }

    /// <summary>Checks every token id is below <paramref name="vocabSize"/>; otherwise one line naming the shard,
    /// the id and <paramref name="what"/> (the tokenizer or config that fixes the size).</summary>
    public void CheckTokenIds(int vocabSize, string what)
    {
        var (max, file) = MaxTokenId();
        if (max >= vocabSize)
            throw new InvalidDataException($"data: {file}: token id {max} is outside {what} ({vocabSize} ids)");
    }

    static long CountOf(string path)
    {
        using var shard = TokenShard.Open(path);
        return shard.Count;
    }

    static long Sum(IReadOnlyList<ShardRange> ranges)
    {
        long n = 0;
        foreach (var r in ranges) n += r.Count;
        return n;
    }
}
