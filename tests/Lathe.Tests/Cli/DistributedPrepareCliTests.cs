using System.Text.Json;

namespace Lathe.Tests.Cli;

/// <summary>`mpirun -np K lathe data prepare`: the cleaning, hashing and tokenizing are split over the ranks, and the
/// shards, manifest.json, tokenizer.json and stats.json (apart from its timing field) are the single process's byte for
/// byte — with exact and near duplicates across the ranks' shares, rejected documents and several batches and shards.
/// A folder rank 0 refuses, or a broken corpus line, stops every rank with one line.</summary>
[Collection("mpirun")]
public sealed class DistributedPrepareCliTests : IDisposable
{
    readonly LatheProcess _cli = new();
    public void Dispose() => _cli.Dispose();

    // 700 documents (three of the pipeline's batches of 256): sentences from a seeded draw, with exact copies, near
    // copies (one word changed) and too-short documents the quality filter drops.
    void Corpus()
    {
        string[] words = ["the", "whale", "ship", "sea", "captain", "harpoon", "deck", "storm", "sailor", "ocean", "white", "boat",
            "wind", "crew", "line", "oil", "night", "voyage", "island", "mast", "rope", "sun", "water", "cabin"];
        var random = new Random(7);
        var docs = new List<string>();
        for (int d = 0; d < 700; d++)
        {
            if (d % 10 == 3 && d > 10) { docs.Add(docs[random.Next(docs.Count)]); continue; }   // an exact copy
            if (d % 10 == 6 && d > 10)
            {
                var near = docs[random.Next(docs.Count)].Split(' ');
                near[near.Length / 2] = "albatross";
                docs.Add(string.Join(' ', near));   // a near copy
                continue;
            }
            int n = d % 17 == 0 ? 3 : 40 + random.Next(60);
            var text = new System.Text.StringBuilder();
            for (int w = 0; w < n; w++) text.Append(words[random.Next(words.Length)]).Append(w % 9 == 8 ? ". " : " ");
            docs.Add(text.ToString().Trim() + ".");
        }
        File.WriteAllLines(_cli.PathOf("corpus.jsonl"), docs.Select(t => JsonSerializer.Serialize(new { text = t })));
    }

    [Theory]
    [InlineData(2, false, false)]
    [InlineData(3, true, false)]
    [InlineData(2, false, true)]   // exact dedup only: the pipeline's one-pass path
    public void Prepare_over_ranks_writes_the_single_process_shards(int ranks, bool tcp, bool exactOnly)
    {
        Corpus();
        string[] common = ["data", "prepare", "--source", "corpus.jsonl", "--min-words", "10", "--threads", "1", "--tokens-per-shard", "20000", "--val-fraction", "0.1",
            .. exactOnly ? (string[])["--no-near-dedup"] : []];
        _cli.RunOk([.. common, "--out", "one"]);
        var (code, _, stderr) = MpiRun.Run(_cli, ranks, tcp, [.. common, "--out", "many"]);
        Assert.True(code == 0, stderr);
        Assert.Single(stderr.Split('\n'), l => l.StartsWith("data: ") && l.Contains(" kept "));   // rank 0 alone reports

        var files = Directory.GetFiles(_cli.PathOf("one")).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(files, Directory.GetFiles(_cli.PathOf("many")).Select(Path.GetFileName).Order().ToArray());
        Assert.True(files.Count(f => f!.EndsWith(".bin")) >= 3, string.Join(", ", files));
        foreach (string file in files.Where(f => f != "stats.json")!)
            Assert.True(File.ReadAllBytes(Path.Combine(_cli.PathOf("one"), file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(_cli.PathOf("many"), file))), file);
        string[] one = File.ReadAllLines(_cli.PathOf("one/stats.json")), many = File.ReadAllLines(_cli.PathOf("many/stats.json"));
        Assert.Equal(one.Where(l => !l.Contains("\"seconds\"")), many.Where(l => !l.Contains("\"seconds\"")));
        // The corpus exercised what must be decided globally.
        using var stats = JsonDocument.Parse(File.ReadAllText(_cli.PathOf("one/stats.json")));
        string text = stats.RootElement.GetRawText();
        Assert.True(FindNumber(stats.RootElement, "exact_duplicates") > 0, text);
        Assert.True(FindNumber(stats.RootElement, "near_duplicates") > (exactOnly ? -1 : 0), text);
        Assert.True(FindNumber(stats.RootElement, "rejected_too_few_words") > 0, text);
    }

    [Fact]
    public void A_refused_folder_or_a_broken_corpus_stops_every_rank_with_one_line()
    {
        Corpus();
        Directory.CreateDirectory(_cli.PathOf("out"));
        File.WriteAllBytes(_cli.PathOf("out/other_train_000000.bin"), new byte[1024]);
        var (code, _, stderr) = MpiRun.Run(_cli, 2, false, "data", "prepare", "--source", "corpus.jsonl", "--out", "out", "--threads", "1");
        Assert.Equal(2, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.Contains("lathe:")).ToArray();
        Assert.True(lines.Length == 1, stderr);
        Assert.Contains("was made by another run", lines[0]);
        Assert.False(File.Exists(_cli.PathOf("out/stats.json")));

        // A corpus line every rank finds broken at the same point: one line from rank 0, exit 2.
        File.AppendAllText(_cli.PathOf("corpus.jsonl"), "{\"text\": oops\n");
        (code, _, stderr) = MpiRun.Run(_cli, 2, false, "data", "prepare", "--source", "corpus.jsonl", "--out", "fresh", "--threads", "1");
        Assert.Equal(2, code);
        lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.Contains("lathe:")).ToArray();
        Assert.True(lines.Length == 1, stderr);
        Assert.Contains("corpus.jsonl:701: invalid JSON", lines[0]);
    }

    // A number anywhere in the stats document, by name.
    static long FindNumber(JsonElement e, string name)
    {
        if (e.ValueKind == JsonValueKind.Object)
            foreach (var p in e.EnumerateObject())
            {
                if (p.Name == name && p.Value.ValueKind == JsonValueKind.Number) return p.Value.GetInt64();
                long inner = FindNumber(p.Value, name);
                if (inner >= 0) return inner;
            }
        return -1;
    }
}
