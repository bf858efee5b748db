using System.CommandLine;
using System.IO.Compression;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Knowledge;
using Lathe.Knowledge.Corpus;
using Lathe.Knowledge.Store;
using Lathe.Tests.Cli;
using Lathe.Tests.Data;

namespace Lathe.Tests.Knowledge.Corpus;

/// <summary>`lathe kg verbalise` in process, on SQLite graphs built by the store's JSONL import: the text equals the
/// corpus of the same facts held in an <see cref="InMemoryGraph"/>, bad arguments are one line and exit 2.</summary>
[Collection(nameof(ConsoleCapture))]
public class KgVerbaliseCliTests
{
    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var root = new Command("lathe") { new Command("kg") { KgVerbaliseVerb.Create() } };
        using var capture = new ConsoleCapture();
        int code = CliRunner.Run(root, ["kg", "verbalise", .. args]);
        return (code, capture.Stdout, capture.Stderr);
    }

    const string Jsonl = """
        {"relation":"capital","label":"capital","object":"entity","functional":true,"statement":"The capital of {s} is {o}.","questions":["What is the capital of {s}?","Which city is the capital of {s}?","Name the capital of {s}."]}
        {"relation":"area_km2","label":"area","object":"number","functional":true,"statement":"The area of {s} is {o} square kilometres.","questions":["a {s}?","b {s}?","c {s}?"]}
        {"relation":"borders","label":"borders","object":"entity","functional":false,"statement":"{s} borders {o}.","questions":["a {s}?","b {s}?","c {s}?"]}
        {"entity":"country/FRA","name":"France","aliases":["French Republic"],"type":"country"}
        {"entity":"country/ESP","name":"Spain","aliases":[],"type":"country"}
        {"entity":"city/paris-fra","name":"Paris","aliases":[],"type":"city"}
        {"entity":"city/madrid-esp","name":"Madrid","aliases":[],"type":"city"}
        {"s":"country/FRA","p":"capital","o":"city/paris-fra","source":"test"}
        {"s":"country/FRA","p":"area_km2","o":551695,"source":"test"}
        {"s":"country/FRA","p":"borders","o":"country/ESP","source":"test"}
        {"s":"country/ESP","p":"capital","o":"city/madrid-esp","source":"test"}
        {"s":"country/ESP","p":"area_km2","o":505992.5,"source":"test"}
        {"s":"country/ESP","p":"borders","o":"country/FRA","source":"test"}
        """;

    static string Store(TempDir dir, string jsonlPath)
    {
        string db = dir.File("graph.db");
        using var store = KnowledgeStore.Create(db);
        store.Import(jsonlPath);
        return db;
    }

    [Fact]
    public void Verbalise_writes_the_same_text_as_the_in_memory_oracle()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("g.jsonl"), Jsonl);
        string db = Store(dir, dir.File("g.jsonl"));
        var (code, stdout, stderr) = Run("--db", db, "--out", dir.File("kg.txt"), "--seed", "5", "--repeat", "3", "--json");
        Assert.True(code == 0, stderr);
        var memory = new InMemoryGraph()
            .AddRelation(new KgRelation("capital", "capital", TermKind.Entity, true, "The capital of {s} is {o}.", ["q {s}"]))
            .AddRelation(new KgRelation("area_km2", "area", TermKind.Number, true, "The area of {s} is {o} square kilometres.", ["q {s}"]))
            .AddRelation(new KgRelation("borders", "borders", TermKind.Entity, false, "{s} borders {o}.", ["q {s}"]))
            .AddEntity("country/FRA", "France", "country").AddEntity("country/ESP", "Spain", "country")
            .AddEntity("city/paris-fra", "Paris", "city").AddEntity("city/madrid-esp", "Madrid", "city")
            .Add("country/FRA", "capital", Term.Entity("city/paris-fra")).Add("country/FRA", "area_km2", Term.Number(551695))
            .Add("country/FRA", "borders", Term.Entity("country/ESP")).Add("country/ESP", "capital", Term.Entity("city/madrid-esp"))
            .Add("country/ESP", "area_km2", Term.Number(505992.5)).Add("country/ESP", "borders", Term.Entity("country/FRA"));
        string expected = KnowledgeCorpus.Text(memory, new KnowledgeCorpusOptions { Seed = 5, Repeat = 3 });
        Assert.Equal(expected, File.ReadAllText(dir.File("kg.txt")));
        Assert.Contains("The area of Spain is 505992.5 square kilometres.", expected);
        var report = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal(2, report.GetProperty("paragraphs").GetInt32());
        Assert.Equal(6, report.GetProperty("facts").GetInt32());
        Assert.Equal(3, report.GetProperty("repeat").GetInt32());
        Assert.Equal(expected.Length, report.GetProperty("characters").GetInt64());
    }

    [Fact]
    public void Relations_and_exclude_filter_the_facts()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("g.jsonl"), Jsonl);
        string db = Store(dir, dir.File("g.jsonl"));
        File.WriteAllText(dir.File("held.jsonl"), "{\"s\":\"country/ESP\",\"p\":\"capital\"}\n");
        var (code, stdout, stderr) = Run("--db", db, "--out", dir.File("kg.txt"), "--relations", "capital, borders", "--exclude", dir.File("held.jsonl"), "--json");
        Assert.True(code == 0, stderr);
        var text = File.ReadAllText(dir.File("kg.txt"));
        var paragraphs = text.TrimEnd('\n').Split("\n\n").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["France borders Spain. The capital of France is Paris.", "Spain borders France."], paragraphs);
        var report = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal(1, report.GetProperty("excluded").GetInt32());
        Assert.Equal(1, report.GetProperty("held_out_pairs").GetInt32());
    }

    [Theory]
    [InlineData("--relations", "capital,mayor", "kg verbalise: --relations: unknown relation 'mayor'")]
    [InlineData("--repeat", "0", "kg verbalise: --repeat 0 must be 1 or more")]
    public void Bad_arguments_are_one_line_and_exit_2(string option, string value, string message)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("g.jsonl"), Jsonl);
        string db = Store(dir, dir.File("g.jsonl"));
        var (code, _, stderr) = Run("--db", db, "--out", dir.File("kg.txt"), option, value);
        Assert.Equal(2, code);
        Assert.Equal($"lathe: {message}", stderr.Trim());
        Assert.False(File.Exists(dir.File("kg.txt")));
    }

    [Fact]
    public void Bad_files_are_one_line_and_exit_2()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("g.jsonl"), Jsonl);
        string db = Store(dir, dir.File("g.jsonl"));
        File.WriteAllText(dir.File("held.jsonl"), "{\"s\":\"country/ESP\",\"p\":\"capital\"}\n{\"p\":\"capital\"}\n");
        var (code, _, stderr) = Run("--db", db, "--out", dir.File("kg.txt"), "--exclude", dir.File("held.jsonl"));
        Assert.Equal(2, code);
        Assert.Equal($"lathe: {dir.File("held.jsonl")}:2: field \"s\" must be a non-empty string", stderr.Trim());
        File.WriteAllText(dir.File("held2.jsonl"), "{\"s\":\"country/ESP\",\"p\":\"mayor\"}\n");
        (code, _, stderr) = Run("--db", db, "--out", dir.File("kg.txt"), "--exclude", dir.File("held2.jsonl"));
        Assert.Equal(2, code);
        Assert.Equal($"lathe: kg verbalise: --exclude {dir.File("held2.jsonl")}: unknown relation 'mayor'", stderr.Trim());
        (code, _, stderr) = Run("--db", dir.File("missing.db"), "--out", dir.File("kg.txt"));
        Assert.Equal(2, code);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("missing.db", stderr);
        Assert.False(File.Exists(dir.File("kg.txt")));
    }

    /// <summary>The shipped graph end to end: imported into a store and verbalised, every fact of the file appears as
    /// one sentence — counted from the JSONL independently of the store and the corpus.</summary>
    [Fact]
    public void Shipped_graph_verbalises_every_fact_once()
    {
        using var dir = new TempDir();
        string shipped = Path.Combine(Peers.RepoRoot, "data", "kg", "graph.jsonl.gz");
        string db = Store(dir, shipped);
        int facts = 0;
        var subjects = new HashSet<string>();
        using (var reader = new StreamReader(new GZipStream(File.OpenRead(shipped), CompressionMode.Decompress)))
            while (reader.ReadLine() is { } line)
            {
                var row = JsonDocument.Parse(line).RootElement;
                if (row.TryGetProperty("s", out var s)) { facts++; subjects.Add(s.GetString()!); }
            }
        var (code, stdout, stderr) = Run("--db", db, "--out", dir.File("kg.txt"), "--json");
        Assert.True(code == 0, stderr);
        var report = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal(facts, report.GetProperty("facts").GetInt32());
        Assert.Equal(subjects.Count, report.GetProperty("paragraphs").GetInt32());
        var text = File.ReadAllText(dir.File("kg.txt"));
        Assert.Equal(subjects.Count, text.TrimEnd('\n').Split("\n\n").Length);
        Assert.Contains("The capital of France is Paris.", text);
        Assert.Contains("The atomic number of Iron is 26.", text);
        Assert.DoesNotContain("{s}", text);
        Assert.DoesNotContain("{o}", text);
    }
}
