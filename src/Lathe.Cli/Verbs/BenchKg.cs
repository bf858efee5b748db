using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Lathe.Knowledge;
using Lathe.Knowledge.Store;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench kg`: the triple store's speed. A synthetic graph of N facts (deterministic: the formulas in
/// <see cref="WriteSyntheticJsonl"/>, which scripts/bench/kg-peer.py repeats for its peers) is written as JSONL and
/// imported into a fresh SQLite file in one transaction (parsing included), then 1-hop lookups are timed: Match by
/// subject, Match by relation and object, and an entity's 1-hop neighbourhood (outgoing and incoming), each per second
/// over subjects spread across the graph. JSON line last.</summary>
internal static class BenchKg
{
    public const int Relations = 8;   // r0..r5 entity objects, r6 numbers, r7 strings

    public static Command Create()
    {
        var triples = new Option<int>("--triples") { Description = "Facts in the synthetic graph.", DefaultValueFactory = _ => 100_000 };
        var seconds = new Option<double>("--seconds") { Description = "Seconds per timed query kind.", DefaultValueFactory = _ => 2.0 };
        var keep = new Option<string?>("--keep") { Description = "Keep the synthetic JSONL here (for the peers) instead of a temporary file." };
        var command = new Command("kg", "Triple store: import N synthetic facts, then 1-hop queries per second; JSON line last.") { triples, seconds, keep };
        command.SetAction(r => Run(r.GetValue(triples), r.GetValue(seconds), r.GetValue(keep)));
        return command;
    }

    /// <summary>The synthetic graph: E = max(10, N/10) entities <c>e/i</c> named "Entity i" (alias "E i", type
    /// <c>t{i%5}</c>); fact k (0 ≤ k &lt; N) has subject s = k mod E, round q = k div E, relation r = q mod 8, and object
    /// <c>e/((s·7919 + q + 1) mod E)</c> for r &lt; 6, the number ((k·31) mod 100000)/10 for r6, the string "v{k}" for r7.</summary>
    public static void WriteSyntheticJsonl(TextWriter writer, int triples)
    {
        int entities = Math.Max(10, triples / 10);
        for (int r = 0; r < Relations; r++)
        {
            string kind = r < 6 ? "entity" : r == 6 ? "number" : "string";
            writer.Write($"{{\"relation\":\"r{r}\",\"label\":\"r{r}\",\"object\":\"{kind}\",\"functional\":false,\"statement\":\"{{s}} r{r} {{o}}.\",\"questions\":[\"What is the r{r} of {{s}}?\"]}}\n");
        }
        for (int i = 0; i < entities; i++)
            writer.Write($"{{\"entity\":\"e/{i}\",\"name\":\"Entity {i}\",\"aliases\":[\"E {i}\"],\"type\":\"t{i % 5}\"}}\n");
        for (long k = 0; k < triples; k++)
        {
            long s = k % entities, q = k / entities;
            int r = (int)(q % Relations);
            string o = r < 6 ? $"\"e/{(s * 7919 + q + 1) % entities}\""
                : r == 6 ? ((k * 31 % 100000) / 10.0).ToString("R", CultureInfo.InvariantCulture)
                : $"\"v{k}\"";
            writer.Write($"{{\"s\":\"e/{s}\",\"p\":\"r{r}\",\"o\":{o},\"source\":\"synthetic\"}}\n");
        }
    }

    static int Run(int triples, double seconds, string? keep)
    {
        if (triples <= 0) throw new UserInputException($"bench kg: --triples {triples} must be positive");
        if (seconds <= 0) throw new UserInputException($"bench kg: --seconds {seconds} must be positive");
        string folder = Path.Combine(Path.GetTempPath(), "lathe-bench-kg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string jsonl = keep ?? Path.Combine(folder, "synthetic.jsonl");
            using (var writer = new StreamWriter(jsonl, false, new UTF8Encoding(false), 1 << 16)) WriteSyntheticJsonl(writer, triples);
            string db = Path.Combine(folder, "graph.db");
            long start = Stopwatch.GetTimestamp();
            ImportCounts counts;
            using (var fresh = KnowledgeStore.Create(db)) counts = fresh.Import(jsonl);
            double importSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            Console.Error.WriteLine($"bench kg: imported {counts.Facts} facts ({counts.Duplicates} duplicates), {counts.Entities} entities in {importSeconds:F2} s");
            long dbBytes = new FileInfo(db).Length;

            using var store = KnowledgeStore.Open(db, readOnly: true);
            int entities = Math.Max(10, triples / 10);
            // Subjects spread over the graph by a multiplicative step (the same sequence in the peer script).
            string Subject(long i) => $"e/{i * 104729 % entities}";
            var (bySubject, rowsS) = Rate(seconds, i => store.Match(Subject(i), null, null).Count);
            var (byObject, rowsO) = Rate(seconds, i => store.Match(null, $"r{i % 6}", Term.Entity(Subject(i))).Count);
            var (neighbourhood, rowsN) = Rate(seconds, i => GraphPaths.Neighbourhood(store, Subject(i)).Count);
            Console.Error.WriteLine($"bench kg: {bySubject:F0} match(s)/s ({rowsS:F1} rows), {byObject:F0} match(p,o)/s ({rowsO:F1} rows), {neighbourhood:F0} neighbourhoods/s ({rowsN:F1} facts)");
            BenchSupport.PrintJson(("bench", "kg"), ("triples", triples), ("facts", counts.Facts), ("duplicates", counts.Duplicates), ("entities", counts.Entities),
                ("import_s", importSeconds), ("import_triples_per_s", counts.Facts / importSeconds), ("db_mb", dbBytes / 1048576.0),
                ("match_s_per_s", bySubject), ("match_s_rows", rowsS), ("match_po_per_s", byObject), ("match_po_rows", rowsO),
                ("neighbourhood_per_s", neighbourhood), ("neighbourhood_facts", rowsN), ("peak_rss_mb", BenchSupport.PeakRssMb()));
        }
        finally { try { Directory.Delete(folder, true); } catch (IOException) { } }
        return 0;
    }

    // Queries per second over `seconds` after a short warm-up, and the mean rows each returned.
    static (double PerSecond, double MeanRows) Rate(double seconds, Func<long, int> query)
    {
        for (long i = 0; i < 200; i++) query(i);
        long rows = 0, count = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed.TotalSeconds < seconds)
            for (int j = 0; j < 100; j++) rows += query(count++);
        return (count / watch.Elapsed.TotalSeconds, rows / (double)count);
    }
}
