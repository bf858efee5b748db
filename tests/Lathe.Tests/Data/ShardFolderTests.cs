using Lathe.Data;
using Lathe.Tokenizers;

namespace Lathe.Tests.Data;

/// <summary>The one train/validation rule of a data folder, the manifest beside the shards, and the loader over
/// token ranges — each checked against plain slices of the tokens written.</summary>
public class ShardFolderTests
{
    static int[] Tokens(int n, int seed, int vocab = 300)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
    }

    [Theory]
    [InlineData("corpus_val_000000.bin", true)]
    [InlineData("tiny_shakespeare_val.bin", true)]
    [InlineData("fineweb-val-000001.bin", true)]
    [InlineData("corpus_train_000000.bin", false)]
    [InlineData("interval_train_000.bin", false)]   // "val" inside a word is not the split
    [InlineData("validation.bin", true)]
    [InlineData("wiki.valid.bin", true)]
    [InlineData("invalid_train_000.bin", false)]
    [InlineData("x.bin", false)]
    public void Validation_shards_are_named_by_a_val_part(string name, bool isVal) =>
        Assert.Equal(isVal, ShardFolder.IsValidationName(name));

    [Fact]
    public void A_folder_with_val_shards_splits_by_name_and_reads_whole_shards()
    {
        using var tmp = new TempDir();
        int[] a = Tokens(500, 1), b = Tokens(300, 2), v = Tokens(120, 3);
        TokenShard.Write(tmp.File("c_train_000001.bin"), b);
        TokenShard.Write(tmp.File("c_train_000000.bin"), a);
        TokenShard.Write(tmp.File("c_val_000000.bin"), v);
        var folder = ShardFolder.Open(tmp.Path);
        Assert.False(folder.HeldOut);
        Assert.Equal(["c_train_000000.bin", "c_train_000001.bin"], folder.Train.Select(r => Path.GetFileName(r.Path)).ToArray());
        Assert.Equal([(0L, 500L), (0L, 300L)], folder.Train.Select(r => (r.Start, r.Count)).ToArray());
        Assert.Equal(800, folder.TrainTokens);
        Assert.Equal(v, folder.ReadValidation(long.MaxValue));
        Assert.Equal(v[..50], folder.ReadValidation(50));
        Assert.Equal(["c_train_000000.bin", "c_train_000001.bin"], TokenShard.Find(tmp.Path, "train").Select(p => Path.GetFileName(p)!).ToArray());
        Assert.Equal(["c_val_000000.bin"], TokenShard.Find(tmp.Path, "val").Select(p => Path.GetFileName(p)!).ToArray());
    }

    [Fact]
    public void Without_val_shards_the_last_5_percent_of_the_last_train_shard_is_held_out()
    {
        using var tmp = new TempDir();
        int[] a = Tokens(500, 1), b = Tokens(400, 2);
        TokenShard.Write(tmp.File("c_train_000000.bin"), a);
        TokenShard.Write(tmp.File("c_train_000001.bin"), b);
        var folder = ShardFolder.Open(tmp.Path);
        Assert.True(folder.HeldOut);
        Assert.Equal(new ShardRange(tmp.File("c_train_000001.bin"), 0, 380), folder.Train[1]);
        Assert.Equal(b[380..], folder.ReadValidation(long.MaxValue));
        // The whole-array view follows the same rule.
        var (train, val) = Lathe.Data.TokenShards.LoadFolder(tmp.Path);
        Assert.Equal(a.Concat(b[..380]).ToArray(), train);
        Assert.Equal(b[380..], val);
    }

    [Fact]
    public void The_loader_over_ranges_serves_exactly_the_windows_of_each_range_once_per_epoch()
    {
        using var tmp = new TempDir();
        int[] a = Tokens(103, 1), b = Tokens(58, 2);
        TokenShard.Write(tmp.File("c_train_000000.bin"), a);
        TokenShard.Write(tmp.File("c_train_000001.bin"), b);
        const int T = 10;
        ShardRange[] ranges = [new(tmp.File("c_train_000000.bin"), 7, 90), new(tmp.File("c_train_000001.bin"), 0, 58)];
        // Oracle: window k of a range = tokens [Start + kT, Start + kT + T + 1) of its shard.
        var expected = new List<string>();
        for (int k = 0; k < (90 - 1) / T; k++) expected.Add(string.Join(',', a.Skip(7 + k * T).Take(T + 1)));
        for (int k = 0; k < (58 - 1) / T; k++) expected.Add(string.Join(',', b.Skip(k * T).Take(T + 1)));
        using var loader = new TokenWindowLoader(ranges, 1, T, new LoaderState(5, 0, 0));
        Assert.Equal(expected.Count, loader.WindowCount);
        var seen = new List<string>();
        var row = new int[T + 1];
        for (int i = 0; i < expected.Count; i++) { loader.NextBatch(row); seen.Add(string.Join(',', row)); }
        Assert.Equal(expected.OrderBy(s => s), seen.OrderBy(s => s));
        Assert.NotEqual(expected, seen);   // shuffled
        // Seek to a saved state gives the same next windows as the loader that saved it.
        loader.NextBatch(row);
        var state = loader.State;
        var next = new int[T + 1];
        loader.NextBatch(next);
        using var other = new TokenWindowLoader(ranges, 1, T, new LoaderState(5, 0, 0));
        other.Seek(state.Epoch, state.Position);
        var again = new int[T + 1];
        other.NextBatch(again);
        Assert.Equal(next, again);
        Assert.Equal(1, state.Epoch);
    }

    static Tokenizer SmallTokenizer(int vocab = 300) =>
        new BpeTrainer(vocab).Train(["the whale and the sea and the ship; call me Ishmael. " + string.Concat(Enumerable.Repeat("a whale of a tale ", 20))]);

    static IEnumerable<Document> Docs(int n) => Enumerable.Range(0, n).Select(i =>
        new Document($"d{i}", $"Document {i}: " + string.Join(' ', Enumerable.Range(0, 80).Select(j => $"word{(i * 31 + j * 7) % 97}")) + "."));

    [Fact]
    public void Prepare_writes_the_tokenizer_and_a_manifest_that_matches_the_shards()
    {
        using var tmp = new TempDir();
        var tokenizer = SmallTokenizer();
        string tokPath = tmp.File("tok.json");
        tokenizer.Save(tokPath);
        string outDir = tmp.File("data");
        var options = new PrepareOptions
        {
            Threads = 1, NearDedup = false, TokensPerShard = 2000, ValidationFraction = 0.2, TokenizerFile = tokPath, TokenizerSource = tokPath, SourceName = "docs",
            Cleaning = CleaningOptions.Default with { QualityFilter = false },
        };
        var stats = CorpusPipeline.Prepare(Docs(40), tokenizer, outDir, options);
        Assert.Equal(File.ReadAllBytes(tokPath), File.ReadAllBytes(Path.Combine(outDir, "tokenizer.json")));
        var m = ShardManifest.Load(Path.Combine(outDir, ShardManifest.FileName));
        Assert.Equal(tokenizer.VocabSize, m.VocabSize);
        Assert.Equal(tokenizer.EndOfTextId, m.EndOfTextId);
        Assert.Equal([("<|endoftext|>", tokenizer.EndOfTextId)], m.SpecialTokens.Select(s => (s.Text, s.Id)).ToArray());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(tokPath))), m.Tokenizer.Sha256);
        Assert.Equal((stats.TrainTokens, stats.ValidationTokens), (m.TrainTokens, m.ValidationTokens));
        Assert.True(m.TrainTokens > 0 && m.ValidationTokens > 0);
        Assert.Equal(stats.Shards.Select(Path.GetFileName).OrderBy(s => s, StringComparer.Ordinal), m.Shards.Select(s => s.File));
        foreach (var s in m.Shards)
        {
            using var shard = TokenShard.Open(Path.Combine(outDir, s.File));
            Assert.Equal(s.Tokens, shard.Count);
            Assert.Equal(s.File.Contains("_val_") ? "val" : "train", s.Split);
        }
        var folder = ShardFolder.Open(outDir);   // the manifest checks pass
        Assert.Equal(m.TrainTokens, folder.TrainTokens);
        Assert.True(folder.MaxTokenId().MaxId < tokenizer.VocabSize);
    }

    [Fact]
    public void A_tokenizer_other_than_the_shards_one_or_an_unlisted_shard_is_a_one_line_error()
    {
        using var tmp = new TempDir();
        var tokenizer = SmallTokenizer();
        string outDir = tmp.File("data");
        var options = new PrepareOptions { Threads = 1, NearDedup = false, Cleaning = CleaningOptions.Default with { QualityFilter = false } };
        CorpusPipeline.Prepare(Docs(20), tokenizer, outDir, options);   // no TokenizerFile: the tokenizer is saved as tokenizer.json
        Assert.True(File.Exists(Path.Combine(outDir, "tokenizer.json")));
        ShardFolder.Open(outDir);
        string manifest = Path.Combine(outDir, ShardManifest.FileName);

        // Another tokenizer put beside the shards.
        string original = Path.Combine(outDir, "tokenizer.json");
        byte[] saved = File.ReadAllBytes(original);
        SmallTokenizer(262).Save(original);
        var e = Assert.Throws<InvalidDataException>(() => ShardFolder.Open(outDir));
        Assert.StartsWith($"data: {original} (sha256 ", e.Message);
        Assert.Contains($"is not the tokenizer the shards were made with ({manifest}: sha256 ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        File.WriteAllBytes(original, saved);

        // A shard the manifest does not list.
        string stray = Path.Combine(outDir, "other_train_000000.bin");
        TokenShard.Write(stray, [1, 2, 3]);
        e = Assert.Throws<InvalidDataException>(() => ShardFolder.Open(outDir));
        Assert.Equal($"data: {stray} is not listed in {manifest} (made by another run or tokenizer?); remove it or re-run data prepare", e.Message);

        // data prepare under another name with another tokenizer refuses before writing anything.
        var before = Directory.GetFiles(outDir).Select(f => (f, File.GetLastWriteTimeUtc(f))).ToArray();
        e = Assert.Throws<InvalidDataException>(() => CorpusPipeline.Prepare(Docs(5), SmallTokenizer(262), outDir, options with { Name = "more" }));
        Assert.StartsWith($"data: {stray} was made by another run or tokenizer", e.Message);
        Assert.Equal(before, Directory.GetFiles(outDir).Select(f => (f, File.GetLastWriteTimeUtc(f))).ToArray());
        File.Delete(stray);

        // Under another name with the same tokenizer, the first run's shards stay listed.
        CorpusPipeline.Prepare(Docs(5), tokenizer, outDir, options with { Name = "more" });
        var m = ShardManifest.Load(manifest);
        Assert.Contains(m.Shards, s => s.File.StartsWith("corpus_train_"));
        Assert.Contains(m.Shards, s => s.File.StartsWith("more_train_"));
        ShardFolder.Open(outDir);
    }

    [Fact]
    public void A_malformed_manifest_is_one_line_naming_the_file()
    {
        using var tmp = new TempDir();
        string path = tmp.File("manifest.json");
        File.WriteAllText(path, "{\"format\":\"lathe-shards/1\",\"vocab_size\":0}");
        Assert.Equal($"data: {path}: vocab_size 0 must be positive", Assert.Throws<InvalidDataException>(() => ShardManifest.Load(path)).Message);
        File.WriteAllText(path, "{ not json");
        Assert.StartsWith($"data: {path}: not a shard manifest (", Assert.Throws<InvalidDataException>(() => ShardManifest.Load(path)).Message);
    }
}
