using System.IO.Compression;
using System.Text.Json;
using Lathe.Knowledge;
using Lathe.Tests.Data;

namespace Lathe.Tests.Knowledge.Corpus;

/// <summary>The shipped graph (data/kg/graph.jsonl.gz, written by scripts/data/make-kg.mjs) read line by line with
/// System.Text.Json, independently of the store's importer: the shared JSONL contract holds, the sizes the issue asks
/// for are met, and no invented name for unanswerable questions is a name the graph knows (by the C# NameKey, so the
/// script's JavaScript twin of it is checked too).</summary>
public class ShippedGraphTests
{
    static string DataFile(string name) => Path.Combine(Peers.RepoRoot, "data", "kg", name);

    static IEnumerable<(int Line, JsonElement Row)> Rows(string path)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        int line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            yield return (line, JsonDocument.Parse(text).RootElement.Clone());
        }
    }

    sealed record Graph(Dictionary<string, JsonElement> Relations, Dictionary<string, JsonElement> Entities, List<JsonElement> Facts);

    static readonly Lazy<Graph> Shipped = new(() =>
    {
        var graph = new Graph([], [], []);
        int stage = 0;   // relations, then entities, then facts
        foreach (var (line, row) in Rows(DataFile("graph.jsonl.gz")))
        {
            int kind = row.TryGetProperty("relation", out _) ? 0 : row.TryGetProperty("entity", out _) ? 1 : 2;
            Assert.True(kind >= stage, $"graph.jsonl.gz:{line}: out of order");
            stage = kind;
            if (kind == 0) Assert.True(graph.Relations.TryAdd(row.GetProperty("relation").GetString()!, row), $"line {line}: relation twice");
            else if (kind == 1) Assert.True(graph.Entities.TryAdd(row.GetProperty("entity").GetString()!, row), $"line {line}: entity twice");
            else graph.Facts.Add(row);
        }
        return graph;
    });

    [Fact]
    public void Graph_meets_the_issue_sizes_and_every_relation_can_be_spoken()
    {
        var g = Shipped.Value;
        Assert.True(g.Entities.Count >= 5000, $"{g.Entities.Count} entities");
        Assert.True(g.Facts.Count >= 30000, $"{g.Facts.Count} facts");
        Assert.True(new FileInfo(DataFile("graph.jsonl.gz")).Length < 3_000_000);
        foreach (var (id, r) in g.Relations)
        {
            Assert.Contains(r.GetProperty("object").GetString(), new[] { "entity", "string", "number", "date" });
            var statement = r.GetProperty("statement").GetString()!;
            Assert.True(statement.Contains("{s}") && statement.Contains("{o}"), id);
            var questions = r.GetProperty("questions").EnumerateArray().Select(q => q.GetString()!).ToList();
            Assert.True(questions.Count >= 3 && questions.All(q => q.Contains("{s}") && !q.Contains("{o}")), id);
        }
        foreach (var type in new[] { "country", "city", "element", "synset", "subdivision", "region", "language", "currency" })
            Assert.Contains(g.Entities.Values, e => e.GetProperty("type").GetString() == type);
    }

    [Fact]
    public void Readme_and_docs_state_the_counts_the_file_has()
    {
        var g = Shipped.Value;
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        string counts = $"{g.Relations.Count} relations, {g.Entities.Count.ToString("N0", culture)} entities, {g.Facts.Count.ToString("N0", culture)} facts";
        Assert.Contains(counts, File.ReadAllText(DataFile("README.md")).Replace("\n", " ").Replace(", then ", ", "));
        Assert.Contains(counts, File.ReadAllText(Path.Combine(Peers.RepoRoot, "docs", "KNOWLEDGE.md")).Replace("**", ""));
    }

    [Fact]
    public void Every_fact_names_known_entities_and_has_its_relations_object_kind()
    {
        var g = Shipped.Value;
        var seen = new HashSet<string>();
        foreach (var f in g.Facts)
        {
            string s = f.GetProperty("s").GetString()!, p = f.GetProperty("p").GetString()!;
            var o = f.GetProperty("o");
            Assert.True(g.Entities.ContainsKey(s), $"subject {s}");
            Assert.True(g.Relations.TryGetValue(p, out var relation), $"relation {p}");
            Assert.Matches(@"^[@a-z][-a-z/]*@\d+\.\d+\.\d+$", f.GetProperty("source").GetString()!);
            string kind = relation.GetProperty("object").GetString()!;
            switch (kind)
            {
                case "entity": Assert.True(o.ValueKind == JsonValueKind.String && g.Entities.ContainsKey(o.GetString()!), $"{s} {p} {o}"); break;
                case "number": Assert.Equal(JsonValueKind.Number, o.ValueKind); break;
                case "date": Assert.Matches(@"^-?\d{4}(-\d{2}(-\d{2})?)?$", o.GetString()!); break;
                default: Assert.True(o.ValueKind == JsonValueKind.String && Tidy(o.GetString()!), $"{s} {p} {o}"); break;
            }
            Assert.True(seen.Add($"{s}\t{p}\t{o.GetRawText()}"), $"duplicate fact {s} {p} {o}");
        }
        // Spot checks against the sources, as a reader would look them up.
        Assert.Contains(g.Facts, f => f.GetProperty("s").GetString() == "country/FRA" && f.GetProperty("p").GetString() == "capital"
                                      && f.GetProperty("o").GetString() == "city/paris-fra");
        Assert.Contains(g.Facts, f => f.GetProperty("s").GetString() == "element/Fe" && f.GetProperty("p").GetString() == "atomic_number"
                                      && f.GetProperty("o").GetDouble() == 26);
        Assert.Contains(g.Facts, f => f.GetProperty("s").GetString() == "subdivision/US-CA" && f.GetProperty("p").GetString() == "capital"
                                      && f.GetProperty("o").GetString() == "city/sacramento-usa");
    }

    // One line of text with single spaces and no ends to trim: a corpus paragraph or a prompt line stays one line.
    static bool Tidy(string text) =>
        text.Length > 0 && text.Trim() == text && !text.Contains("  ") && !text.Any(char.IsControl);

    [Fact]
    public void Aliases_are_distinct_from_the_name_and_each_other_by_name_key()
    {
        foreach (var (id, e) in Shipped.Value.Entities)
        {
            Assert.True(Tidy(e.GetProperty("name").GetString()!) && e.GetProperty("aliases").EnumerateArray().All(a => Tidy(a.GetString()!)), id);
            var keys = new List<string> { NameKey.Of(e.GetProperty("name").GetString()!) };
            keys.AddRange(e.GetProperty("aliases").EnumerateArray().Select(a => NameKey.Of(a.GetString()!)));
            Assert.True(keys.All(k => k.Length > 0) && keys.Distinct().Count() == keys.Count, id);
        }
    }

    [Fact]
    public void Invented_names_are_new_by_name_key_and_300_per_type()
    {
        var known = new HashSet<string>();
        foreach (var e in Shipped.Value.Entities.Values)
        {
            known.Add(NameKey.Of(e.GetProperty("name").GetString()!));
            foreach (var a in e.GetProperty("aliases").EnumerateArray()) known.Add(NameKey.Of(a.GetString()!));
        }
        var invented = Rows(DataFile("unknown-entities.jsonl.gz")).Select(r => r.Row).ToList();
        Assert.Equal(new Dictionary<string, int> { ["city"] = 300, ["country"] = 300, ["element"] = 300, ["synset"] = 300 },
            invented.GroupBy(r => r.GetProperty("type").GetString()!).ToDictionary(g => g.Key, g => g.Count()));
        var keys = invented.Select(r => NameKey.Of(r.GetProperty("name").GetString()!)).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.DoesNotContain(keys, k => known.Contains(k));
    }
}
