using System.Text.Json;
using Lathe.Data;

namespace Lathe.Tests.Data;

public class PrepareTests
{
    static List<Document> Corpus()
    {
        var rng = new Random(21);
        var docs = new List<Document>();
        string Sentence() => string.Join(' ', Enumerable.Range(0, 12).Select(_ => "word" + rng.Next(3000))) + ".";
        for (int i = 0; i < 300; i++)
        {
            string text = string.Join('\n', Enumerable.Range(0, 8).Select(_ => Sentence())) + (i % 3 == 0 ? " café ☕" : "");
            docs.Add(new Document("d" + i, text));
            if (i % 25 == 0) docs.Add(new Document("dup" + i, text.ToUpperInvariant()));          // exact duplicate
            if (i % 30 == 0) docs.Add(new Document("near" + i, text + " extra")); // near duplicate: Jaccard ≈ 0.99
        }
        docs.Add(new Document("short", "too short"));
        return docs;
    }

    static (List<int[]> Train, List<int[]> Val) ReadShards(string dir)
    {
        var train = Directory.GetFiles(dir, "*_train_*.bin").Order(StringComparer.Ordinal).Select(p => { using var s = TokenShard.Open(p); return s.ReadAll(); }).ToList();
        var val = Directory.GetFiles(dir, "*_val_*.bin").Order(StringComparer.Ordinal).Select(p => { using var s = TokenShard.Open(p); return s.ReadAll(); }).ToList();
        return (train, val);
    }

    [Fact]
    public void PrepareCleansDedupsAndShardsEveryKeptDocumentOnce()
    {
        using var tmp = new TempDir();
        var docs = Corpus();
        var options = new PrepareOptions { TokensPerShard = 50_000, Threads = 2, Name = "t" };
        var stats = CorpusPipeline.Prepare(docs, new ByteEncoder(), tmp.Path, options);

        // Oracle: the same cleaning applied one document at a time, exact duplicates by hand, near ones by
        // construction (one per 30 originals), then the split rule.
        var cleaner = new TextCleaner(options.Cleaning);
        var seen = new HashSet<ulong>();
        var expectedTrain = new List<string>();
        var expectedVal = new List<string>();
        foreach (var d in docs)
        {
            if (d.Id.StartsWith("near")) continue;
            var t = cleaner.Clean(d.Text, new CleaningStats());
            if (t is null || !seen.Add(Hash64.OfNormalized(t))) continue;
            (CorpusPipeline.IsValidation(t, options.ValidationFraction, options.Seed) ? expectedVal : expectedTrain).Add(t);
        }
        var (train, val) = ReadShards(tmp.Path);
        Assert.True(train.Count >= 2);
        Assert.Equal(expectedTrain, Documents(train));
        Assert.Equal(expectedVal, Documents(val));
        Assert.NotEmpty(expectedVal);
        Assert.Equal(12, stats.ExactDuplicates);
        Assert.Equal(10, stats.NearDuplicates);
        Assert.Equal(1, stats.Cleaning.RejectedTooFewWords);

        using var json = JsonDocument.Parse(File.ReadAllText(tmp.File("stats.json")));
        Assert.Equal(stats.TrainTokens, json.RootElement.GetProperty("shards").GetProperty("train_tokens").GetInt64());
        Assert.Equal(12, json.RootElement.GetProperty("dedup").GetProperty("exact_duplicates").GetInt64());
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(tmp.Path, ".*"));
    }

    // Splits shards' tokens at the end-of-text id (which precedes each document, as in llm.c).
    static List<string> Documents(List<int[]> shards)
    {
        var all = shards.SelectMany(s => s).ToArray();
        var docs = new List<string>();
        if (all.Length == 0) return docs;
        Assert.Equal(256, all[0]);
        int start = 1;
        for (int i = 1; i <= all.Length; i++)
            if (i == all.Length || all[i] == 256) { docs.Add(ByteEncoder.Decode(all.AsSpan(start, i - start))); start = i + 1; }
        return docs;
    }

    [Fact]
    public void OutputIsIdenticalForAnyThreadCount()
    {
        using var one = new TempDir();
        using var two = new TempDir();
        var docs = Corpus();
        CorpusPipeline.Prepare(docs, new ByteEncoder(), one.Path, new PrepareOptions { Threads = 1, TokensPerShard = 40_000 });
        CorpusPipeline.Prepare(docs, new ByteEncoder(), two.Path, new PrepareOptions { Threads = 4, TokensPerShard = 40_000 });
        var a = Directory.GetFiles(one.Path, "*.bin").Order(StringComparer.Ordinal).ToArray();
        var b = Directory.GetFiles(two.Path, "*.bin").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(a.Select(Path.GetFileName), b.Select(Path.GetFileName));
        for (int i = 0; i < a.Length; i++) Assert.Equal(File.ReadAllBytes(a[i]), File.ReadAllBytes(b[i]));
    }
}

public class PrepareErrorTests
{
    [Fact]
    public void SourceErrorSurfacesAndLeavesNoShardsOrSpool()
    {
        using var tmp = new TempDir();
        var lines = Enumerable.Range(0, 2000).Select(i => $"{{\"text\":\"document number {i} " + string.Concat(Enumerable.Repeat("word ", 60)) + "\"}").ToList();
        lines.Add("{not json");
        File.WriteAllLines(tmp.File("c.jsonl"), lines);
        var source = CorpusSource.Open(tmp.File("c.jsonl"), new SourceReport());
        var e = Assert.Throws<InvalidDataException>(() => CorpusPipeline.Prepare(source, new ByteEncoder(), tmp.File("out"), new PrepareOptions()));
        Assert.Contains("c.jsonl:2001", e.Message);
        Assert.Empty(Directory.GetFiles(tmp.File("out"), "*.bin"));
        Assert.Empty(Directory.GetFiles(tmp.File("out"), ".*"));   // the spool is gone too
    }
}
