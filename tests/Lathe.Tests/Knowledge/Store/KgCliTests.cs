using System.CommandLine;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Knowledge.Store;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>`lathe kg import|export|query|stats` in-process on graphs written by the test: what each prints, that an
/// import is all-or-nothing (the graph file untouched by a bad one), and the one-line exit-2 errors.</summary>
[Collection("ConsoleCapture")]
public class KgCliTests : IDisposable
{
    readonly TempFolder _folder = new();
    public void Dispose() => _folder.Dispose();

    static (int Code, string Stdout, string Stderr) Lathe(params string[] args)
    {
        var root = new RootCommand("lathe") { KgVerb.Create() };
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (CliRunner.Run(root, args), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
    }

    static void AssertOneLineError((int Code, string Stdout, string Stderr) run, string what)
    {
        Assert.Equal(2, run.Code);
        Assert.Contains(what, run.Stderr);
        Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    const string Countries = """
        {"relation":"capital","label":"capital","object":"entity","functional":true,"statement":"The capital of {s} is {o}.","questions":["What is the capital of {s}?"]}
        {"relation":"borders","label":"borders","object":"entity","functional":false,"statement":"{s} borders {o}.","questions":[]}
        {"relation":"area_km2","label":"area","object":"number","functional":true,"statement":"The area of {s} is {o} km².","questions":[]}
        {"entity":"country/FRA","name":"France","aliases":["French Republic"],"type":"country"}
        {"entity":"country/ESP","name":"Spain","aliases":[],"type":"country"}
        {"entity":"city/paris","name":"Paris","aliases":[],"type":"city"}
        {"entity":"city/madrid","name":"Madrid","aliases":[],"type":"city"}
        {"s":"country/FRA","p":"capital","o":"city/paris","source":"hand"}
        {"s":"country/ESP","p":"capital","o":"city/madrid","source":"hand"}
        {"s":"country/FRA","p":"borders","o":"country/ESP","source":"hand"}
        {"s":"country/FRA","p":"area_km2","o":551695,"source":"census"}
        """;

    string Db => _folder.File("kg/graph.db");

    [Fact]
    public void Import_then_query_stats_and_export()
    {
        string data = _folder.Write("countries.jsonl", Countries);
        var import = Lathe("kg", "import", data, "--db", Db);
        Assert.True(import.Code == 0, import.Stderr);
        Assert.Contains("4 entities, 3 relations, 4 facts (4 added, 0 duplicates)", import.Stdout);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(Db)!, "*.tmp"));

        var query = Lathe("kg", "query", "?c capital ?city . ?c borders [Spain]", "--db", Db);
        Assert.Equal(0, query.Code);
        Assert.Equal("?c\t?city\ncountry/FRA (France)\tcity/paris (Paris)\n(1 row)\n", query.Stdout);

        var json = Lathe("kg", "query", "?c ?r ?o", "--db", Db, "--json", "--limit", "2");
        var lines = json.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using (var row = JsonDocument.Parse(lines[0]))
        {
            Assert.Equal("country/ESP", row.RootElement.GetProperty("c").GetProperty("value").GetString());
            Assert.Equal("relation", row.RootElement.GetProperty("r").GetProperty("kind").GetString());
        }

        var neighbours = Lathe("kg", "query", "--neighbours", "[french republic]", "--db", Db);
        Assert.Equal(0, neighbours.Code);
        Assert.Contains("1\tcountry/FRA (France)\tcapital\tcity/paris (Paris)\tThe capital of France is Paris.\n", neighbours.Stdout);
        Assert.Contains("(3 facts within 1 hop of country/FRA (France))", neighbours.Stdout);

        var path = Lathe("kg", "query", "--path", "Paris", "Madrid", "--db", Db);
        Assert.Equal(0, path.Code);
        Assert.Equal("(0 paths of at most 2 hops)\n", path.Stdout);
        var path2 = Lathe("kg", "query", "--path", "[Paris]", "country/ESP", "--db", Db);
        Assert.Equal("city/paris (Paris) <-capital- country/FRA (France) -borders-> country/ESP (Spain)\n(1 path of at most 2 hops)\n", path2.Stdout);

        var stats = Lathe("kg", "stats", "--db", Db, "--json");
        using (var s = JsonDocument.Parse(stats.Stdout))
        {
            Assert.Equal(4, s.RootElement.GetProperty("facts").GetInt64());
            Assert.Equal(2, s.RootElement.GetProperty("entities_by_type").GetProperty("city").GetInt64());
            Assert.Equal(3, s.RootElement.GetProperty("facts_by_source").GetProperty("hand").GetInt64());
            Assert.Equal(2, s.RootElement.GetProperty("facts_by_relation").GetProperty("capital").GetInt64());
        }
        var table = Lathe("kg", "stats", "--db", Db);
        Assert.Contains("facts by relation:\n  capital     ", table.Stdout);

        var export = Lathe("kg", "export", "--db", Db, "--out", _folder.File("out.nt"));
        Assert.Equal(0, export.Code);
        string nt = File.ReadAllText(_folder.File("out.nt"));
        Assert.Contains("<urn:lathe:entity:country/FRA> <urn:lathe:relation:area_km2> \"551695\"^^<http://www.w3.org/2001/XMLSchema#integer> .\n", nt);
        // The export imports into a second graph with the same facts.
        Assert.Equal(0, Lathe("kg", "import", _folder.File("out.nt"), "--db", _folder.File("copy.db")).Code);
        using var copy = KnowledgeStore.Open(_folder.File("copy.db"));
        Assert.Equal(4, copy.Match(null, null, null).Count);
    }

    [Fact]
    public void A_bad_import_leaves_the_graph_file_as_it_was()
    {
        Assert.Equal(0, Lathe("kg", "import", _folder.Write("countries.jsonl", Countries), "--db", Db).Code);
        byte[] before = File.ReadAllBytes(Db);
        string good = _folder.Write("more.csv", "subject,relation,object\ncountry/ESP,area_km2,505990\n");
        string bad = _folder.Write("bad.nt", "<urn:lathe:entity:country/ESP> <urn:lathe:relation:borders> <urn:lathe:entity:country/FRA>\n");
        var run = Lathe("kg", "import", good, bad, "--db", Db);
        AssertOneLineError(run, "bad.nt:1: malformed N-Triples: expected '.' after the object");
        Assert.Equal(before, File.ReadAllBytes(Db));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(Db)!, "*.tmp*"));
        // A new graph that fails is never created.
        AssertOneLineError(Lathe("kg", "import", bad, "--db", _folder.File("new.db")), "bad.nt:1");
        Assert.False(File.Exists(_folder.File("new.db")));
        // Both good files together commit.
        var ok = Lathe("kg", "import", good, "--db", Db, "--source", "atlas");
        Assert.Equal(0, ok.Code);
        using var store = KnowledgeStore.Open(Db);
        Assert.Equal("atlas", store.Match("country/ESP", "area_km2", null).Single().Source);
    }

    [Fact]
    public void Without_files_import_takes_the_shipped_graph()
    {
        // The shipped graph comes from helper B's data script; before it is in the repository the verb says so.
        string shipped = Path.Combine(global::Lathe.IO.RepoFiles.Root()!, "data", "kg", "graph.jsonl.gz");
        var run = Lathe("kg", "import", "--db", Db);
        if (!File.Exists(shipped))
        {
            AssertOneLineError(run, "no FILE given and no shipped graph at");
            return;
        }
        Assert.True(run.Code == 0, run.Stderr);
        using var store = KnowledgeStore.Open(Db, readOnly: true);
        var stats = store.Stats();
        Assert.True(stats.Entities > 1000 && stats.Facts > 10000, $"{stats.Entities} entities, {stats.Facts} facts");
        Assert.Contains("graph.jsonl.gz: ", run.Stderr);
    }

    [Fact]
    public void Json_output_keeps_accented_names_readable()
    {
        Assert.Equal(0, Lathe("kg", "import", _folder.Write("civ.jsonl", """
            {"relation":"capital","label":"capital","object":"entity","functional":true,"statement":"The capital of {s} is {o}.","questions":[]}
            {"entity":"country/CIV","name":"Côte d'Ivoire","aliases":["Ivory Coast"],"type":"country"}
            {"entity":"city/yamoussoukro","name":"Yamoussoukro","aliases":[],"type":"city"}
            {"s":"country/CIV","p":"capital","o":"city/yamoussoukro"}
            """), "--db", Db).Code);
        var run = Lathe("kg", "query", "[cote d'ivoire] capital ?c", "--db", Db, "--json");
        Assert.Equal("{\"c\":{\"kind\":\"entity\",\"value\":\"city/yamoussoukro\",\"name\":\"Yamoussoukro\"}}\n", run.Stdout);
        var neighbours = Lathe("kg", "query", "--neighbours", "[Ivory Coast]", "--db", Db, "--json");
        Assert.Contains("\"text\":\"The capital of Côte d'Ivoire is Yamoussoukro.\"", neighbours.Stdout);
    }

    [Fact]
    public void Errors_are_one_line_with_exit_code_2()
    {
        AssertOneLineError(Lathe("kg", "stats", "--db", _folder.File("none.db")), "none.db: no such graph file");
        File.WriteAllText(_folder.File("junk.db"), new string('j', 4096));
        AssertOneLineError(Lathe("kg", "query", "?a ?b ?c", "--db", _folder.File("junk.db")), "junk.db: not a Lathe graph");
        AssertOneLineError(Lathe("kg", "import", _folder.File("missing.jsonl"), "--db", Db), "missing.jsonl: no such file");
        AssertOneLineError(Lathe("kg", "import", _folder.Write("x.txt", "hi"), "--db", Db), "unknown graph format");
        Assert.Equal(0, Lathe("kg", "import", _folder.Write("countries.jsonl", Countries), "--db", Db).Code);
        AssertOneLineError(Lathe("kg", "query", "?c population ?n", "--db", Db), "unknown relation 'population'");
        AssertOneLineError(Lathe("kg", "query", "?c capital [Atlantis]", "--db", Db), "no entity is named 'Atlantis'");
        AssertOneLineError(Lathe("kg", "query", "--neighbours", "[Atlantis]", "--db", Db), "--neighbours: no entity is named 'Atlantis'");
        AssertOneLineError(Lathe("kg", "query", "--db", Db), "give exactly one of PATTERNS");
        AssertOneLineError(Lathe("kg", "query", "?a ?b ?c", "--limit", "0", "--db", Db), "--limit 0 must be positive");
        AssertOneLineError(Lathe("kg", "query", "--neighbours", "[France]", "--hops", "3", "--db", Db), "--hops 3 must be 1 or 2");
        AssertOneLineError(Lathe("kg", "export", "--out", _folder.File("x.ttl"), "--db", Db), "must end in .nt");
    }
}
