using System.Text;
using Lathe.Knowledge;
using Lathe.Knowledge.Corpus;
using Lathe.Tests.Data;

namespace Lathe.Tests.Knowledge.Corpus;

public class KnowledgeCorpusTests
{
    static KgRelation Relation(string id, TermKind kind, string statement) => new(id, id, kind, false, statement, ["{s}?", "{s}??", "{s}???"]);

    /// <summary>France, Spain and Paris with capital, borders, area and country facts.</summary>
    static InMemoryGraph SmallGraph() => new InMemoryGraph()
        .AddRelation(Relation("capital", TermKind.Entity, "The capital of {s} is {o}."))
        .AddRelation(Relation("borders", TermKind.Entity, "{s} borders {o}."))
        .AddRelation(Relation("area_km2", TermKind.Number, "The area of {s} is {o} square kilometres."))
        .AddRelation(Relation("country", TermKind.Entity, "{s} is located in {o}."))
        .AddEntity("country/FRA", "France", "country", "French Republic")
        .AddEntity("country/ESP", "Spain", "country")
        .AddEntity("city/paris-fra", "Paris", "city")
        .Add("country/FRA", "capital", Term.Entity("city/paris-fra"))
        .Add("country/FRA", "borders", Term.Entity("country/ESP"))
        .Add("country/FRA", "area_km2", Term.Number(551695))
        .Add("city/paris-fra", "country", Term.Entity("country/FRA"));

    /// <summary>A graph of <paramref name="subjects"/> subjects with 1–3 facts each over two relations.</summary>
    static InMemoryGraph WideGraph(int subjects)
    {
        var graph = new InMemoryGraph()
            .AddRelation(Relation("likes", TermKind.Entity, "{s} likes {o}."))
            .AddRelation(Relation("age", TermKind.Number, "{s} is {o} years old."));
        for (int i = 0; i < subjects; i++) graph.AddEntity($"person/{i:D3}", $"Person {i}", "person");
        for (int i = 0; i < subjects; i++)
        {
            graph.Add($"person/{i:D3}", "age", Term.Number(20 + i));
            for (int k = 1; k <= i % 3; k++) graph.Add($"person/{i:D3}", "likes", Term.Entity($"person/{(i + k) % subjects:D3}"));
        }
        return graph;
    }

    static string[] ParagraphsOf(string text) => text.TrimEnd('\n').Split("\n\n");

    [Fact]
    public void One_subject_reads_as_its_sentences_in_relation_order()
    {
        var graph = SmallGraph();
        var text = KnowledgeCorpus.Text(graph, new KnowledgeCorpusOptions { Relations = new HashSet<string> { "capital", "borders", "area_km2" } });
        // Facts come by relation id (area_km2 < borders < capital); the number is written without a decimal point.
        Assert.Equal("The area of France is 551695 square kilometres. France borders Spain. The capital of France is Paris.\n", text);
    }

    [Fact]
    public void Paragraphs_are_one_per_subject_separated_by_a_blank_line()
    {
        var text = KnowledgeCorpus.Text(SmallGraph(), new KnowledgeCorpusOptions());
        const string france = "The area of France is 551695 square kilometres. France borders Spain. The capital of France is Paris.";
        const string paris = "Paris is located in France.";
        Assert.True(text == $"{france}\n\n{paris}\n" || text == $"{paris}\n\n{france}\n", text);
        // Spain has no facts of its own, so no paragraph.
        Assert.Equal(2, ParagraphsOf(text).Length);
    }

    [Fact]
    public void Same_seed_gives_the_same_text_and_another_seed_another_order()
    {
        var graph = WideGraph(40);
        var a = KnowledgeCorpus.Text(graph, new KnowledgeCorpusOptions { Seed = 7, Repeat = 2 });
        var b = KnowledgeCorpus.Text(graph, new KnowledgeCorpusOptions { Seed = 7, Repeat = 2 });
        var c = KnowledgeCorpus.Text(graph, new KnowledgeCorpusOptions { Seed = 8, Repeat = 2 });
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(ParagraphsOf(a).Select(p => SplitSentences(p).Length).Sum(), ParagraphsOf(c).Select(p => SplitSentences(p).Length).Sum());
    }

    [Fact]
    public void Every_pass_holds_every_fact_once_in_a_new_order()
    {
        const int subjects = 40, repeat = 3;
        var graph = WideGraph(subjects);
        var once = KnowledgeCorpus.Paragraphs(graph, new KnowledgeCorpusOptions());
        var text = KnowledgeCorpus.Text(graph, new KnowledgeCorpusOptions { Seed = 3, Repeat = repeat });
        var paragraphs = ParagraphsOf(text);
        Assert.Equal(subjects * repeat, paragraphs.Length);
        // Expected multiset of sentences per subject, from the graph directly (not through the corpus).
        var expected = Enumerable.Range(0, subjects).Select(i => graph.Match($"person/{i:D3}", null, null)
            .Select(f => FactText.Statement(graph, f)).Order(StringComparer.Ordinal).ToArray()).ToList();
        var orders = new List<string>();
        for (int pass = 0; pass < repeat; pass++)
        {
            var block = paragraphs.Skip(pass * subjects).Take(subjects).ToList();
            var got = block.Select(p => SplitSentences(p).Order(StringComparer.Ordinal).ToArray())
                .OrderBy(s => s[0], StringComparer.Ordinal).ToList();
            var want = expected.OrderBy(s => s[0], StringComparer.Ordinal).ToList();
            Assert.Equal(want.Count, got.Count);
            for (int i = 0; i < want.Count; i++) Assert.Equal(want[i], got[i]);
            orders.Add(string.Join("|", block.Select(p => SplitSentences(p).Order(StringComparer.Ordinal).First())));
            if (pass == 0) Assert.Equal(once.Select(p => string.Join(' ', p)).Order(StringComparer.Ordinal), block.Order(StringComparer.Ordinal));
        }
        Assert.Equal(repeat, orders.Distinct().Count());
    }

    // Sentences are joined by one space after their full stop (no sentence here has ". " inside it).
    static string[] SplitSentences(string paragraph)
    {
        var parts = paragraph.Split(". ");
        return parts.Select((s, i) => i < parts.Length - 1 ? s + "." : s).ToArray();
    }

    [Fact]
    public void Relation_filter_keeps_only_those_relations_and_names_an_unknown_one()
    {
        var graph = SmallGraph();
        Assert.Equal("France borders Spain.\n", KnowledgeCorpus.Text(graph, new KnowledgeCorpusOptions { Relations = new HashSet<string> { "borders" } }));
        var e = Assert.Throws<ArgumentException>(() => KnowledgeCorpus.Text(graph, new KnowledgeCorpusOptions { Relations = new HashSet<string> { "borders", "mayor" } }));
        Assert.Contains("'mayor'", e.Message);
    }

    [Fact]
    public void Held_out_pairs_are_left_out_with_every_object_and_counted()
    {
        var graph = SmallGraph().Add("country/FRA", "borders", Term.Entity("country/ITA")).AddEntity("country/ITA", "Italy", "country");
        using var dir = new TempDir();
        var stats = KnowledgeCorpus.Write(graph, dir.File("kg.txt"), new KnowledgeCorpusOptions
        {
            Exclude = new HashSet<FactKey> { new("country/FRA", "borders"), new("city/paris-fra", "country") },
        });
        Assert.Equal("The area of France is 551695 square kilometres. The capital of France is Paris.\n", File.ReadAllText(dir.File("kg.txt")));
        Assert.Equal(new KnowledgeCorpusStats(1, 2, 3, 1, 80), stats);
    }

    [Fact]
    public void Held_out_file_is_read_and_a_bad_line_is_named()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("held.jsonl"), "{\"s\":\"country/FRA\",\"p\":\"capital\",\"o\":\"city/paris-fra\"}\n\n{\"s\":\"country/ESP\",\"p\":\"borders\"}\n");
        Assert.Equal(new HashSet<FactKey> { new("country/FRA", "capital"), new("country/ESP", "borders") }, HeldOutFacts.Read(dir.File("held.jsonl")));
        File.WriteAllText(dir.File("bad.jsonl"), "{\"s\":\"country/FRA\",\"p\":\"capital\"}\n{\"s\":\"country/ESP\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => HeldOutFacts.Read(dir.File("bad.jsonl")));
        Assert.Equal($"{dir.File("bad.jsonl")}:2: field \"p\" must be a non-empty string", e.Message);
        File.WriteAllText(dir.File("broken.jsonl"), "{\"s\":\n");
        Assert.StartsWith($"{dir.File("broken.jsonl")}:1: not JSON", Assert.Throws<InvalidDataException>(() => HeldOutFacts.Read(dir.File("broken.jsonl"))).Message);
    }

    [Fact]
    public void Write_is_utf8_without_bom_and_atomic()
    {
        var graph = SmallGraph().AddEntity("country/CIV", "Côte d'Ivoire", "country").Add("country/CIV", "borders", Term.Entity("country/ESP"));
        using var dir = new TempDir();
        string path = dir.File("kg.txt");
        File.WriteAllText(path, "old corpus\n");
        KnowledgeCorpus.Write(graph, path, new KnowledgeCorpusOptions { Relations = new HashSet<string> { "borders" } });
        var bytes = File.ReadAllBytes(path);
        Assert.NotEqual(0xEF, bytes[0]);
        Assert.Equal(KnowledgeCorpus.Text(graph, new KnowledgeCorpusOptions { Relations = new HashSet<string> { "borders" } }), Encoding.UTF8.GetString(bytes));
        Assert.Contains("Côte d'Ivoire borders Spain.", Encoding.UTF8.GetString(bytes));

        // A fact the graph cannot verbalise (its relation is unknown) fails the write: the old file stays, no temp file.
        graph.Add("country/ESP", "mayor", Term.Text("nobody"));
        Assert.Throws<ArgumentException>(() => KnowledgeCorpus.Write(graph, path, new KnowledgeCorpusOptions()));
        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Repeat_below_one_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => KnowledgeCorpus.Text(SmallGraph(), new KnowledgeCorpusOptions { Repeat = 0 }));
        Assert.Equal("repeat: 0 must be 1 or more", e.Message);
    }
}
