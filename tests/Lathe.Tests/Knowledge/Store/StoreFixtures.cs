using System.Globalization;
using System.Text;
using System.Text.Json;
using Lathe.Knowledge;
using Lathe.Knowledge.Store;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>Seeded random graphs written as JSONL (the store's input) and held in an <see cref="InMemoryGraph"/> (the
/// oracle), plus temporary folders for graph files.</summary>
internal static class StoreFixtures
{
    static readonly string[] Names = ["Paris", "Côte d'Ivoire", "São Tomé", "Springfield", "Zürich", "New York", "Åland", "Georgia"];

    public static readonly KgRelation[] Relations =
    [
        new("capital", "capital", TermKind.Entity, true, "The capital of {s} is {o}.", ["What is the capital of {s}?"]),
        new("borders", "borders", TermKind.Entity, false, "{s} borders {o}.", ["Which countries border {s}?"]),
        new("motto", "motto", TermKind.String, true, "The motto of {s} is \"{o}\".", []),
        new("area_km2", "area", TermKind.Number, true, "The area of {s} is {o} km².", ["How large is {s}?"]),
        new("founded", "founded", TermKind.Date, true, "{s} was founded in {o}.", []),
    ];

    /// <summary>A graph of <paramref name="entities"/> entities and about <paramref name="facts"/> facts, with
    /// repeated names (ambiguity), accented aliases, strings with quotes, backslashes and line breaks, numbers and dates.</summary>
    public static (InMemoryGraph Graph, string Jsonl) RandomGraph(int seed, int entities = 40, int facts = 400)
    {
        var random = new Random(seed);
        var graph = new InMemoryGraph();
        var jsonl = new StringBuilder();
        foreach (var r in Relations)
        {
            graph.AddRelation(r);
            jsonl.AppendLine(JsonSerializer.Serialize(new
            {
                relation = r.Id, label = r.Label, @object = r.ObjectKind.ToString().ToLowerInvariant(), functional = r.Functional,
                statement = r.Statement, questions = r.Questions,
            }));
        }
        var ids = new List<string>();
        for (int i = 0; i < entities; i++)
        {
            string id = $"{(i % 3 == 0 ? "city" : "country")}/e{i:D3}";
            string name = Names[random.Next(Names.Length)] + (random.Next(3) == 0 ? "" : $" {i}");
            string[] aliases = random.Next(2) == 0 ? [] : [$"Alias-{i}", Names[random.Next(Names.Length)].ToUpperInvariant()];
            string type = i % 3 == 0 ? "city" : "country";
            graph.AddEntity(id, name, type, aliases);
            ids.Add(id);
            jsonl.AppendLine(JsonSerializer.Serialize(new { entity = id, name, aliases, type }));
        }
        for (int i = 0; i < facts; i++)
        {
            var r = Relations[random.Next(Relations.Length)];
            string s = ids[random.Next(ids.Count)];
            Term o;
            object jsonObject;
            switch (r.ObjectKind)
            {
                case TermKind.Entity: { string id = ids[random.Next(ids.Count)]; o = Term.Entity(id); jsonObject = id; break; }
                case TermKind.String: { string t = $"Say \"{random.Next(20)}\"\\ and\nmore é{random.Next(5)}"; o = Term.Text(t); jsonObject = t; break; }
                case TermKind.Number: { double v = random.Next(4) == 0 ? random.Next(1000) : Math.Round(random.NextDouble() * 1000, 3); o = Term.Number(v); jsonObject = v; break; }
                default: { string d = random.Next(2) == 0 ? $"{1500 + random.Next(500)}" : $"19{random.Next(10, 99)}-0{random.Next(1, 9)}-1{random.Next(0, 9)}"; o = Term.Date(d); jsonObject = d; break; }
            }
            graph.Add(s, r.Id, o, "random");
            jsonl.AppendLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["s"] = s, ["p"] = r.Id, ["o"] = jsonObject, ["source"] = "random" }));
        }
        return (graph, jsonl.ToString());
    }

    /// <summary>Everything a graph holds, as text lines in a fixed order (for comparing two graphs).</summary>
    public static List<string> Dump(IKnowledgeGraph graph, bool withSources = true)
    {
        var lines = new List<string>();
        foreach (var e in graph.Entities()) lines.Add($"E {e.Id} | {e.Name} | {e.Type} | {string.Join(" ; ", e.Aliases)}");
        foreach (var t in graph.Match(null, null, null)) lines.Add($"T {t.Subject} {t.Relation} {t.Object}" + (withSources ? $" @{t.Source}" : ""));
        return lines;
    }

    public static string Invariant(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>A temporary folder deleted at the end of a test.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lathe-kg-" + Guid.NewGuid().ToString("N"));
    public TempFolder() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public string Write(string name, string text) { System.IO.File.WriteAllText(File(name), text); return File(name); }
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
